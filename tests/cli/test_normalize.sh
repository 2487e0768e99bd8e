#!/usr/bin/env bash
# --normalize: a watermarked answer pasted with every space as a non-breaking
# space (or in full-width letters, with zero-width spaces, with look-alike
# letters) is detected again, within one decade of the original log10 p; the
# normalizers are recorded in results and reports, and reports verify.
source "$(dirname "$0")/lib.sh" "$1"
cd "$WORK"
data="${ISOTOPE_DATA_DIR:?}"

"$ISOTOPE" keygen -o k.key -q >/dev/null || fail keygen
"$ISOTOPE" signer new -o s.key -q >/dev/null || fail "signer new"
"$ISOTOPE" generate -k k.key -n 200 --seed 11 -q -o w.txt || fail generate
python3 - <<'PY' || fail "making the edited texts"
s = open("w.txt", encoding="utf-8").read()
open("nbsp.txt", "w", encoding="utf-8").write(s.replace(" ", "\u00a0"))
open("fullwidth.txt", "w", encoding="utf-8").write("".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s))
open("zerowidth.txt", "w", encoding="utf-8").write(s.replace(" ", " \u200b"))
cy = {"a": "\u0430", "e": "\u0435", "o": "\u043e", "p": "\u0440", "c": "\u0441", "x": "\u0445"}
open("cyrillic.txt", "w", encoding="utf-8").write("".join(cy.get(c, c) for c in s))
PY
lp() { python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["log10_p"])'; }
orig=$("$ISOTOPE" detect -k k.key --json w.txt | lp)
python3 -c "import sys; sys.exit(0 if $orig < -20 else 1)" || fail "the original is not clearly watermarked ($orig)"
check_pair() {  # FILE NORMALIZERS: without, p is lost; with, it is back within one decade
  local without with
  without=$("$ISOTOPE" detect -k k.key --json "$1" | lp)
  with=$("$ISOTOPE" detect -k k.key --json --normalize "$2" "$1" | lp)
  python3 -c "import sys; sys.exit(0 if $without > -4 else 1)" || die "$1 without normalizer still detected ($without)"
  python3 -c "import sys; sys.exit(0 if abs($with - $orig) <= 1 else 1)" ||
    die "$1 with --normalize $2: log10 p $with, original $orig"
}
check_pair nbsp.txt spaces
check_pair nbsp.txt nfkc
check_pair nbsp.txt all
check_pair fullwidth.txt nfkc
check_pair zerowidth.txt format
check_pair cyrillic.txt confusables
check_pair cyrillic.txt all
CHECKS=$((CHECKS + 7))

# Recorded in every result; an unknown normalizer is a usage error.
expect_rc 0 "$ISOTOPE" detect -k k.key --json --normalize nfkc,spaces nbsp.txt
expect_in "$WORK/out" '"normalize":\["spaces","nfkc"\]'
expect_rc 0 "$ISOTOPE" detect -k k.key --json nbsp.txt
expect_not_in "$WORK/out" '"normalize"'
expect_rc 2 "$ISOTOPE" detect -k k.key --normalize nfkc,homoglyphs nbsp.txt
expect_in "$WORK/err" "homoglyphs"

# Reports record the normalizers and recompute with them.
expect_rc 0 "$ISOTOPE" detect -k k.key --normalize all nbsp.txt --report r.json --sign s.key
expect_rc 0 "$ISOTOPE" verify r.json --signer s.key.pub --key k.key --inputs nbsp.txt -q
expect_in "$WORK/out" VERIFIED
grep -q '"normalize":\["format","spaces","nfkc","confusables"\]' r.json || die "the report does not record the normalizers"

# The audit takes the same option.
"$ISOTOPE" generate -k k.key --prompts "$data/prompts.jsonl" -n 40 -q -o suspect.jsonl || fail "generate --prompts"
python3 - <<'PY' || fail "editing the answers"
import json
with open("suspect.jsonl") as f, open("suspect-nbsp.jsonl", "w") as g:
    for line in f:
        r = json.loads(line)
        r["response"] = r["response"].replace(" ", "\u00a0")
        g.write(json.dumps(r) + "\n")
PY
expect_rc 0 "$ISOTOPE" audit -k k.key --suspect suspect.jsonl --control 2 --json -q
cp "$WORK/out" audit-orig.json
expect_rc 0 "$ISOTOPE" audit -k k.key --suspect suspect-nbsp.jsonl --control 2 --json -q
cp "$WORK/out" audit-nbsp.json
expect_rc 0 "$ISOTOPE" audit -k k.key --suspect suspect-nbsp.jsonl --control 2 --json -q --normalize spaces \
  --report ra.json --sign s.key
python3 - "$WORK/out" <<'PY' || die "the audit with --normalize spaces does not restore the original p-value"
import json, sys
orig = json.load(open("audit-orig.json"))["log10_p"]
lost = json.load(open("audit-nbsp.json"))["log10_p"]
j = json.load(open(sys.argv[1]))
assert lost > orig / 10, (orig, lost)          # most of the evidence was lost ...
assert abs(j["log10_p"] - orig) <= 1, (orig, j["log10_p"])  # ... and is back
assert j["normalize"] == ["spaces"] and j["options"]["normalize"] == "spaces"
PY
expect_rc 0 "$ISOTOPE" verify ra.json --signer s.key.pub --key k.key --inputs suspect-nbsp.jsonl -q
expect_in "$WORK/out" VERIFIED

finish
