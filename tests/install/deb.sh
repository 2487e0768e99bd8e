#!/usr/bin/env bash
# Builds the Debian package with `cpack -G DEB` and checks it: its
# dependencies, that it holds the command, the headers, the libraries, the
# CMake and pkg-config files and the Python module, and that the unpacked
# tree runs `isotope demo` and imports the module with Debian's python3.
set -euo pipefail
build_dir="$(cd "$1" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
unset ISOTOPE_DATA_DIR PYTHONPATH
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

(cd "$work" && cpack -G DEB --config "$build_dir/CPackConfig.cmake" -B "$work/out" > "$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log" >&2; echo "FAIL: cpack -G DEB"; exit 1; }
deb="$(ls "$work"/out/*.deb | head -1)"
[ -n "$deb" ] || { echo "FAIL: no .deb"; exit 1; }
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' > "$work/files"
for f in /usr/bin/isotope /usr/include/isotope/isotope.h /usr/lib/libisotope.a /usr/lib/cmake/isotope/isotopeConfig.cmake \
         /usr/lib/pkgconfig/isotope.pc /usr/share/isotope/isotope-8k.model /usr/share/isotope/isotope-default.lm; do
  grep -qx "$f" "$work/files" && ok || bad "$f is not in the package"
done
grep -q '^/usr/lib/libisotope.so' "$work/files" && ok || bad "the shared library is not in the package"
if [ -e "$build_dir/python/isotope/__init__.py" ]; then  # the Python module was built
  grep -qE '^/usr/lib/python3[.0-9]*/dist-packages/isotope/__init__.py$' "$work/files" && ok ||
    bad "the Python module is not where Debian's python3 looks"
fi
depends="$(dpkg-deb -f "$deb" Depends)"
for d in libc6 libssl libsodium libsentencepiece; do
  [[ "$depends" == *"$d"* ]] && ok || bad "Depends lacks $d: $depends"
done
# Unpacked anywhere, the tree runs (it finds its data relative to itself).
dpkg-deb -x "$deb" "$work/root"
"$work/root/usr/bin/isotope" demo -n 200 > "$work/demo.log" 2>&1 && ok || { bad "demo from the package"; tail "$work/demo.log" >&2; }
py="$(cd "$work/root/usr/lib" && ls -d python3*/dist-packages 2>/dev/null | head -1 || true)"
if [ -n "$py" ]; then
  PYTHONPATH="$work/root/usr/lib/$py" /usr/bin/python3 -c \
    'import isotope; assert len(isotope.Tokenizer().encode("packaged")) > 0' && ok || bad "the packaged Python module"
fi
echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
