#!/usr/bin/env bash
# isotope audit --mode open: reading mode with a model and with PREDS.jsonl,
# identical numbers both ways, and every kind of bad PREDS.jsonl refused.
source "$(dirname "$0")/lib.sh" "$1"
SRC="${ISOTOPE_SOURCE_DIR:?}"
T="$WORK"
audit_fixture
"$ISOTOPE" lm train -q -c "$SRC/corpora/heldout/devil.txt" -o "$T/clean.lm" || die "train clean"

SEED=ff0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
O=("$ISOTOPE" audit -q --mode open --key "$T/k1" --teacher "$T/teacher.jsonl" --control 10 --control-seed $SEED --json)
"${O[@]}" --model "$T/student.lm" --write-predictions "$T/preds.jsonl" -o "$T/m.json" || die "open audit with a model"
[ "$(field "$T/m.json" "j['mode']=='open' and j['flagged'] and j['log10_p'] < -6 and j['records'] == 40")" = True ] || die "student not flagged in open mode: $(field "$T/m.json" "j['log10_p']")"
[ "$(wc -l <"$T/preds.jsonl")" = 40 ] || die "PREDS.jsonl line count"
"${O[@]}" --predictions "$T/preds.jsonl" -o "$T/p.json" || die "open audit with predictions"
[ "$(field "$T/m.json" "(j['log10_p'], j['scored'], j['green'], j['control']['log10_p'])")" = "$(field "$T/p.json" "(j['log10_p'], j['scored'], j['green'], j['control']['log10_p'])")" ] || die "model and PREDS.jsonl audits differ"
"${O[@]}" --model "$T/clean.lm" -o "$T/c.json" || die "clean open audit"
[ "$(field "$T/c.json" "(not j['flagged']) and j['log10_p'] > -4")" = True ] || die "clean model flagged: $(field "$T/c.json" "j['log10_p']")"
"$ISOTOPE" audit -q --mode open --key "$T/k2" --teacher "$T/teacher.jsonl" --predictions "$T/preds.jsonl" --control 0 --json -o "$T/w.json" || die "wrong key"
[ "$(field "$T/w.json" "j['log10_p'] > -4")" = True ] || die "wrong key flagged"

# Bad PREDS.jsonl.
P=("$ISOTOPE" audit -q --mode open --key "$T/k1" --teacher "$T/teacher.jsonl" --control 0)
head -n 39 "$T/preds.jsonl" >"$T/short.jsonl"
expect_rc 5 "${P[@]}" --predictions "$T/short.jsonl"
{ cat "$T/preds.jsonl"; head -n 1 "$T/preds.jsonl"; } >"$T/long.jsonl"
expect_rc 5 "${P[@]}" --predictions "$T/long.jsonl"
/usr/bin/python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
lines = [json.loads(l) for l in open(t + "/preds.jsonl")]
def write(name, first):
    with open(t + "/" + name, "w") as f:
        f.write(first + "\n")
        for l in lines[1:]:
            f.write(json.dumps(l) + "\n")
p = lines[0]["predictions"]
write("len.jsonl", json.dumps({"predictions": p[:-1]}))
write("float.jsonl", json.dumps({"predictions": [1.5] + p[1:]}))
write("neg.jsonl", json.dumps({"predictions": [-1] + p[1:]}))
write("str.jsonl", json.dumps({"predictions": ["7"] + p[1:]}))
write("oov.jsonl", json.dumps({"predictions": [8000] + p[1:]}))
write("nofield.jsonl", json.dumps({"ids": p}))
write("notjson.jsonl", "[1, 2, 3")
PY
for bad in len float neg str nofield notjson; do expect_rc 5 "${P[@]}" --predictions "$T/$bad.jsonl"; done
expect_rc 6 "${P[@]}" --predictions "$T/oov.jsonl"
: >"$T/empty.jsonl"
expect_rc 5 "${P[@]}" --predictions "$T/empty.jsonl"
expect_rc 3 "${P[@]}" --predictions "$T/missing.jsonl"
# Usage errors.
expect_rc 2 "$ISOTOPE" audit -q --mode open --key "$T/k1" --model "$T/student.lm"
expect_rc 2 "${P[@]}" --model "$T/student.lm" --predictions "$T/preds.jsonl"
expect_rc 2 "${P[@]}"
echo "not a model" >"$T/bad.lm"
expect_rc 6 "${P[@]}" --model "$T/bad.lm"

finish
