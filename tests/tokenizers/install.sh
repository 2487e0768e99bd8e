#!/usr/bin/env bash
# Installs the reference encoder and the models' tokenizer.json files (the npm
# packages of package.json, pinned by package-lock.json) into DIR/node_modules.
# Runs npm only when DIR does not already hold this very lock file's install.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
dir="${1:?usage: install.sh DIR}"
mkdir -p "$dir"
if [ -f "$dir/node_modules/.isotope-lock" ] && cmp -s "$here/package-lock.json" "$dir/node_modules/.isotope-lock"; then
  exit 0
fi
command -v npm > /dev/null || { echo "install.sh: npm is needed for the tokenizer reference tests" >&2; exit 1; }
cp "$here/package.json" "$here/package-lock.json" "$dir/"
(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
cp "$here/package-lock.json" "$dir/node_modules/.isotope-lock"
