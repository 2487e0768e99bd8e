# generate with --prompts, lm train / info, mismatches and corrupt models.
source "$(dirname "$0")/lib.sh" "$1"
"$ISOTOPE" keygen -q -o "$WORK/k.key" > /dev/null
printf '{"prompt": "In the beginning"}\n\n{"prompt": "A hacker is"}\n' > "$WORK/prompts.jsonl"
expect_exit 0 "$ISOTOPE" generate --key "$WORK/k.key" --prompts "$WORK/prompts.jsonl" -n 50 -o "$WORK/resp.jsonl"
[ "$(wc -l < "$WORK/resp.jsonl")" -eq 2 ] || { echo "FAIL: expected 2 responses"; FAILS=$((FAILS+1)); }
expect_in "$WORK/resp.jsonl" '"prompt":"In the beginning","response":'
expect_exit 0 "$ISOTOPE" generate --key "$WORK/k.key" --prompt "x" -n 20 --top-k 5 --top-p 0.9 --temperature 0.8
expect_exit 0 "$ISOTOPE" generate --key "$WORK/k.key" --prompt "x" -n 20 --greedy
expect_exit 2 "$ISOTOPE" generate --prompt "x"
expect_exit 2 "$ISOTOPE" generate --key "$WORK/k.key" --temperature 0
expect_exit 2 "$ISOTOPE" generate --key "$WORK/k.key" --top-p 2
printf '{"prompt": 5}\n' > "$WORK/bad.jsonl"
expect_exit 5 "$ISOTOPE" generate --key "$WORK/k.key" --prompts "$WORK/bad.jsonl"
: > "$WORK/none.jsonl"
expect_exit 5 "$ISOTOPE" generate --key "$WORK/k.key" --prompts "$WORK/none.jsonl"
# An output that cannot be written leaves nothing behind.
expect_exit 3 "$ISOTOPE" generate --key "$WORK/k.key" --prompts "$WORK/prompts.jsonl" -n 5 -o "$WORK/no/dir/out.jsonl"

# lm train on text and JSONL; the model is usable and its info is right.
printf 'The first document has some words.\nIt goes on here.\n\nThe second document.\n' > "$WORK/a.txt"
expect_exit 0 "$ISOTOPE" lm train --quiet --corpus "$WORK/a.txt" "$WORK/resp.jsonl" --order 2 -o "$WORK/m.lm"
expect_exit 0 "$ISOTOPE" lm info "$WORK/m.lm"
expect_in "$WORK/out" '"order": 2'
expect_in "$WORK/out" '"vocab_size": 8000'
expect_exit 0 "$ISOTOPE" generate --key "$WORK/k.key" --model "$WORK/m.lm" -n 10
expect_exit 5 "$ISOTOPE" lm train --quiet --corpus "$WORK/none.jsonl" -o "$WORK/m2.lm"
expect_exit 5 "$ISOTOPE" lm train --quiet --corpus "$WORK/bad.jsonl" -o "$WORK/m2.lm"
printf '\xff\xfe\n' > "$WORK/bad.txt"
expect_exit 5 "$ISOTOPE" lm train --quiet --corpus "$WORK/bad.txt" -o "$WORK/m2.lm"
expect_exit 3 "$ISOTOPE" lm train --quiet --corpus "$WORK/missing.txt" -o "$WORK/m2.lm"
[ ! -e "$WORK/m2.lm" ] || { echo "FAIL: failed training left a file"; FAILS=$((FAILS+1)); }
expect_exit 2 "$ISOTOPE" lm train --quiet --corpus "$WORK/a.txt" --order 9 -o "$WORK/m2.lm"

# Corrupt and foreign model files.
head -c $(( $(stat -c %s "$WORK/m.lm") / 2 )) "$WORK/m.lm" > "$WORK/trunc.lm"
expect_exit 6 "$ISOTOPE" generate --key "$WORK/k.key" --model "$WORK/trunc.lm" -n 5
cp "$WORK/m.lm" "$WORK/flip.lm"
printf '\x55' | dd of="$WORK/flip.lm" bs=1 seek=200 conv=notrunc status=none
expect_exit 6 "$ISOTOPE" generate --key "$WORK/k.key" --model "$WORK/flip.lm" -n 5
expect_exit 6 "$ISOTOPE" generate --key "$WORK/k.key" --model "$WORK/a.txt" -n 5
expect_exit 3 "$ISOTOPE" generate --key "$WORK/k.key" --model "$WORK/missing.lm" -n 5
# A model trained with another tokenizer is refused (profile/tokenizer mismatch).
if command -v spm_train > /dev/null; then
  (cd "$WORK" && spm_train --input=a.txt --model_prefix=tiny --vocab_size=40 --model_type=char \
     --num_threads=1 --minloglevel=2 > /dev/null 2>&1)
  if [ -f "$WORK/tiny.model" ]; then
    expect_exit 7 "$ISOTOPE" generate --key "$WORK/k.key" --tokenizer "$WORK/tiny.model" -n 5
  fi
fi
finish
