#!/usr/bin/env bash
# One call on the GPU machine (device tool; carry .deps, which holds a copy of nlohmann/json.hpp): build the
# native runtime and run it with models on SM partitions (uvm_runtime --sms, green contexts through
# cuda_tracer/src/green_context.h): each model alone on the whole GPU and on fewer SMs, then two models at
# once sharing the GPU, on an even split and on an uneven (BARM-like) one. Every run prints its output
# checksums, which must not depend on the partition or the mix, and the SMs each model got.
# Writes $OUT/green_runtime.jsonl and $OUT/log.txt.
#   OUT=dir [MODELS=resnet50:8,vgg16:8] [SPLITS="66,66 32,100"] [ALONE="132 64 32"] workloads/green_runtime.sh
set -uo pipefail
OUT="${OUT:?set OUT}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
root="$(cd "$(dirname "$0")/.." && pwd)"
BW=/tmp/workloads-build
MODELS="${MODELS:-resnet50:8,vgg16:8}"
cmake -S "$root/workloads" -B "$BW" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 &&
  cmake --build "$BW" -j16 --target uvm_runtime >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
nvidia-smi --query-gpu=name,uuid,memory.used,memory.total --format=csv,noheader
run() { "$BW/uvm_runtime" --iters "${ITERS:-7}" --checksum "$@" | tee -a "$OUT/green_runtime.jsonl"; }
for spec in ${MODELS//,/ }; do
  for n in ${ALONE:-132 64 32}; do run --models "$spec" --sms "$n"; done
done
run --models "$MODELS" --sms 0,0
for split in ${SPLITS:-66,66 32,100}; do run --models "$MODELS" --sms "$split"; done
echo "== $(date +%T) done"
