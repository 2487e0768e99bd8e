#!/usr/bin/env bash
# Runs the neural distillation experiment (bench/distill/distill.py) with
# Debian's python3 and torch, the built isotope module, tcmalloc (large
# tensors are 60x faster to allocate than with glibc malloc) and, through
# Debian's alternatives, OpenBLAS with threads.
#   bench/distill/run.sh [--preset tiny|default|gpu] [flags...]   (see --help)
# ISOTOPE_BUILD_DIR: the build folder holding python/ and data/ (default: build).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${ISOTOPE_BUILD_DIR:-$root/build}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
if [ ! -d "$build/python/isotope" ]; then
  echo "run.sh: no isotope Python module in $build/python (build with scripts/setup.sh, or set ISOTOPE_BUILD_DIR)" >&2
  exit 2
fi
export PYTHONPATH="$build/python${PYTHONPATH:+:$PYTHONPATH}"
export ISOTOPE_DATA_DIR="${ISOTOPE_DATA_DIR:-$build/data}"
tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
if [ -e "$tcmalloc" ]; then export LD_PRELOAD="$tcmalloc${LD_PRELOAD:+:$LD_PRELOAD}"; fi
exec /usr/bin/python3 "$here/distill.py" "$@"
