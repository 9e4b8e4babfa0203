#!/usr/bin/env bash
# The main job: install what is missing, build in Release, simulate the H100 micro-workloads at 100%, 75%
# and 50% of their footprint under the default driver model (sim/configs/h100.json), then serve the
# four-model mix (sim/serving/examples/mix4.json) on the H200 model at 50% of its memory (out/mix4_50:
# stats.json with each tenant's latency percentiles, requests.csv).
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DUVMSIM_WERROR=ON >/dev/null
cmake --build build/release -j"$(nproc)" --target uvmsim
build/release/uvmsim micro-table --config sim/configs/h100.json --bytes "${BYTES:-1GiB}"
build/release/uvmsim serve --spec sim/serving/examples/mix4.json --config sim/configs/h200.json \
  --set gpu.memory_fraction=0.5 --out out/mix4_50
