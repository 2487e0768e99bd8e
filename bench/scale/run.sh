#!/usr/bin/env bash
# Scale benchmarks (bench/scale/results.md): the closed audit of exactly 1M suspect tokens with 100 controls
# and without, on 1 and 2 threads; detect over 1M JSONL lines (peak memory); a Dask closed audit with the
# filter over 10M suspect tokens on LocalClusters of 1 and 2 workers against the single-machine JSON.
#   bench/scale/run.sh [BUILD_DIR]   (data go to $WORK, default /tmp/isotope-scale)
set -euo pipefail
SRC="$(cd "$(dirname "$0")/../.." && pwd)"
BUILD="$(cd "${1:-$SRC/build}" && pwd)"
WORK="${WORK:-/tmp/isotope-scale}"
I="$BUILD/isotope"
export PYTHONPATH="$BUILD/python" ISOTOPE_DATA_DIR="$BUILD/data"
PY=/usr/bin/python3
mkdir -p "$WORK" && cd "$WORK"
[ -f key ] || "$I" keygen -q key >/dev/null
[ -f s1m.jsonl ] || $PY "$SRC/bench/scale/make_data.py" suspect 1000000 s1m.jsonl
[ -f s10m.jsonl ] || $PY "$SRC/bench/scale/make_data.py" suspect 10000000 s10m.jsonl
[ -f teacher.jsonl ] || $PY "$SRC/bench/scale/make_data.py" teacher teacher.jsonl
[ -f lines1m.jsonl ] || $PY "$SRC/bench/scale/make_data.py" lines 1000000 lines1m.jsonl
SEED=$(printf '%064d' 0)
t() { /usr/bin/time -f "  %e s wall, %U s user, %S s sys, peak RSS %M KB" "$@"; }
echo "load before: $(uptime)"
for c in 100 0; do
  for n in 1 2; do
    echo "closed audit, 1M suspect tokens, $c controls, $n thread(s):"
    t "$I" audit -q --key key --suspect s1m.jsonl --control $c --control-seed $SEED --threads $n --json -o a$c-$n.json
  done
  cmp -s a$c-1.json a$c-2.json && echo "  1 and 2 threads: identical JSON"
done
$PY -c "import json; j=json.load(open('a0-2.json')); print('  tokens', j['tokens'], 'scored', j['scored'])"
echo "closed audit, 1M suspect tokens, filter, 100 controls, 2 threads:"
t "$I" audit -q --key key --suspect s1m.jsonl --teacher teacher.jsonl --control 100 --control-seed $SEED --threads 2 --json -o af.json
echo "detect, 1M JSONL lines (results streamed to a file):"
t "$I" detect -k key --jsonl --json lines1m.jsonl >d.jsonl
wc -l <d.jsonl
echo "Dask, closed audit with the filter, 10M suspect tokens, 10 controls:"
$PY "$SRC/bench/scale/dask_bench.py" "$I" key s10m.jsonl teacher.jsonl 10
echo "load after: $(uptime)"
