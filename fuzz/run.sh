#!/usr/bin/env bash
# run.sh FUZZER SEED_DIR RUNS: fuzzes from the seeds in a scratch corpus for
# RUNS executions; fails on any crash, leak, hang or sanitizer report, and
# leaves the input that caused it (crash-*, leak-*, timeout-*, oom-*) in the
# folder it was started from.
set -euo pipefail
fuzzer="$(readlink -f "$1")" seeds="$(readlink -f "$2")" runs="$3" here="$PWD"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
cp "$seeds"/* "$work/corpus/" 2>/dev/null || true
cd "$work"
"$fuzzer" -runs="$runs" -max_len=65536 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix="$here/" corpus
