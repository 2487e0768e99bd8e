#!/usr/bin/env bash
# The attack suite (bench/attacks/attacks.py) against the built Python module:
# markdown tables of the true positive rate after each edit, per scheme and
# context width, without and with the normalizers (docs/robustness.md).
#
#   bench/attacks/run.sh [BUILD_DIR] [ATTACKS.PY OPTIONS...]   (default: build, --texts 30)
set -euo pipefail
here="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$here/build}"
shift || true
export PYTHONPATH="$build/python${PYTHONPATH:+:$PYTHONPATH}"
export ISOTOPE_DATA_DIR="${ISOTOPE_DATA_DIR:-$build/data}"
exec /usr/bin/python3 "$here/bench/attacks/attacks.py" "$@"
