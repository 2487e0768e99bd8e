#!/usr/bin/env bash
# Regenerates the radioactivity table of docs/audit.md:
#
#   bench/radioactivity/run.sh [BUILD_DIR] [-- OPTIONS]
#
# BUILD_DIR (default: build) is a configured build tree; the experiment binary
# is built there if needed. OPTIONS go to isotope_radioactivity (--replicates,
# --student-tokens, --answer-tokens, --read-tokens, --rhos; see --help). The
# table is written to bench/radioactivity/results.md and to standard output.
# The default run takes a few minutes on two cores.
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/../experiment.sh" isotope_radioactivity "$here/results.md" "$@"
