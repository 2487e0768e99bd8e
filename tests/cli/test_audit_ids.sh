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
# --vocab-size: the same audits with no tokenizer at all (open mode from the
# predictions the model audit wrote)
V=(--vocab-size 8000)
"${A[@]}" "${TOK[@]}" --mode open --model "$T/student.lm" --teacher "$T/teacher.ids.jsonl" \
  --write-predictions "$T/preds.jsonl" -o "$T/oids2.json" || die "open audit writing predictions"
"${A[@]}" "${V[@]}" --suspect "$T/suspect.ids.jsonl" --teacher "$T/teacher.ids.jsonl" -o "$T/vids.json" ||
  die "closed audit with --vocab-size"
"${A[@]}" "${V[@]}" --mode open --predictions "$T/preds.jsonl" --teacher "$T/teacher.ids.jsonl" -o "$T/voids.json" ||
  die "open audit with --vocab-size"
python3 - "$T" <<'PY' || die "audits with --vocab-size differ from audits with the tokenizer"
import json, sys
t = sys.argv[1]
for a, b in (("ids", "vids"), ("oids", "voids")):
    x, y = json.load(open(f"{t}/{a}.json")), json.load(open(f"{t}/{b}.json"))
    for k in ("log10_p", "scored", "green", "records", "skipped", "filter", "flagged", "valid", "control"):
        assert x[k] == y[k], (a, k, x[k], y[k])
    assert y["tokenizer_sha256"] is None and y["vocab_size"] == 8000 and "tokenizer" not in y["inputs"]
    assert "sample" not in y and y["input_ids"] is True
assert json.load(open(f"{t}/vids.json"))["flagged"] is True
PY
CHECKS=$((CHECKS + 1))
# a signed report of an audit on ids verifies, numbers recomputed
"$ISOTOPE" signer new -q -o "$T/sign.key" >/dev/null || die "signer"
"${A[@]}" "${V[@]}" --suspect "$T/suspect.ids.jsonl" --teacher "$T/teacher.ids.jsonl" --report "$T/r.json" \
  --sign "$T/sign.key" -o "$T/vids2.json" || die "report on ids"
expect_exit 0 "$ISOTOPE" verify "$T/r.json" --signer "$T/sign.key.pub" --key "$T/k1" --inputs "$T/suspect.ids.jsonl" \
  "$T/teacher.ids.jsonl"
# with --vocab-size every input is ids: a text line, a tokenizer, a normalizer, a model are refused
expect_rc 5 "${A[@]}" "${V[@]}" --suspect "$T/suspect.jsonl"
expect_in "$WORK/err" "reads token ids against --vocab-size"
expect_rc 2 "${A[@]}" "${V[@]}" "${TOK[@]}" --suspect "$T/suspect.ids.jsonl"
expect_rc 2 "${A[@]}" "${V[@]}" --normalize all --suspect "$T/suspect.ids.jsonl"
expect_rc 2 "${A[@]}" "${V[@]}" --mode open --model "$T/student.lm" --teacher "$T/teacher.ids.jsonl"
expect_rc 5 "${A[@]}" --vocab-size 100 --suspect "$T/suspect.ids.jsonl"
expect_in "$WORK/err" "not below the vocabulary size 100"
# an id outside the tokenizer's vocabulary
echo '{"ids": [1, 8000]}' > "$T/big.jsonl"
expect_rc 5 "${A[@]}" "${TOK[@]}" --suspect "$T/big.jsonl"
expect_in "$WORK/err" "not below the vocabulary size 8000"
# ids are not read against the bundled tokenizer unless it is named
expect_rc 2 "${A[@]}" --suspect "$T/suspect.ids.jsonl"
expect_in "$WORK/err" "give --tokenizer FILE"
finish
