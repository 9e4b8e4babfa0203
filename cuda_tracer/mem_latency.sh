#!/usr/bin/env bash
# One device call: build mem_latency_probe and dram_mix_probe and record the GPU's memory curve (latency and
# bandwidth against the bytes in flight, on 132, 32 and 8 SMs): $OUT/mem_latency_h200.jsonl; and the DRAM's
# bandwidth against the share of writes: $OUT/dram_mix_h200.jsonl.
#   OUT=/tmp/x [REPS=5] cuda_tracer/mem_latency.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
B=${B:-/tmp/mem-latency-build}
OUT=${OUT:?set OUT}
cmake -S "$here" -B "$B" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
cmake --build "$B" -j16 --target mem_latency_probe dram_mix_probe >>"$OUT/build.txt" 2>&1 ||
  { tail -30 "$OUT/build.txt"; exit 1; }
nvidia-smi --query-gpu=name,uuid,clocks.sm,clocks.mem --format=csv,noheader
"$B/mem_latency_probe" --reps "${REPS:-5}" | tee "$OUT/mem_latency_h200.jsonl"
"$B/dram_mix_probe" --reps "${REPS:-5}" | tee "$OUT/dram_mix_h200.jsonl"
