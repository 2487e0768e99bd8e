#!/bin/sh
# Rebuilds isotope's bundled corpus and tokenizer from Debian 12 packages.
#
#   corpora/build_corpus.sh [--no-tokenizer] [--no-install] [OUT_DIR]
#
# OUT_DIR defaults to the folder holding this script (corpora/). Writes
#   OUT_DIR/train/*.txt, OUT_DIR/heldout/*.txt, OUT_DIR/prompts.jsonl and,
#   unless --no-tokenizer, OUT_DIR/tokenizer/isotope-8k.{model,vocab}.
# Missing packages are installed with apt-get (needs root) unless --no-install.
# The output is deterministic: with the package versions listed in
# corpora/README.md, every run writes the same bytes.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=$here
tokenizer=1
install=1
for arg in "$@"; do
  case $arg in
    --no-tokenizer) tokenizer=0 ;;
    --no-install) install=0 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "build_corpus.sh: unknown option $arg" >&2; exit 2 ;;
    *) out=$arg ;;
  esac
done

export LC_ALL=C.UTF-8
export PYTHONHASHSEED=0
umask 022

# Package -> version the bundled files were built from.
expected="bible-kjv=4.38 bible-kjv-text=4.38 jargon-text=4.4.7-4.1 dict-devil=1.0-13.1 wordnet-base=1:3.0-37 sentencepiece=0.1.97-3+b1"
packages="bible-kjv bible-kjv-text jargon-text dict-devil wordnet-base python3"
[ $tokenizer = 1 ] && packages="$packages sentencepiece"

missing=
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ $install = 0 ]; then
    echo "build_corpus.sh: missing packages:$missing" >&2; exit 1
  fi
  echo "Installing:$missing"
  apt-get update -q
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi

for pv in $expected; do
  p=${pv%%=*}; v=${pv#*=}
  [ $tokenizer = 0 ] && [ "$p" = sentencepiece ] && continue
  have=$(dpkg-query -W -f='${Version}' "$p")
  if [ "$have" != "$v" ]; then
    echo "build_corpus.sh: warning: $p is $have, the bundled files were built from $v;" \
         "the output may differ" >&2
  fi
done

rm -rf "$out/train" "$out/heldout"
/usr/bin/python3 "$here/scripts/make_corpus.py" "$out"

if [ $tokenizer = 1 ]; then
  "$here/scripts/train_tokenizer.sh" "$out"
fi

echo "SHA-256 of the outputs:"
cd "$out"
sha256sum train/*.txt heldout/*.txt prompts.jsonl
if [ $tokenizer = 1 ]; then sha256sum tokenizer/isotope-8k.model; fi
