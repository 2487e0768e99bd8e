#!/usr/bin/env bash
# Calibration at scale: a million null tests per scheme on held-out human text
# (every test under its own fresh key), the empirical false-positive rate
# against the nominal one with exact binomial intervals, windowed detection
# on human documents, and the QQ plot. Writes bench/fpr/results.md and
# docs/fpr-qq.svg (docs/statistics.md shows both).
#
#   bench/fpr/calibrate.sh [BUILD_DIR] [TESTS_PER_SCHEME]   (defaults: build, 1000000)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$here/build}"
tests="${2:-1000000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
export ISOTOPE_DATA_DIR="${ISOTOPE_DATA_DIR:-$build/data}"
"$build/isotope_fpr" --tests "$tests" --scan-docs 80 --scan-keys 250 --qq "$work" > "$work/results.md"
cp "$work/results.md" "$here/bench/fpr/results.md"
python3 "$here/bench/fpr/qq.py" "$work" "$here/docs/fpr-qq.svg"
cat "$here/bench/fpr/results.md"
