#!/usr/bin/env bash
# One device call: build sm_share_probe and libuvm_green.so, then measure how kernel times depend on SM
# partitions (green contexts), on the CTAs per SM and on a second kernel sharing the SMs: workloads/'s layer
# kernels and two synthetic ones (sm_share_probe.cu), and PyTorch's own kernels (torch/sm_share_torch.py).
# Writes $OUT/sm_share_h200.jsonl and $OUT/sm_share_torch_h200.jsonl.
#   OUT=/tmp/x [REPS=7] cuda_tracer/sm_share.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
B=${B:-/tmp/sm-share-build}
OUT=${OUT:?set OUT}
cmake -S "$here" -B "$B" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
cmake --build "$B" -j16 --target sm_share_probe uvm_green >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
nvidia-smi --query-gpu=uuid,name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader >"$OUT/gpu.txt"
cat "$OUT/gpu.txt"
"$B/sm_share_probe" --reps "${REPS:-7}" >"$OUT/sm_share_h200.jsonl" 2>"$OUT/probe_err.txt"
rc=$?
cat "$OUT/probe_err.txt"
python3 "$here/torch/sm_share_torch.py" --lib "$B/libuvm_green.so" --reps "${REPS:-7}" \
  >"$OUT/sm_share_torch_h200.jsonl" 2>"$OUT/torch_err.txt"
rt=$?
tail -20 "$OUT/torch_err.txt"
wc -l "$OUT"/*.jsonl
exit $((rc | rt))
