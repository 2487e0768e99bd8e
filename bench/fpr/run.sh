#!/usr/bin/env bash
# False-positive rate of `isotope detect` on human text.
#
# Scores every held-out document of the bundled corpus (corpora/heldout/,
# never seen by the tokenizer's or the model's training) under KEYS fresh
# random keys, with and without dedup, and prints a markdown table: the share
# of texts with p < 0.01 and p < 0.05 against the nominal rates, and the
# smallest p-value seen.
#
#   bench/fpr/run.sh [ISOTOPE_BINARY] [KEYS] [SCHEMES]
#       (defaults: build/isotope, 20, "kgw gumbel synthid"; KGW also without dedup)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
isotope="${1:-$here/build/isotope}"
keys="${2:-20}"
schemes="${3:-kgw gumbel synthid}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# One JSONL line {"text": ...} per held-out document.
python3 - "$here/corpora/heldout" > "$work/docs.jsonl" <<'PY'
import json, pathlib, sys
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.txt")):
    for para in f.read_text(encoding="utf-8").split("\n\n"):
        para = para.strip()
        if para:
            print(json.dumps({"text": para, "source": f.stem}))
PY

for i in $(seq 1 "$keys"); do
  "$isotope" keygen -q -o "$work/k$i.key" > /dev/null
  for s in $schemes; do
    "$isotope" detect --key "$work/k$i.key" --scheme "$s" --jsonl --json "$work/docs.jsonl" > "$work/$s-dedup-$i.jsonl"
  done
  case " $schemes " in *" kgw "*)
    "$isotope" detect --key "$work/k$i.key" --jsonl --json --no-dedup "$work/docs.jsonl" > "$work/kgw-nodedup-$i.jsonl";;
  esac
done

python3 - "$work" "$keys" $schemes <<'PY'
import json, pathlib, sys
work, keys, schemes = pathlib.Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
def load(prefix):
    rows = []
    for i in range(1, keys + 1):
        rows += [json.loads(l) for l in (work / f"{prefix}-{i}.jsonl").read_text().splitlines()]
    return rows
print(f"| scheme, rule | texts scored | median tokens scored | p < 0.01 | p < 0.05 | smallest p |")
print(f"| --- | --- | --- | --- | --- | --- |")
runs = [(f"{s}, dedup (default)", f"{s}-dedup") for s in schemes]
if "kgw" in schemes:
    runs.append(("kgw, no dedup (invalid)", "kgw-nodedup"))
for name, prefix in runs:
    rows = load(prefix)
    n = len(rows)
    lp = sorted(r["log10_p"] for r in rows)
    scored = sorted(r["scored"] for r in rows)
    below1 = sum(1 for x in lp if x < -2)
    below5 = sum(1 for x in lp if x < -1.3010299956639813)
    print(f"| {name} | {n} | {scored[n // 2]} | {below1} ({100 * below1 / n:.2f}%, nominal 1%) "
          f"| {below5} ({100 * below5 / n:.2f}%, nominal 5%) | 10^{lp[0]:.2f} |")
PY
