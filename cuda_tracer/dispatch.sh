#!/usr/bin/env bash
# One device call: build dispatch_probe and record how the GPU hands CTA slots to two grids on two streams:
# $OUT/dispatch_h200.jsonl.
#   OUT=/tmp/x [REPS=3] cuda_tracer/dispatch.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
B=${B:-/tmp/dispatch-build}
OUT=${OUT:?set OUT}
cmake -S "$here" -B "$B" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
cmake --build "$B" -j16 --target dispatch_probe >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
nvidia-smi --query-gpu=name,uuid,clocks.sm,clocks.mem --format=csv,noheader
"$B/dispatch_probe" --reps "${REPS:-3}" | tee "$OUT/dispatch_h200.jsonl"
