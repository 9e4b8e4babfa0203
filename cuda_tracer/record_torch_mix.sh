#!/usr/bin/env bash
# Device tool (nvidia-h100-x1): a two-model mix on two streams (AlexNet and ResNet-18 at batch 1), every
# pass, raw records packed under $OUT; checks that kernels can be attributed to tenants by stream.
set -u
cmake -S cuda_tracer -B build-gpu >/dev/null && cmake --build build-gpu -j16 >"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
export PYTHONUNBUFFERED=1
build-gpu/uvmtrace --out /tmp/rec/mix_alexnet1_resnet18_1 -- python3 cuda_tracer/trace_torch.py --models alexnet:1,resnet18:1
echo "exit $?"; cat /tmp/rec/mix_alexnet1_resnet18_1/passes.tsv; cat /tmp/rec/mix_alexnet1_resnet18_1/native/stdout
grep -h "^stream" /tmp/rec/mix_alexnet1_resnet18_1/timing/events.tsv
cd /tmp/rec && tar cf - . | xz -6 -T16 >"$OUT/mix_raw.tar.xz"; ls -la "$OUT"
