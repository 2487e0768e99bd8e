#!/usr/bin/env bash
# Installs the built tree into a temporary prefix, then builds and runs a C
# program against it with find_package(isotope): the install rules and the
# CMake package config work.
set -euo pipefail
build_dir="$1"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" > "$work/install.log"
for f in bin/isotope include/isotope/isotope.h include/isotope/watermark.hpp \
         lib/cmake/isotope/isotopeConfig.cmake share/isotope/isotope-8k.model share/isotope/isotope-default.lm; do
  [ -e "$work/prefix/$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
cmake -S "$here" -B "$work/consumer" -DCMAKE_PREFIX_PATH="$work/prefix" > "$work/configure.log"
cmake --build "$work/consumer" > "$work/build.log"
out="$("$work/consumer/c_demo")"
echo "$out"
[[ "$out" == rc=ok* ]] || { echo "FAIL: consumer program failed"; exit 1; }
ISOTOPE_DATA_DIR="$work/prefix/share/isotope" "$work/prefix/bin/isotope" demo -n 200 > "$work/demo.log" \
  || { echo "FAIL: installed isotope demo failed"; cat "$work/demo.log"; exit 1; }
echo "1 passed, 0 failed"
