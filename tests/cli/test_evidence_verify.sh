#!/usr/bin/env bash
# Signed detect reports: signer keys, round trip, and one distinct exit code
# per kind of failure (malformed, bad signature, wrong key, changed input,
# changed option).
source "$(dirname "$0")/lib.sh" "$1"
tmp="$WORK"
cd "$tmp"
must_exit() {  # must_exit CODE COMMAND...
  local want="$1"; shift
  "$@" >out.txt 2>err.txt
  local got=$?
  [ "$got" -eq "$want" ] || { cat out.txt err.txt >&2; fail "'$*' exited $got, expected $want"; }
}

"$ISOTOPE" keygen -o wm.key -q >/dev/null || fail keygen
"$ISOTOPE" keygen -o other.key -q >/dev/null || fail keygen other
pub="$("$ISOTOPE" signer new -o sign.key -q)" || fail "signer new"
[ "$(stat -c %a sign.key)" = 600 ] || fail "secret signing key is not mode 600"
[ "$(sed -n 2p sign.key.pub)" = "$pub" ] || fail "public key file does not hold the printed key"
[ "$(head -1 sign.key)" = "isotope-signing-key v1" ] || fail "secret key header"
"$ISOTOPE" signer new -o sign.key -q >/dev/null 2>&1 && fail "signer new overwrote an existing key"
"$ISOTOPE" signer new -o intruder.key -q >/dev/null || fail "signer new (2)"

"$ISOTOPE" generate -k wm.key -n 120 --seed 3 -q -o wm.txt || fail generate
"$ISOTOPE" generate --no-watermark -n 120 --seed 4 -q -o plain.txt || fail "generate plain"
"$ISOTOPE" detect -k wm.key wm.txt plain.txt --report r.json --sign sign.key --controls 4 >/dev/null 2>&1 ||
  fail "detect --report"
[ "$(tail -c 1 r.json | od -An -c | tr -d ' ')" = '\n' ] || fail "report does not end in a newline"
grep -q '"schema":"isotope-report/2"' r.json || fail "no schema"
grep -q "\"public_key\":\"$pub\"" r.json || fail "signer's public key not in the report"
grep -q "$("$ISOTOPE" commit wm.key)" r.json || fail "commitment not in the report"
grep -q "$(sed -n 2p wm.key)" r.json && fail "the watermark key itself is in the report"

# Round trip. Without a checked signer the answer is never plain success.
must_exit 16 "$ISOTOPE" verify r.json
grep -q "$pub" out.txt || fail "verify does not say who signed"
head -1 out.txt | grep -q "^SIGNER NOT CHECKED" || fail "first line does not say the signer was not checked"
must_exit 0 "$ISOTOPE" verify r.json --signer sign.key.pub
grep -q "checked against the public key in 'sign.key.pub'" out.txt || fail "verify does not say what it checked against"
must_exit 16 "$ISOTOPE" verify r.json --key wm.key --inputs wm.txt plain.txt -q
head -1 out.txt | grep -q "^SIGNER NOT CHECKED" || fail "-q hides that the signer was not checked"
grep -q "^VERIFIED" out.txt && fail "VERIFIED printed without a checked signer"
must_exit 0 "$ISOTOPE" verify r.json --signer sign.key.pub --key wm.key --inputs wm.txt plain.txt
grep -q "^VERIFIED" out.txt || fail "verify with key did not say VERIFIED"
# A trusted-signers file: one key per line, with a label.
printf '# trusted\n%s  other auditor\n%s  our auditor\n' "$(sed -n 2p intruder.key.pub)" "$pub" >trusted.txt
must_exit 0 "$ISOTOPE" verify r.json --trusted-signers trusted.txt --key wm.key --inputs wm.txt plain.txt
grep -q 'as "our auditor"' out.txt || fail "trusted signer's label not shown"
printf '%s\n' "$(sed -n 2p intruder.key.pub)" >untrusted.txt
must_exit 11 "$ISOTOPE" verify r.json --trusted-signers untrusted.txt
printf 'not a key\n' >bad-trusted.txt
must_exit 4 "$ISOTOPE" verify r.json --trusted-signers bad-trusted.txt

# The other side's forgery: the date moved back, the suspect input renamed,
# re-signed with a stranger's key. The signature is valid, but not by the
# expected signer; without --signer, verify does not call it a success.
python3 - <<'PY' || fail "forging"
import json
d = json.load(open("r.json"))
d["created_utc"] = "2019-01-01T00:00:00Z"
for i in d["inputs"]:
    if i["name"] == "wm.txt": i["name"] = "innocent.txt"
for t in d["result"]["texts"]:
    if t["input"] == "wm.txt": t["input"] = "innocent.txt"
d.pop("signature")
json.dump(d, open("forged.json", "w"))
PY
"$ISOTOPE" signer new -o mallory.sign -q >/dev/null || fail "signer new (mallory)"
"$ISOTOPE" report sign forged.json --sign mallory.sign -o forged-signed.json || fail "report sign (forged)"
must_exit 16 "$ISOTOPE" verify forged-signed.json --key wm.key --inputs wm.txt plain.txt -q
head -1 out.txt | grep -q "^SIGNER NOT CHECKED" || fail "forged report: first line does not say the signer was not checked"
must_exit 11 "$ISOTOPE" verify forged-signed.json --signer sign.key.pub --key wm.key --inputs wm.txt plain.txt
"$ISOTOPE" report html forged-signed.json -o forged.html 2>err.txt || fail "report html (forged)"
grep -q "Signer not checked" forged.html || fail "the page of an unchecked report does not say so"
grep -q "signer was not checked" err.txt || fail "report html does not note the unchecked signer"
"$ISOTOPE" report html r.json --signer sign.key.pub -o checked.html || fail "report html --signer"
grep -q "Signer checked" checked.html || fail "the page does not say the signer was checked"
must_exit 11 "$ISOTOPE" report html forged-signed.json --signer sign.key.pub -o -

# Wrong signer, bad signature, malformed.
must_exit 11 "$ISOTOPE" verify r.json --signer intruder.key.pub
sed 's/"green":/"green":1/' r.json >tampered.json
must_exit 11 "$ISOTOPE" verify tampered.json
sed 's/"/ "/' r.json >spaced.json
must_exit 10 "$ISOTOPE" verify spaced.json
head -c 200 r.json >truncated.json
must_exit 10 "$ISOTOPE" verify truncated.json
grep -q "not valid JSON" err.txt || fail "truncated report: no clear message"
: >empty.json
must_exit 10 "$ISOTOPE" verify empty.json
printf '{"a":1}\n' >other.json
must_exit 10 "$ISOTOPE" verify other.json

# Single-byte changes at many positions are all detected.
size=$(stat -c %s r.json)
for pos in $(seq 0 97 $((size - 1))) $((size - 1)); do
  cp r.json flip.json
  orig=$(od -An -tu1 -j "$pos" -N1 r.json | tr -d ' ')
  new=$(( orig ^ 1 ))
  printf "$(printf '\\%03o' "$new")" | dd of=flip.json bs=1 seek="$pos" conv=notrunc status=none
  "$ISOTOPE" verify flip.json >/dev/null 2>&1
  rc=$?
  { [ "$rc" -eq 10 ] || [ "$rc" -eq 11 ]; } || fail "flipping byte $pos gave exit $rc"
done

# Wrong key: commitment mismatch.
must_exit 12 "$ISOTOPE" verify r.json --signer sign.key.pub --key other.key --inputs wm.txt plain.txt
# Changed input, missing input, extra input.
cp wm.txt changed.txt && printf 'x' >>changed.txt
must_exit 13 "$ISOTOPE" verify r.json --signer sign.key.pub --key wm.key --inputs changed.txt plain.txt
grep -q "wm.txt" err.txt || fail "input mismatch does not name the recorded input"
must_exit 13 "$ISOTOPE" verify r.json --signer sign.key.pub --key wm.key --inputs wm.txt
must_exit 13 "$ISOTOPE" verify r.json --signer sign.key.pub --key wm.key --inputs wm.txt plain.txt changed.txt
# Changed option, re-signed: the signature holds, the recomputation does not.
sed 's/"dedup":true/"dedup":false/' r.json >opt.json  # the first occurrence: options.dedup
"$ISOTOPE" report sign opt.json --sign sign.key -o opt-signed.json || fail "report sign"
must_exit 0 "$ISOTOPE" verify opt-signed.json --signer sign.key.pub
must_exit 14 "$ISOTOPE" verify opt-signed.json --signer sign.key.pub --key wm.key --inputs wm.txt plain.txt
grep -q "RESULT MISMATCH: result.texts\[0\].rules.dedup" err.txt || fail "result mismatch not reported field by field"
sed 's/"threshold":1e-04/"threshold":0.5/' r.json >thr.json  # options.threshold
"$ISOTOPE" report sign thr.json --sign sign.key -o thr-signed.json || fail "report sign (threshold)"
must_exit 14 "$ISOTOPE" verify thr-signed.json --signer sign.key.pub --key wm.key --inputs wm.txt plain.txt
echo "ok"
