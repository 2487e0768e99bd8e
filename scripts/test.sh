#!/usr/bin/env bash
# Sets up and builds isotope if needed, then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs="$(nproc 2>/dev/null || echo 2)"
ctest --test-dir "${ISOTOPE_BUILD_DIR:-build}" --output-on-failure -j"$jobs" "$@"
# A short run of every fuzz target, where setup.sh built them (clang present).
fuzz_build="${ISOTOPE_FUZZ_BUILD_DIR:-build-fuzz}"
if [ "${ISOTOPE_FUZZ_BUILD:-1}" != 0 ] && [ -f "$fuzz_build/CTestTestfile.cmake" ]; then
  ctest --test-dir "$fuzz_build" --output-on-failure -j"$jobs" -R '^fuzz\.'
fi
