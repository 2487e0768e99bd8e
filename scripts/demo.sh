#!/usr/bin/env bash
# Sets up and builds isotope if needed, then runs the demo on the bundled data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec "${ISOTOPE_BUILD_DIR:-build}/isotope" demo "$@"
