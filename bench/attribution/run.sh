#!/usr/bin/env bash
# Regenerates the attribution tables of docs/attribution.md:
#
#   bench/attribution/run.sh [BUILD_DIR] [-- OPTIONS]
#
# BUILD_DIR (default: build) is a configured build tree; the experiment binary
# is built there if needed. OPTIONS go to isotope_attribution (--replicates,
# --accounts, --student-tokens, --rho, --alphas, --shares, --others,
# --other-tokens, --null-families, --no-closed, --seed; see --help). The tables
# are written to bench/attribution/results.md (results-NAME.md with
# RESULTS=NAME) and to standard output.
here="$(cd "$(dirname "$0")" && pwd)"
exec "$here/../experiment.sh" isotope_attribution "$here/results${RESULTS:+-$RESULTS}.md" "$@"
