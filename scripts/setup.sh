#!/usr/bin/env bash
# Installs what isotope needs on Debian 12 (if missing), then configures and
# builds it in ./build (or $ISOTOPE_BUILD_DIR). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config libssl-dev libsodium-dev libsentencepiece-dev libpcre2-dev libicu-dev
          libcli11-dev catch2 nlohmann-json3-dev libbenchmark-dev sentencepiece
          git dpkg-dev file openssl   # build revision; cpack -G DEB; timestamp tests
          chromium fonts-dejavu-core
          # the Python module, its tests and the neural experiment (Debian's python3)
          python3-dev pybind11-dev python3-pybind11 python3-numpy python3-pytest python3-torch
          python3-dask python3-distributed
          libopenblas0-pthread libtcmalloc-minimal4
          # the fuzz targets (libFuzzer comes with clang's runtime libraries)
          clang libclang-rt-14-dev
          # the attack suite's synonyms (bench/attacks)
          wordnet)
# node and npm run the tokenizer reference tests (tests/tokenizers); any
# installed node will do, Debian's only when there is none.
command -v node > /dev/null && command -v npm > /dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

build="${ISOTOPE_BUILD_DIR:-build}"
jobs="$(nproc 2>/dev/null || echo 2)"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE="${ISOTOPE_BUILD_TYPE:-Release}" -DPython3_EXECUTABLE=/usr/bin/python3 \
  ${ISOTOPE_CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j"$jobs"

# The libFuzzer targets, built with clang in their own folder (docs/fuzzing.md);
# scripts/test.sh gives each a short run. ISOTOPE_FUZZ_BUILD=0 skips them.
if [ "${ISOTOPE_FUZZ_BUILD:-1}" != 0 ] && command -v clang++ >/dev/null; then
  fuzz_build="${ISOTOPE_FUZZ_BUILD_DIR:-build-fuzz}"
  CC=clang CXX=clang++ cmake -S . -B "$fuzz_build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DISOTOPE_FUZZ=ON \
    -DISOTOPE_BUILD_TESTS=OFF -DISOTOPE_BUILD_BENCH=OFF -DISOTOPE_BUILD_PYTHON=OFF ${ISOTOPE_CMAKE_ARGS:-} >/dev/null
  cmake --build "$fuzz_build" -j"$jobs" --target fuzz_keys fuzz_json fuzz_report fuzz_model fuzz_tokenizer \
    fuzz_predictions fuzz_accounts
fi
