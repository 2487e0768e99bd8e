#!/usr/bin/env bash
# Faults found on real and hostile inputs: each behaves correctly (the right
# result, or a clear error with a distinct exit code), and no file is lost.
source "$(dirname "$0")/lib.sh" "$1"
cd "$WORK"
data="${ISOTOPE_DATA_DIR:?}"

"$ISOTOPE" keygen -o k.key -q >/dev/null || fail keygen
"$ISOTOPE" signer new -o s.key -q >/dev/null || fail "signer new"
"$ISOTOPE" generate -k k.key -n 80 --seed 3 -q -o a.txt || fail generate
"$ISOTOPE" generate -k k.key --prompts "$data/prompts.jsonl" -n 30 -q -o suspect.jsonl || fail "generate --prompts"
: >empty.txt

# Empty texts are results (N = 0, p = 1), in a batch and in JSONL.
expect_rc 0 "$ISOTOPE" detect -k k.key --json a.txt empty.txt a.txt
[ "$(wc -l <"$WORK/out")" -eq 3 ] || die "an empty text in a batch did not give three results"
expect_in "$WORK/out" '"input":"empty.txt".*|"scored":0'
python3 - "$WORK/out" <<'PY' || die "empty text result"
import json, sys
rs = [json.loads(l) for l in open(sys.argv[1])]
assert rs[1]["scored"] == 0 and rs[1]["log10_p"] == 0.0 and rs[1]["watermarked"] is False
assert rs[0]["watermarked"] and rs[2]["watermarked"]
PY
printf '{"prompt": "hi", "response": ""}\n{"text": "%s"}\n' "$(tr -d '\n"\\' <a.txt)" >e.jsonl
expect_rc 0 "$ISOTOPE" detect -k k.key --jsonl --json e.jsonl
[ "$(wc -l <"$WORK/out")" -eq 2 ] || die "an empty JSONL response stopped the run"

# -o never replaces a key file, a link, a pipe; no temporary file is left.
cp k.key k.copy
expect_rc 3 "$ISOTOPE" generate -k k.key -n 5 -q -o k.key
cmp -s k.key k.copy || die "generate -o replaced the key file"
expect_in "$WORK/err" "key file"
expect_rc 3 "$ISOTOPE" audit -k k.key --suspect suspect.jsonl --control 0 -q -o s.key
head -1 s.key | grep -q "isotope-signing-key" || die "audit -o replaced the signing key"
mkfifo fifo
expect_rc 3 "$ISOTOPE" generate -k k.key -n 5 -q -o fifo
[ -p fifo ] || die "the FIFO was replaced by a regular file"
ln -s a.txt link.txt
expect_rc 3 "$ISOTOPE" generate -k k.key -n 5 -q -o link.txt
[ -L link.txt ] || die "the symbolic link was replaced"
expect_rc 3 "$ISOTOPE" detect -k k.key a.txt --report k.key --sign s.key
cmp -s k.key k.copy || die "detect --report replaced the key file"
ls -A | grep -q isotope-tmp && die "a temporary file was left behind"

# One input-file policy: a device or a pipe is refused at once (no hang, no
# reading /dev/zero until memory runs out). timeout turns a hang into a failure.
for cmd in "verify /dev/zero" "verify fifo" "report html /dev/zero" "report html fifo" \
           "report sign fifo --sign s.key" "lm info /dev/zero" "lm info fifo" \
           "lm train --corpus /dev/zero -o m.lm" "lm train --corpus fifo -o m.lm" \
           "detect -k k.key fifo" "detect -k k.key --jsonl fifo" "audit -k k.key --suspect fifo -q" \
           "detect -k k.key --tokenizer fifo a.txt"; do
  # shellcheck disable=SC2086
  expect_rc 3 timeout 20 "$ISOTOPE" $cmd
done
"$ISOTOPE" detect -k k.key a.txt --report r.json --sign s.key >/dev/null 2>&1 || fail "detect --report"
expect_rc 3 timeout 20 "$ISOTOPE" verify r.json --signer fifo
expect_rc 3 timeout 20 "$ISOTOPE" verify r.json --signer /dev/zero

# The recorded hash is of the bytes scored: a process substitution is refused
# (it could not be read twice), and a regular file verifies.
expect_rc 3 "$ISOTOPE" audit -k k.key --suspect <(cat suspect.jsonl) --control 0 -q
expect_rc 0 "$ISOTOPE" audit -k k.key --suspect suspect.jsonl --control 0 -q --json
python3 - "$WORK/out" suspect.jsonl <<'PY' || die "audit recorded another hash than the file's"
import hashlib, json, sys
j = json.load(open(sys.argv[1]))
assert j["inputs"]["suspect"]["sha256"] == hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
PY

# One file satisfies every recorded input whose content it has.
cp suspect.jsonl teacher.jsonl
"$ISOTOPE" audit -k k.key --suspect suspect.jsonl --teacher teacher.jsonl --control 2 -q --report ra.json \
  --sign s.key >/dev/null || fail "audit --report"
expect_rc 0 "$ISOTOPE" verify ra.json --signer s.key.pub --key k.key --inputs suspect.jsonl teacher.jsonl -q
expect_in "$WORK/out" VERIFIED

# A report string cannot fake verify's output: control characters in shown
# fields are refused, and what is echoed is escaped.
python3 - <<'PY' || fail "editing a report"
import json
d = json.load(open("r.json"))
d.pop("signature")
d["tool"]["version"] = "0.1.0\n  Recomputed the result: every number matches exactly.\nVERIFIED\x1b[8m"
json.dump(d, open("evil.json", "w"))
PY
expect_rc 10 "$ISOTOPE" report sign evil.json --sign s.key -o evil-signed.json
[ -e evil-signed.json ] && die "a report with control characters in its version was signed"
printf 'not json\n' >"$(printf 'bad\033[31mname.json')"
expect_rc 10 "$ISOTOPE" verify "$(printf 'bad\033[31mname.json')"
grep -q "$(printf '\033')" "$WORK/err" && die "an escape sequence from the command line reached the terminal"

# report html: extreme p-values give a bounded page; a verdict that contradicts
# its p-value is refused.
python3 - <<'PY' || fail "editing a report"
import json
d = json.load(open("r.json"))
d.pop("signature")
t = d["result"]["texts"][0]
t["log10_p"] = -1e300
t["watermarked"] = True
t["curve"]["log10_p"][0] = -1e30
json.dump(d, open("extreme.json", "w"))
t["watermarked"] = False
json.dump(d, open("contradiction.json", "w"))
PY
"$ISOTOPE" report sign extreme.json --sign s.key -o extreme-signed.json || fail "report sign"
"$ISOTOPE" report sign contradiction.json --sign s.key -o contradiction-signed.json || fail "report sign"
expect_rc 0 timeout 20 "$ISOTOPE" report html extreme-signed.json -o extreme.html
[ "$(wc -c <extreme.html)" -lt 1000000 ] || die "the page of an extreme report is not bounded"
expect_not_in extreme.html "9223372036854775808"
expect_in extreme.html "10<sup>-1e\\+300</sup>"
expect_rc 10 "$ISOTOPE" report html contradiction-signed.json -o contradiction.html
expect_in "$WORK/err" "contradicts"
[ -e contradiction.html ] && die "a page was written for a contradictory report"

# combine: log10_p values near -1e308 do not give nan.
for i in 1 2; do
  python3 - "$i" <<'PY'
import json, sys
i = sys.argv[1]
json.dump({"type": "isotope-audit", "valid": True, "log10_p": -1e308, "key_commitment": "%064d" % int(i),
           "mode": "closed", "inputs": {"suspect": {"sha256": "%064d" % int(i)}}}, open("c%s.json" % i, "w"))
PY
done
expect_rc 5 "$ISOTOPE" combine c1.json c2.json
expect_not_in "$WORK/out" "nan"
expect_rc 5 "$ISOTOPE" combine c1.json c2.json --json
expect_not_in "$WORK/out" "null"

# JSON and JSONL inputs: a NUL byte, duplicate keys and bad values are refused
# with file, line and cause.
printf '{"text": "one"}\n\000{"text": "two"}\n{"text": "three"}\n' >nul.jsonl
expect_rc 5 "$ISOTOPE" detect -k k.key --jsonl nul.jsonl
expect_in "$WORK/err" "nul.jsonl:2: .*NUL"
printf 'plain\000text\n' >nul.txt
expect_rc 5 "$ISOTOPE" detect -k k.key nul.txt
printf '{"text": "%s", "text": "human words"}\n' "$(tr -d '\n"\\' <a.txt)" >dup.jsonl
expect_rc 5 "$ISOTOPE" detect -k k.key --jsonl dup.jsonl
expect_in "$WORK/err" 'dup.jsonl:1: .*"text" occurs twice'
printf '{"text": "\\ud800"}\n' >sur.jsonl
expect_rc 5 "$ISOTOPE" detect -k k.key --jsonl sur.jsonl
expect_in "$WORK/err" "surrogate"
printf '{"text": 1e999999}\n' >big.jsonl
expect_rc 5 "$ISOTOPE" detect -k k.key --jsonl big.jsonl
expect_in "$WORK/err" "overflow"
printf '{"text": NaN}\n' >nan.jsonl
expect_rc 5 "$ISOTOPE" detect -k k.key --jsonl nan.jsonl
expect_in "$WORK/err" "invalid literal"
printf '{"type": "isotope-audit", "type": "x"}\n' >dupc.json
expect_rc 5 "$ISOTOPE" combine dupc.json c1.json
expect_in "$WORK/err" "occurs twice"

# Integers out of range are refused, not wrapped.
for bad in -1 18446744073709551616 99999999999999999999999 1e3 0x10 ""; do
  expect_exit 2 "$ISOTOPE" generate -k k.key -n 5 --seed "$bad"
done
expect_rc 0 "$ISOTOPE" generate -k k.key -n 5 --seed 18446744073709551615
expect_exit 2 "$ISOTOPE" generate -k k.key -n -3
expect_exit 2 "$ISOTOPE" generate -k k.key -n 4294967296
expect_rc 2 "$ISOTOPE" generate -k k.key -n 1000001
expect_exit 2 "$ISOTOPE" detect -k k.key a.txt -H -1
expect_exit 2 "$ISOTOPE" audit -k k.key --suspect suspect.jsonl --control -1

# Results stream: the lines before a broken one are printed before the error.
{ head -c 2000 e.jsonl; printf '{"text": "ok"}\n{"text": "fine"}\n{"text": broken\n'; } >stream.jsonl
expect_rc 5 "$ISOTOPE" detect -k k.key --jsonl --json stream.jsonl
[ "$(wc -l <"$WORK/out")" -ge 2 ] || die "results were not streamed before the error"
expect_in "$WORK/err" "stream.jsonl:"

# Progress on standard error for long runs (here: every update).
ISOTOPE_PROGRESS_SECONDS=0 expect_rc 0 "$ISOTOPE" detect -k k.key --jsonl --json suspect.jsonl
expect_in "$WORK/err" "progress: .* of .*suspect.jsonl"
ISOTOPE_PROGRESS_SECONDS=0 expect_rc 0 "$ISOTOPE" generate -k k.key -n 9000 -o long.txt
expect_in "$WORK/err" "progress: .*tokens generated"
expect_rc 0 "$ISOTOPE" detect -k k.key --jsonl --json suspect.jsonl
expect_not_in "$WORK/err" "progress"

# Key files: a CR line ending is named; a file that is no key is not told to chmod.
sed 's/$/\r/' k.key >crlf.key && chmod 600 crlf.key
expect_rc 4 "$ISOTOPE" detect -k crlf.key a.txt
expect_in "$WORK/err" "carriage return"
printf 'hello\n' >notakey && chmod 644 notakey
expect_rc 4 "$ISOTOPE" audit -k notakey --suspect suspect.jsonl
expect_not_in "$WORK/err" "chmod"
cp k.key open.key && chmod 644 open.key
expect_rc 4 "$ISOTOPE" detect -k open.key a.txt
expect_in "$WORK/err" "chmod 600"

finish
