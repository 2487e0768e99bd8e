# generate + detect end to end, JSON fields, bad inputs.
source "$(dirname "$0")/lib.sh" "$1"
fixed_key "$WORK/k.key" detect-1
fixed_key "$WORK/other.key" detect-2

expect_exit 0 "$ISOTOPE" generate --key "$WORK/k.key" --prompt "The word" -n 400 --seed 7 -o "$WORK/marked.txt"
expect_exit 0 "$ISOTOPE" generate --no-watermark --prompt "The word" -n 400 --seed 7 -o "$WORK/plain.txt"
# Same seed, same text.
"$ISOTOPE" generate --key "$WORK/k.key" --prompt "The word" -n 400 --seed 7 > "$WORK/again.txt"
cmp -s "$WORK/marked.txt" "$WORK/again.txt" || { echo "FAIL: same seed gave different text"; FAILS=$((FAILS+1)); }

expect_exit 0 "$ISOTOPE" detect --key "$WORK/k.key" --json "$WORK/marked.txt"
cp "$WORK/out" "$WORK/marked.json"
for field in tokens scored green green_fraction z log10_p p_value watermarked threshold profile tokenizer_sha256; do
  expect_in "$WORK/marked.json" "\"$field\":"
done
expect_in "$WORK/marked.json" '"watermarked":true'
expect_in "$WORK/marked.json" '"context_width":2'
python3 - "$WORK/marked.json" <<'PY' || FAILS=$((FAILS+1))
import json, sys
r = json.loads(open(sys.argv[1]).read())
assert r["log10_p"] <= -6, r["log10_p"]
assert r["rules"]["dedup"] is True
PY
expect_exit 0 "$ISOTOPE" detect --key "$WORK/k.key" --json "$WORK/plain.txt"
python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read()); assert r["log10_p"] > -3, r' "$WORK/out" || FAILS=$((FAILS+1))
expect_exit 0 "$ISOTOPE" detect --key "$WORK/other.key" --json "$WORK/marked.txt"
python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read()); assert r["log10_p"] > -3, r' "$WORK/out" || FAILS=$((FAILS+1))

# Human-readable output explains itself; stdin works.
expect_exit 0 "$ISOTOPE" detect --key "$WORK/k.key" < "$WORK/marked.txt"
expect_in "$WORK/out" "WATERMARKED"
expect_in "$WORK/out" "expected by chance"

# Dedup: the plain text repeated 50 times is not flagged.
for i in $(seq 50); do cat "$WORK/plain.txt"; done > "$WORK/repeated.txt"
expect_exit 0 "$ISOTOPE" detect --key "$WORK/k.key" --json "$WORK/repeated.txt"
python3 -c 'import json,sys; r=json.loads(open(sys.argv[1]).read()); assert r["watermarked"] is False and r["skipped"]["duplicate"] > 0, r' "$WORK/out" || FAILS=$((FAILS+1))
expect_exit 0 "$ISOTOPE" detect --key "$WORK/k.key" --no-dedup "$WORK/plain.txt"
expect_in "$WORK/out" "NOT valid"

# JSONL with prompts: one result per line, prompt windows excluded.
python3 - "$WORK/marked.txt" > "$WORK/records.jsonl" <<'PY'
import json, sys
text = open(sys.argv[1]).read()
print(json.dumps({"prompt": "The word", "response": text}))
print(json.dumps({"text": "Plain words written by a person, nothing more."}))
print(json.dumps({"prompt": text, "response": text}))
PY
expect_exit 0 "$ISOTOPE" detect --key "$WORK/k.key" --jsonl --json "$WORK/records.jsonl"
[ "$(wc -l < "$WORK/out")" -eq 3 ] || { echo "FAIL: expected 3 JSONL results"; FAILS=$((FAILS+1)); }
python3 - "$WORK/out" <<'PY' || FAILS=$((FAILS+1))
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert rows[0]["watermarked"] and rows[0]["rules"]["prompt_exclusion"]
assert not rows[1]["watermarked"]
assert rows[2]["scored"] == 0 and rows[2]["skipped"]["prompt"] > 0, rows[2]
PY

# Bad inputs: clear errors, distinct codes, no crash.
expect_exit 3 "$ISOTOPE" detect --key "$WORK/k.key" "$WORK/missing.txt"
expect_exit 3 "$ISOTOPE" detect --key "$WORK/k.key" "$WORK"
printf 'caf\xc3\x28 \xff\xfe\n' > "$WORK/bad-utf8.txt"
expect_exit 5 "$ISOTOPE" detect --key "$WORK/k.key" "$WORK/bad-utf8.txt"
expect_in "$WORK/err" "UTF-8"
: > "$WORK/empty.txt"
# An empty text is a result: nothing scored, p = 1, not watermarked.
expect_exit 0 "$ISOTOPE" detect --key "$WORK/k.key" --json "$WORK/empty.txt"
expect_in "$WORK/out" '"scored":0'
expect_in "$WORK/out" '"log10_p":0.0'
expect_in "$WORK/out" '"watermarked":false'
printf '{"text": 3}\n' > "$WORK/badfield.jsonl"
expect_exit 5 "$ISOTOPE" detect --key "$WORK/k.key" --jsonl "$WORK/badfield.jsonl"
printf '{"text": "ok"\n' > "$WORK/broken.jsonl"
expect_exit 5 "$ISOTOPE" detect --key "$WORK/k.key" --jsonl "$WORK/broken.jsonl"
expect_in "$WORK/err" "broken.jsonl:1"
printf '{"other": "x"}\n' > "$WORK/nofield.jsonl"
expect_exit 5 "$ISOTOPE" detect --key "$WORK/k.key" --jsonl "$WORK/nofield.jsonl"
printf '{"text": "caf\\udc80"}\n' > "$WORK/surrogate.jsonl"
no_crash "$ISOTOPE" detect --key "$WORK/k.key" --jsonl "$WORK/surrogate.jsonl"
cp "$WORK/k.key" "$WORK/loose.key"; chmod 604 "$WORK/loose.key"
expect_exit 4 "$ISOTOPE" detect --key "$WORK/loose.key" "$WORK/marked.txt"
head -c 1000 /dev/urandom > "$WORK/garbage.model"
expect_exit 6 "$ISOTOPE" detect --key "$WORK/k.key" --tokenizer "$WORK/garbage.model" "$WORK/marked.txt"
expect_exit 2 "$ISOTOPE" detect --key "$WORK/k.key" --gamma 1.5 "$WORK/marked.txt"
expect_exit 2 "$ISOTOPE" detect --key "$WORK/k.key" --context-width 9 "$WORK/marked.txt"
expect_exit 2 "$ISOTOPE" detect --key "$WORK/k.key" --threshold 0 "$WORK/marked.txt"
expect_exit 2 "$ISOTOPE" detect "$WORK/marked.txt"
# Nothing printed anywhere contains the key.
keyhex=$(sed -n 2p "$WORK/k.key")
cat "$WORK"/*.json "$WORK/out" "$WORK/err" | grep -q "$keyhex" && { echo "FAIL: key printed"; FAILS=$((FAILS+1)); }
finish
