# Audits on token ids: the suspect's answers and the teacher texts given as
# ids (isotope tokenize --jsonl) give the results they give as text.
source "$(dirname "$0")/lib.sh" "$1"
SRC="${ISOTOPE_SOURCE_DIR:?}"
T="$WORK"
audit_fixture
sed -n '101,140p' "$SRC/corpora/prompts.jsonl" >"$T/sp.jsonl"
"$ISOTOPE" generate -q --no-watermark -m "$T/student.lm" --prompts "$T/sp.jsonl" -n 120 --seed 4 -o "$T/suspect.jsonl" || die "suspect"
"$ISOTOPE" tokenize --jsonl "$T/suspect.jsonl" > "$T/suspect.ids.jsonl" || die "tokenize suspect"
"$ISOTOPE" tokenize --jsonl "$T/teacher.jsonl" > "$T/teacher.ids.jsonl" || die "tokenize teacher"
grep -q '"prompt_ids":' "$T/suspect.ids.jsonl" || die "suspect ids lack prompt_ids"

SEED=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
A=("$ISOTOPE" audit -q --key "$T/k1" --control 5 --control-seed $SEED --json)
"${A[@]}" --suspect "$T/suspect.jsonl" --teacher "$T/teacher.jsonl" -o "$T/text.json" || die "closed audit on text"
TOK=(--tokenizer "$ISOTOPE_DATA_DIR/isotope-8k.model")
"${A[@]}" "${TOK[@]}" --suspect "$T/suspect.ids.jsonl" --teacher "$T/teacher.ids.jsonl" -o "$T/ids.json" || die "closed audit on ids"
"${A[@]}" --mode open --model "$T/student.lm" --teacher "$T/teacher.jsonl" -o "$T/otext.json" || die "open audit on text"
"${A[@]}" "${TOK[@]}" --mode open --model "$T/student.lm" --teacher "$T/teacher.ids.jsonl" -o "$T/oids.json" || die "open audit on ids"
python3 - "$T" <<'PY' || die "audits on ids differ from audits on text"
import json, sys
t = sys.argv[1]
for a, b in (("text", "ids"), ("otext", "oids")):
    x, y = json.load(open(f"{t}/{a}.json")), json.load(open(f"{t}/{b}.json"))
    for k in ("log10_p", "scored", "green", "records", "skipped", "filter", "flagged", "valid", "control", "tokenizer_sha256"):
        assert x[k] == y[k], (a, k, x[k], y[k])
    assert "input_ids" not in x and y["input_ids"] is True
assert json.load(open(f"{t}/ids.json"))["flagged"] is True
PY
CHECKS=$((CHECKS + 1))
# an id outside the tokenizer's vocabulary
echo '{"ids": [1, 8000]}' > "$T/big.jsonl"
expect_rc 5 "${A[@]}" "${TOK[@]}" --suspect "$T/big.jsonl"
expect_in "$WORK/err" "not below the vocabulary size 8000"
# ids are not read against the bundled tokenizer unless it is named
expect_rc 2 "${A[@]}" --suspect "$T/suspect.ids.jsonl"
expect_in "$WORK/err" "give --tokenizer FILE"
finish
