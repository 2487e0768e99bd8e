#!/usr/bin/env bash
# isotope combine: Fisher's method against reference values, and refusal of
# results that are not independent.
source "$(dirname "$0")/lib.sh" "$1"
SRC="${ISOTOPE_SOURCE_DIR:?}"
T="$WORK"
# result NAME LOG10P KEY SUSPECT_SHA [VALID]
result() {
  /usr/bin/python3 - "$T/$1" "$2" "$3" "$4" "${5:-true}" <<'PY'
import json, sys
path, lp, key, sha, valid = sys.argv[1:]
json.dump({"type": "isotope-audit", "mode": "closed", "valid": valid == "true", "log10_p": float(lp),
           "key_commitment": key, "inputs": {"suspect": {"path": "s.jsonl", "sha256": sha}}}, open(path, "w"))
PY
}
# Every reference case of tests/vectors/audit_fisher_vectors.json, each input
# under its own key and data.
/usr/bin/python3 - "$SRC/tests/vectors/audit_fisher_vectors.json" >"$T/cases" <<'PY'
import json, sys
for c in json.load(open(sys.argv[1]))["cases"]:
    print(repr(c["log10_p"]), " ".join(repr(x) for x in c["log10_ps"]))
PY
n=0
while read -r want inputs; do
  n=$((n + 1)); files=(); i=0
  for lp in $inputs; do
    i=$((i + 1)); result "c${n}_$i.json" "$lp" "key$i" "sha$i"; files+=("$T/c${n}_$i.json")
  done
  "$ISOTOPE" combine --json "${files[@]}" >"$T/comb.json" || { die "combine case $n"; continue; }
  /usr/bin/python3 -c "
import json,sys
got=json.load(open(sys.argv[1]))['log10_p']; want=float(sys.argv[2])
sys.exit(0 if abs(got-want) <= 1e-9*abs(want)+1e-12 else 1)" "$T/comb.json" "$want" || die "case $n: got $(cat "$T/comb.json" | head -c 200), want $want"
done <"$T/cases"
[ "$n" -ge 5 ] || die "reference cases not read"

result a.json -12.3 K1 S1; result b.json -1.2 K2 S2; result c.json -3 K1 S3; result d.json -2 K1 S1
result e.json -2 K3 S1; result f.json -5 K4 S4 false
"$ISOTOPE" combine a.json b.json >/dev/null 2>&1 && die "relative paths of missing files accepted"
(cd "$T" && "$ISOTOPE" combine a.json b.json >"$T/human.txt") || die "combine human output"
grep -q "Combined p = " "$T/human.txt" || die "human output"
expect_rc 5 "$ISOTOPE" combine "$T/a.json" "$T/c.json"      # same key
grep -q "same key" "$T/err" || die "same-key refusal does not say why"
expect_rc 5 "$ISOTOPE" combine "$T/a.json" "$T/d.json"      # same key and same data
grep -q "same data" "$T/err" || die "shared-data refusal does not say why"
expect_rc 5 "$ISOTOPE" combine "$T/a.json" "$T/a.json"      # the same result twice
expect_rc 5 "$ISOTOPE" combine "$T/b.json" "$T/f.json"      # not valid
expect_rc 2 "$ISOTOPE" combine "$T/a.json"                  # one input
expect_rc 3 "$ISOTOPE" combine "$T/a.json" "$T/missing.json"
echo '{"type": "other"}' >"$T/o.json"
expect_rc 5 "$ISOTOPE" combine "$T/a.json" "$T/o.json"
expect_rc 0 "$ISOTOPE" combine "$T/a.json" "$T/e.json"      # shared data under different keys: independent
grep -q "Note:" "$T/out" || die "no note on shared data under different keys"

finish
