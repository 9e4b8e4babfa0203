#!/usr/bin/env bash
# Exploratory (device tool, nvidia-h100-x1): for each torchvision model at batch 1 and 8, the native cold
# and warm inference times and the cost of the access pass ((CTA, page) pairs, raw bytes, wall time),
# to size the PyTorch corpus. Full recordings of the small ones come back under $OUT.
set -u
cmake -S cuda_tracer -B build-gpu >/dev/null && cmake --build build-gpu -j16 >"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
export PYTHONUNBUFFERED=1
for m in resnet18 mobilenet_v2 resnet50 alexnet vgg16; do
  for b in 1 8; do
    python3 cuda_tracer/trace_torch.py --models $m:$b 2>&1 | tail -1
    t0=$(date +%s%N)
    timeout 150 build-gpu/uvmtrace --out /tmp/acc_${m}_$b --passes access -- python3 cuda_tracer/trace_torch.py --models $m:$b >/dev/null 2>&1
    rc=$?
    t1=$(date +%s%N)
    echo "access $m:$b exit $rc wall $(( (t1 - t0) / 1000000 )) ms raw $(stat -c %s /tmp/acc_${m}_$b/access/access.bin 2>/dev/null) $(grep -h uvmaccess /tmp/acc_${m}_$b/access/stderr)"
    rm -rf /tmp/acc_${m}_$b
  done
done 2>&1 | tee "$OUT/probe.txt"
timeout 200 build-gpu/uvmtrace --out /tmp/rec/mobilenet_v2_1 -- python3 cuda_tracer/trace_torch.py --models mobilenet_v2:1; echo "mobilenet exit $?"
cd /tmp/rec 2>/dev/null && tar cf - . | xz -3 -T16 >"$OUT/torch_raw.tar.xz"; ls -la "$OUT"
