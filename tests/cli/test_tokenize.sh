# isotope tokenize, token-id inputs to detect, and tokenizer.json files that
# are refused by name.
source "$(dirname "$0")/lib.sh" "$1"
fixed_key "$WORK/k.key" tokenize-1

# ---- tokenize / --decode with the bundled sentencepiece model
printf 'The meaning of the word is plain.' > "$WORK/a.txt"
expect_exit 0 "$ISOTOPE" tokenize "$WORK/a.txt"
cp "$WORK/out" "$WORK/a.ids"
expect_in "$WORK/a.ids" '^\{"ids":\[[0-9]+(,[0-9]+)*\]\}$'
# the ids are those of sentencepiece's own encoder
if command -v spm_encode > /dev/null; then
  want=$(spm_encode --model "$ISOTOPE_DATA_DIR/isotope-8k.model" --output_format=id < "$WORK/a.txt" | tr ' ' ',')
  expect_in "$WORK/a.ids" "^\\{\"ids\":\\[$want\\]\\}\$"
fi
expect_exit 0 "$ISOTOPE" tokenize --decode "$WORK/a.ids"
[ "$(cat "$WORK/out")" = "The meaning of the word is plain." ] || die "decode did not give the text back: $(cat "$WORK/out")"
printf '{"text": "one two"}\n{"prompt": "Q?", "response": "A."}\n' > "$WORK/t.jsonl"
expect_exit 0 "$ISOTOPE" tokenize --jsonl "$WORK/t.jsonl"
cp "$WORK/out" "$WORK/t.ids.jsonl"
expect_in "$WORK/t.ids.jsonl" '^\{"ids":\['
expect_in "$WORK/t.ids.jsonl" '^\{"prompt_ids":\[[0-9,]+\],"response_ids":\['
expect_exit 0 "$ISOTOPE" tokenize --decode --jsonl "$WORK/t.ids.jsonl"
expect_in "$WORK/out" '^\{"text":"one two"\}$'
expect_in "$WORK/out" '"prompt":"Q\?"'
expect_rc 5 "$ISOTOPE" tokenize --decode "$WORK/t.jsonl"          # no ids
printf '{"ids": [1, 99999]}\n' > "$WORK/big.jsonl"
expect_rc 5 "$ISOTOPE" tokenize --decode "$WORK/big.jsonl"
expect_in "$WORK/err" "not below the vocabulary size 8000"
printf '{"ids": [1, -2]}\n' > "$WORK/neg.jsonl"
expect_rc 5 "$ISOTOPE" tokenize --decode "$WORK/neg.jsonl"

# ---- detect on ids gives the result it gives on the same texts
expect_exit 0 "$ISOTOPE" generate --key "$WORK/k.key" --prompt "The word" -n 300 --seed 3 -o "$WORK/marked.txt"
expect_exit 0 "$ISOTOPE" generate --no-watermark --prompt "The word" -n 300 --seed 3 -o "$WORK/plain.txt"
python3 - "$WORK" <<'PY' || die "could not write the JSONL inputs"
import json, sys
w = sys.argv[1]
with open(w + "/texts.jsonl", "w") as f:
    f.write(json.dumps({"text": open(w + "/marked.txt").read()}) + "\n")
    f.write(json.dumps({"prompt": "The word", "response": open(w + "/plain.txt").read()}) + "\n")
PY
expect_exit 0 "$ISOTOPE" tokenize --jsonl "$WORK/texts.jsonl"
cp "$WORK/out" "$WORK/ids.jsonl"
expect_exit 0 "$ISOTOPE" detect --key "$WORK/k.key" --jsonl --json "$WORK/texts.jsonl"
cp "$WORK/out" "$WORK/on_text.json"
TOK=(--tokenizer "$ISOTOPE_DATA_DIR/isotope-8k.model")
expect_exit 0 "$ISOTOPE" detect --key "$WORK/k.key" --jsonl --json "${TOK[@]}" "$WORK/ids.jsonl"
cp "$WORK/out" "$WORK/on_ids.json"
# ids are not read against the bundled tokenizer unless it is named
expect_rc 2 "$ISOTOPE" detect --key "$WORK/k.key" --jsonl "$WORK/ids.jsonl"
expect_in "$WORK/err" "give --tokenizer FILE"
expect_exit 0 "$ISOTOPE" detect --key "$WORK/k.key" --jsonl --json --vocab-size 8000 "$WORK/ids.jsonl"
cp "$WORK/out" "$WORK/on_ids_v.json"
python3 - "$WORK" <<'PY' || die "detect on ids differs from detect on text"
import json, sys
w = sys.argv[1]
load = lambda n: [json.loads(l) for l in open(w + "/" + n) if l.strip()]
text, ids, idsv = load("on_text.json"), load("on_ids.json"), load("on_ids_v.json")
assert len(text) == len(ids) == len(idsv) == 2
for t, i, v in zip(text, ids, idsv):
    for k in ("tokens", "scored", "green", "log10_p", "watermarked", "skipped", "rules"):
        assert t[k] == i[k] == v[k], (k, t[k], i[k], v[k])
    assert "input_ids" not in t and i["input_ids"] is True and v["input_ids"] is True
    assert i["tokenizer_sha256"] == t["tokenizer_sha256"] and v["tokenizer_sha256"] is None
assert text[0]["watermarked"] is True and text[1]["watermarked"] is False
assert text[1]["rules"]["prompt_exclusion"] is True
PY
# a generation written as ids, detected with --vocab-size only: found
head -1 "$WORK/ids.jsonl" > "$WORK/gen.ids.jsonl"
expect_exit 0 "$ISOTOPE" detect --key "$WORK/k.key" --jsonl --vocab-size 8000 "$WORK/gen.ids.jsonl"
expect_in "$WORK/out" "WATERMARKED"
# a signed report on ids (with the tokenizer) is recomputed by verify
expect_exit 0 "$ISOTOPE" signer new -o "$WORK/s.sign" -q
expect_exit 0 "$ISOTOPE" detect --key "$WORK/k.key" --jsonl "${TOK[@]}" --controls 3 --report "$WORK/r.json" --sign "$WORK/s.sign" "$WORK/ids.jsonl"
expect_in "$WORK/r.json" '"input_ids":true'
expect_exit 0 "$ISOTOPE" verify "$WORK/r.json" --signer "$WORK/s.sign.pub" --key "$WORK/k.key" --inputs "$WORK/ids.jsonl"
expect_in "$WORK/out" "VERIFIED"
expect_rc 2 "$ISOTOPE" detect --key "$WORK/k.key" --jsonl --vocab-size 8000 --report "$WORK/r2.json" --sign "$WORK/s.sign" "$WORK/ids.jsonl"
# ids at or above the vocabulary size are an input error
expect_rc 5 "$ISOTOPE" detect --key "$WORK/k.key" --jsonl --vocab-size 100 "$WORK/gen.ids.jsonl"
expect_in "$WORK/err" "not below the vocabulary size 100"
expect_rc 5 "$ISOTOPE" detect --key "$WORK/k.key" --jsonl "${TOK[@]}" "$WORK/big.jsonl"
# text with --vocab-size and no tokenizer, and other misuses
expect_rc 2 "$ISOTOPE" detect --key "$WORK/k.key" --jsonl --vocab-size 8000 "$WORK/texts.jsonl"
expect_rc 2 "$ISOTOPE" detect --key "$WORK/k.key" --vocab-size 8000 "$WORK/marked.txt"
printf '{"ids": [1, 2, 3], "text": "x"}\n' > "$WORK/both.jsonl"
expect_rc 5 "$ISOTOPE" detect --key "$WORK/k.key" --jsonl "${TOK[@]}" "$WORK/both.jsonl"

# ---- tokenizer.json: a small byte-level BPE written here
python3 - "$WORK/bl.json" <<'PY' || die "could not write bl.json"
import json, sys
# GPT-2's byte alphabet
bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs:
        bs.append(b); cs.append(256 + n); n += 1
alpha = {b: chr(c) for b, c in zip(bs, cs)}
vocab = {alpha[b]: b for b in range(256)}
merges = [("h", "e"), ("l", "l"), ("he", "ll"), ("\u0120", "w")]
for a, b in merges:
    vocab[a + b] = len(vocab)
doc = {"version": "1.0", "added_tokens": [{"id": 300, "content": "<|end|>", "single_word": False, "lstrip": False,
       "rstrip": False, "normalized": False, "special": True}],
       "normalizer": {"type": "NFC"},
       "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
           {"type": "Split", "pattern": {"Regex": "\\s?\\p{L}+|\\s+(?!\\S)|\\s+|[^\\s\\p{L}]+"}, "behavior": "Isolated", "invert": False},
           {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
       "decoder": {"type": "ByteLevel"},
       "model": {"type": "BPE", "dropout": None, "unk_token": None, "byte_fallback": False,
                 "vocab": vocab, "merges": [a + " " + b for a, b in merges]}}
json.dump(doc, open(sys.argv[1], "w"), ensure_ascii=False)
PY
printf 'hello world<|end|>e\xcc\x81' > "$WORK/bl.txt"
expect_exit 0 "$ISOTOPE" tokenize --tokenizer "$WORK/bl.json" "$WORK/bl.txt"
# hell|o| w|o|r|l|d|<|end|>|é (NFC: one character, two bytes)
expect_in "$WORK/out" '^\{"ids":\[258,111,259,111,114,108,100,300,195,169\]\}$'
cp "$WORK/out" "$WORK/bl.ids"
expect_exit 0 "$ISOTOPE" tokenize --decode --tokenizer "$WORK/bl.json" "$WORK/bl.ids"
[ "$(cat "$WORK/out")" = "$(printf 'hello world<|end|>\xc3\xa9')" ] || die "byte-level decode: $(cat "$WORK/out")"

# components that are not implemented are refused by name (exit 6)
refused() {  # refused WHAT PYTHON-EDIT
  python3 - "$WORK/bl.json" "$WORK/r.json" "$2" <<'PY' || die "could not write r.json"
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"))
PY
  expect_rc 6 "$ISOTOPE" tokenize --tokenizer "$WORK/r.json" "$WORK/bl.txt"
  expect_in "$WORK/err" "$1"
}
refused "WordPiece model" 'd["model"] = {"type": "WordPiece", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "a": 1}}'
refused "Unigram model" 'd["model"] = {"type": "Unigram", "vocab": [["a", -1.0]]}'
refused "normalizer 'BertNormalizer'" 'd["normalizer"] = {"type": "BertNormalizer"}'
refused "pre-tokenizer 'Punctuation'" 'd["pre_tokenizer"] = {"type": "Punctuation"}'
refused "BPE dropout" 'd["model"]["dropout"] = 0.1'
refused "ByteLevel pre-tokenizer followed" 'd["pre_tokenizer"]["pretokenizers"].reverse()'
printf '{"model": ' > "$WORK/broken.json"
expect_rc 6 "$ISOTOPE" tokenize --tokenizer "$WORK/broken.json" "$WORK/bl.txt"
expect_in "$WORK/err" "not a valid tokenizer.json"

finish
