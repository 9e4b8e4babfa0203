#!/usr/bin/env bash
# One device call: build placement_probe and record where a kernel's CTAs go while another kernel holds some
# SMs (results/placement.md): $OUT/placement.jsonl, after a line naming the GPU.
#   OUT=/tmp/x [REPS=3] cuda_tracer/placement.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:?set OUT}
nvcc -std=c++17 -arch=sm_90 -O2 -I "$here/programs" "$here/programs/placement_probe.cu" -o /tmp/placement_probe
gpu=$(nvidia-smi --query-gpu=uuid,name --format=csv,noheader | head -1)
echo "{\"gpu\": \"${gpu%%,*}\", \"device\": \"${gpu#*, }\", \"command\": \"placement_probe --reps ${REPS:-3}\"}" >"$OUT/placement.jsonl"
/tmp/placement_probe --reps "${REPS:-3}" >>"$OUT/placement.jsonl"
