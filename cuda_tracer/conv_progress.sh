#!/usr/bin/env bash
# One device call: build conv_progress_probe and run it on the shapes whose paging overhead the simulator
# overstates most (ResNet-18 b1's layer3 and layer4 convolutions, AlexNet b4's first fully connected layer),
# at the offsets their weights have in uvm_runtime's allocation. Writes $OUT/conv_progress_h100.jsonl.
#   OUT=/tmp/x [RETIME="runtime_resnet18_b1 ..."] cuda_tracer/conv_progress.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
B=${B:-/tmp/conv-progress-build}
OUT=${OUT:?set OUT}
cmake -S "$here" -B "$B" -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
cmake --build "$B" -j16 --target conv_progress_probe >"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
nvidia-smi --query-gpu=uuid,name,driver_version --format=csv,noheader >"$OUT/gpu.txt"
f=$OUT/conv_progress_h100.jsonl
: >"$f"
# shape n,c,h,w,k,r,s,stride,pad  offset of the weights in their 2 MiB block
while read -r shape offset; do
  "$B/conv_progress_probe" --shape "$shape" --offset "$offset" --reps 5 >>"$f" || exit 1
  "$B/conv_progress_probe" --shape "$shape" --offset "$offset" --reps 5 --after-another >>"$f" || exit 1
done <<'SHAPES'
1,512,7,7,512,3,3,1,1 0x15a000
1,256,14,14,256,3,3,1,1 0x15a000
4,9216,1,1,4096,1,1,1,0 0x100000
SHAPES
wc -l "$f"
# The same kernels inside uvm_runtime on this machine (RETIME: corpus traces to retime here, with the
# static uvmsim of scripts/build-static-uvmsim.sh; carry build-static and .deps).
if [ -n "${RETIME:-}" ]; then
  OUT="$OUT/retime" TIMING=5 RESIDENT=3 "$here/retime_corpus.sh" $RETIME >/dev/null 2>&1
  tail -3 "$OUT/retime/log.txt"
fi
