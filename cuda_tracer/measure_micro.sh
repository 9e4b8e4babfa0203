#!/usr/bin/env bash
# One call on the GPU machine (device tool, nvidia-h100-x1): every micro-workload of the calibration, timed
# natively on that one machine (median of 5 after 1 warm-up, as reference/measurements.md): the table's
# patterns at 64 MiB, 256 MiB and 1 GiB, the zero-fill, 1 to 128 pages per CTA, and small first touches and
# zero-fills (one page to 8 MiB: kernels that fault a few pages, as a model's layers do, and so weigh the
# fixed costs of a fault batch and a service call against the per-page ones), and first touches and
# zero-fills strided across the CTAs (CTA c's thread t touches page t * CTAs + c: every CTA touches every
# stretch of the allocation, as a convolution's CTAs write their tile of every output channel, so each
# fault batch holds a few pages of many VA blocks), and pages shared by 2, 4 and 8 neighbouring CTAs (the
# duplicate faults of CTAs that share weights: no other row has any, and the model traces depend on their
# cost, results/calibration.md "Two machines"), and one page per CTA shared by 4 CTAs (an element-wise
# layer writing a fresh output: each CTA writes a quarter of a page). No tracing. Writes one JSON
# line per workload to $OUT/micro_one_machine.jsonl (scripts/micro_rows.py turns it into calibration rows).
#   OUT=dir cuda_tracer/measure_micro.sh
set -uo pipefail
OUT="${OUT:-/tmp/uvmtrace-out}"
mkdir -p "$OUT"
B=/tmp/uvm-micro-build
cmake -S "$(dirname "$0")" -B "$B" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$B" -j16 --target uvm_micro >/dev/null 2>&1 || exit 1
nvidia-smi --query-gpu=name,driver_version,pci.bus_id,uuid --format=csv,noheader
m() { "$B/uvm_micro" "$@" --reps 5 --warmup 1; }
{
  for s in 64MiB 256MiB 1GiB; do
    m --pattern seq --bytes "$s" --host-init --touch-back
    m --pattern random --bytes "$s" --host-init
    m --pattern seq --bytes "$s" --host-init --prefetch
  done
  m --pattern seq --bytes 256MiB --write
  for t in 1 4 16 32 64 128; do m --pattern seq --bytes 64MiB --host-init --threads-per-cta "$t"; done
  m --pattern seq --bytes 16MiB --host-init --threads-per-cta 1
  m --pattern seq --bytes 16MiB --write --threads-per-cta 1
  m --pattern seq --bytes 64MiB --write --threads-per-cta 1
  for s in 4KiB 64KiB 512KiB 2MiB 8MiB; do
    m --pattern seq --bytes "$s" --host-init
    m --pattern seq --bytes "$s" --write
  done
  for s in 8MiB 64MiB 256MiB; do
    m --pattern strided --bytes "$s" --host-init
    m --pattern strided --bytes "$s" --write
  done
  for k in 2 4 8; do
    m --pattern seq --bytes 64MiB --host-init --sharers "$k"
    m --pattern seq --bytes 64MiB --write --sharers "$k"
  done
  # An element-wise layer's pattern: each CTA writes a quarter of one fresh page (256 threads x 4 bytes),
  # so four neighbouring CTAs fault on each page: one page per CTA, shared by 4.
  for s in 16MiB 64MiB; do
    m --pattern seq --bytes "$s" --write --threads-per-cta 1 --sharers 4
    m --pattern seq --bytes "$s" --host-init --threads-per-cta 1 --sharers 4
  done
} | tee "$OUT/micro_one_machine.jsonl"
