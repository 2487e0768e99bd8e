#!/usr/bin/env bash
# Installs what isotope needs on Debian 12 (if missing), then configures and
# builds it in ./build (or $ISOTOPE_BUILD_DIR). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential cmake pkg-config libssl-dev libsodium-dev libsentencepiece-dev
          libcli11-dev catch2 nlohmann-json3-dev libbenchmark-dev sentencepiece libicu-dev
          chromium fonts-dejavu-core
          # the Python module, its tests and the neural experiment (Debian's python3)
          python3-dev pybind11-dev python3-pybind11 python3-numpy python3-pytest python3-torch
          libopenblas0-pthread libtcmalloc-minimal4)
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
