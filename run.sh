#!/usr/bin/env bash
# The main job: install what is missing, build in Release, and simulate the H100 micro-workloads at 100%,
# 75% and 50% of their footprint under the default driver model (sim/configs/h100.json).
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DUVMSIM_WERROR=ON >/dev/null
cmake --build build/release -j"$(nproc)" --target uvmsim
build/release/uvmsim micro-table --config sim/configs/h100.json --bytes "${BYTES:-1GiB}"
