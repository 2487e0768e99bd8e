#!/usr/bin/env bash
# Sets up and builds isotope if needed, then runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cd "${ISOTOPE_BUILD_DIR:-build}"
exec ctest --output-on-failure -j"$(nproc 2>/dev/null || echo 2)" "$@"
