#!/usr/bin/env bash
# The serving check's GPU side, one device call (carry .deps: nlohmann/json.hpp, which the GPU machine
# lacks): build uvm_serve there and serve each SPEC (warm and cold variants are separate specs) RUNS times,
# each run its own process. Returns $OUT/SPECNAME.RUN.jsonl (one line per request, then the run's summary),
# $OUT/gpu.txt (nvidia-smi -L and the driver) and $OUT/log.txt.
#   OUT=dir RUNS=3 workloads/serve_check.sh sim/serving/examples/check_warm.json sim/serving/examples/check_cold.json
set -uo pipefail
OUT="${OUT:-/tmp/serve-check}"
RUNS="${RUNS:-3}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
root="$(cd "$(dirname "$0")/.." && pwd)"
BW=/tmp/serve-build
nvidia-smi -L >"$OUT/gpu.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv >>"$OUT/gpu.txt"
cmake -S "$root/workloads" -B "$BW" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 &&
  cmake --build "$BW" -j16 --target uvm_serve >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
for spec in "$@"; do
  name="$(basename "$spec" .json)"
  for r in $(seq 1 "$RUNS"); do
    echo "== $(date +%T) $name run $r"
    "$BW/uvm_serve" --spec "$spec" --log "$OUT/$name.$r.jsonl" || echo "RUN FAILED: $name $r"
  done
done
echo "== $(date +%T) done"
