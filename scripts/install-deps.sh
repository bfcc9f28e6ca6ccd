#!/usr/bin/env bash
# Installs libsbert's build and test dependencies from Debian's packages (as root, or via sudo).
# Skips apt entirely when everything is already there.
set -euo pipefail
PKGS=(cmake g++ make pkg-config unzip python3-minimal
      libeigen3-dev libyaml-cpp-dev libsimdjson-dev libsentencepiece-dev catch2
      libutf8proc-dev libopenblas-dev libopenmpi-dev openmpi-bin
      libboost-context-dev   # Boost.Context: the SIMT emulator's fibers (docs/emulator.md)
      libxxhash-dev          # XXH3-128 checksums of checkpoints (io/checksum.h)
      clang-14 libclang-rt-14-dev libomp-14-dev)  # libFuzzer targets (tests/fuzz/run.sh)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
