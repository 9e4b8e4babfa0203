#!/usr/bin/env bash
# Installs the Debian packages uvmsim builds and tests with, only where missing (quick when all are there).
set -euo pipefail
pkgs=(cmake g++ make xz-utils tar clang libclang-rt-14-dev ccache pkg-config nlohmann-json3-dev libcli11-dev libgtest-dev
      libbenchmark-dev libzstd-dev libsqlite3-dev libopenmpi-dev openmpi-bin python3 python3-matplotlib)
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
