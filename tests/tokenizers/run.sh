#!/usr/bin/env bash
# One reference test: a fresh corpus (seed $ISOTOPE_CORPUS_SEED, default 1,
# plus long texts), tokenized by the reference encoder and by isotope.
#   run.sh ISOTOPE NPM_DIR NAME
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
python3 "$here/make_corpus.py" --seed "${ISOTOPE_CORPUS_SEED:-1}" --count 600 --long > "$work/corpus.jsonl"
python3 "$here/compare.py" "$1" "$2/node_modules" "$work/corpus.jsonl" "$3"
