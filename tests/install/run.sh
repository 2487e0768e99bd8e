#!/usr/bin/env bash
# Installs the built tree into a fresh prefix, moves the installed tree
# elsewhere, and uses it from outside: a C-only and a C++ CMake project
# (find_package), a C program built with pkg-config, the moved command's demo
# and the Python module. Nothing may depend on the build tree or on the
# prefix the tree was installed to.
set -euo pipefail
build_dir="$1"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# The installed tree must find its data by itself.
unset ISOTOPE_DATA_DIR PYTHONPATH
fails=0
pass=0
ok() { pass=$((pass + 1)); }
bad() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

cmake --install "$build_dir" --prefix "$work/first" > "$work/install.log"
mv "$work/first" "$work/moved"
p="$work/moved"
for f in bin/isotope include/isotope/isotope.h include/isotope/export.h include/isotope/watermark.hpp \
         lib/libisotope.a lib/cmake/isotope/isotopeConfig.cmake lib/pkgconfig/isotope.pc \
         share/isotope/isotope-8k.model share/isotope/isotope-default.lm share/isotope/prompts.jsonl; do
  [ -e "$p/$f" ] && ok || bad "$f not installed"
done
soname="$(readelf -d "$p"/lib/libisotope.so | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')"
[ -n "$soname" ] && [ -e "$p/lib/$soname" ] && ok || bad "libisotope.so has no SONAME, or its file is missing"
# Only the public API leaves the shared library.
nm -D --defined-only "$p"/lib/libisotope.so > "$work/symbols"
grep -q ' T isotope_watermark_apply$' "$work/symbols" && ok || bad "the C API is not exported"
if grep -qE ' [TW] _ZN7isotope[0-9]*(kernels|detail|internal)' "$work/symbols" ||
   nm -D --defined-only -C "$p"/lib/libisotope.so | grep -qE 'isotope::(SecretFile|aes_|kernels::)'; then
  bad "internal functions are exported"
else ok; fi

# C only, with the shared and the static library.
if cmake -S "$here/c" -B "$work/c" -DCMAKE_PREFIX_PATH="$p" > "$work/c.log" 2>&1 &&
   cmake --build "$work/c" >> "$work/c.log" 2>&1; then
  for exe in c_demo c_demo_static; do
    out="$("$work/c/$exe" 2>&1)" || true
    [[ "$out" == rc=ok* ]] && ok || bad "$exe: $out"
  done
else
  bad "the C-only consumer does not build"; tail -20 "$work/c.log" >&2
fi

# C++ with no standard set.
if cmake -S "$here/cxx" -B "$work/cxx" -DCMAKE_PREFIX_PATH="$p" > "$work/cxx.log" 2>&1 &&
   cmake --build "$work/cxx" >> "$work/cxx.log" 2>&1; then
  out="$("$work/cxx/cxx_demo" 2>&1)" || true
  [[ "$out" == "ok data=$p/"* ]] && ok || bad "cxx_demo (data must be found in the moved tree): $out"
else
  bad "the C++ consumer does not build"; tail -20 "$work/cxx.log" >&2
fi

# pkg-config.
if flags="$(PKG_CONFIG_PATH="$p/lib/pkgconfig" pkg-config --cflags --libs isotope)"; then
  ok
  # shellcheck disable=SC2086
  if cc -o "$work/pc_demo" "$here/c/main.c" $flags -Wl,-rpath,"$p/lib" 2> "$work/pc.log"; then
    out="$("$work/pc_demo" 2>&1)" || true
    [[ "$out" == rc=ok* ]] && ok || bad "pkg-config consumer: $out"
  else
    bad "the pkg-config consumer does not build"; cat "$work/pc.log" >&2
  fi
  inc="$(PKG_CONFIG_PATH="$p/lib/pkgconfig" pkg-config --variable=includedir isotope)"
  [ "$(cd "$inc" && pwd -P)" = "$(cd "$p/include" && pwd -P)" ] && ok || bad "pkg-config does not point into the moved tree: $flags"
else
  bad "pkg-config --cflags --libs isotope failed"
fi

# The moved command: demo and generate find the bundled data.
"$p/bin/isotope" demo -n 200 > "$work/demo.log" 2>&1 && ok || { bad "moved isotope demo failed"; tail "$work/demo.log" >&2; }
"$p/bin/isotope" generate --no-watermark -n 20 --seed 1 -q -o "$work/g.txt" && ok || bad "moved isotope generate failed"
# Without its data, the error names ISOTOPE_DATA_DIR.
mv "$p/share/isotope" "$p/share/isotope.away"
if "$p/bin/isotope" generate --no-watermark -n 20 -q -o "$work/g2.txt" 2> "$work/err.txt"; then
  bad "generate without data succeeded"
else
  grep -q 'ISOTOPE_DATA_DIR' "$work/err.txt" && ok || { bad "the missing-data error does not name ISOTOPE_DATA_DIR"; cat "$work/err.txt" >&2; }
fi
mv "$p/share/isotope.away" "$p/share/isotope"

# The Python module, when it was built: where PYTHONPATH points (the prefix
# is not /usr/local here), and it finds the data of the moved tree.
pydir="$(cd "$p" && ls -d lib/python3*/dist-packages 2>/dev/null | head -1 || true)"
if [ -n "$pydir" ] && [ -e "$p/$pydir/isotope/__init__.py" ]; then
  if PYTHONPATH="$p/$pydir" /usr/bin/python3 -c \
      'import isotope; assert len(isotope.Tokenizer().encode("a moved tree")) > 0; print("ok")' > "$work/py.log" 2>&1; then
    ok
  else
    bad "the installed Python module does not load or find its data"; cat "$work/py.log" >&2
  fi
fi
echo "$pass passed, $fails failed"
[ "$fails" -eq 0 ]
