#!/usr/bin/env bash
# One device call: build cta_time_probe and record how much the CTAs of one kernel differ in duration
# (streaming and compute-only CTAs of several lengths): $OUT/cta_time_h200.jsonl.
#   OUT=/tmp/x [REPS=3] cuda_tracer/cta_time.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
B=${B:-/tmp/cta-time-build}
OUT=${OUT:?set OUT}
cmake -S "$here" -B "$B" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
cmake --build "$B" -j16 --target cta_time_probe >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
nvidia-smi --query-gpu=name,uuid,clocks.sm,clocks.mem --format=csv,noheader
"$B/cta_time_probe" --reps "${REPS:-3}" | tee "$OUT/cta_time_h200.jsonl"
