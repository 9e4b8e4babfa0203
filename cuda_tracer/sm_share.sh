#!/usr/bin/env bash
# One device call: build sm_share_probe and libuvm_green.so, then measure how kernel times depend on SM
# partitions (green contexts), on the CTAs per SM and on a second kernel sharing the SMs: workloads/'s layer
# kernels and two synthetic ones (sm_share_probe.cu), and PyTorch's own kernels (torch/sm_share_torch.py).
# Writes $OUT/sm_share_h200.jsonl and $OUT/sm_share_torch_h200.jsonl (MODE=torch: the latter alone).
# MODE=ncu instead profiles the same kernels in their whole-GPU runs (132 SMs, no CTA cap) with Nsight
# Compute, what a resident pass can measure besides the time: per launch DRAM and L2 bytes, instructions,
# cycles, active and eligible warps and the share of cycles the SM sub-partitions issued. Writes
# $OUT/sm_share_ncu_probe.csv and $OUT/sm_share_ncu_torch.csv.
# MODE=ncu_detail profiles each kernel's whole-GPU run once (the probe's ten kernels alone, the torch ops
# without their random initialisation) with Nsight Compute's speed-of-light, compute, memory, warp-state and
# occupancy sections, every raw metric they read (pipe utilisations, L1 and shared-memory wavefronts, the
# stall reasons per issued instruction), one CSV row per launch: $OUT/sm_share_ncu_detail_{probe,torch}.csv.
# MODE=ncu_source lists every SASS instruction of the same launches with its execution count (Nsight
# Compute's source page), reduced by ncu_sass.py: $OUT/sm_share_sass_{probe,torch}_h200.jsonl.gz.
#   OUT=/tmp/x [REPS=7] [MODE=torch|ncu|ncu_detail|ncu_source] cuda_tracer/sm_share.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
B=${B:-/tmp/sm-share-build}
OUT=${OUT:?set OUT}
cmake -S "$here" -B "$B" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
cmake --build "$B" -j16 --target sm_share_probe uvm_green >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
# Nsight Compute locks the SM clock to its base (1.5 GHz on the H200) unless told not to; the timing runs
# see the GPU's own clocks (1.98 GHz), and an issue-bound kernel's share of cycles issued, and the cycles
# its warps wait on memory, differ between the two. So the profiles leave the clocks as they are.
CC="--clock-control none"
NCU=${NCU:-$(command -v ncu || echo /usr/local/cuda/bin/ncu)}
# What every profile runs: the probe's kernels alone on the whole GPU, uncapped, and the torch ops.
PROBE=("$B/sm_share_probe" --sms 132 --caps 0 --reps 1)
TORCH=(--target-processes all python3 "$here/torch/sm_share_torch.py" --lib "$B/libuvm_green.so" --reps 1
  --sms 132 --no-shapes)
if [ "${MODE:-time}" = ncu_source ]; then
  # Every SASS instruction of the same launches as MODE=ncu_detail (same filters) with the
  # times warps executed it: ncu_sass.py reduces each launch to its name, counts and SASS, from which it
  # finds how many loads a waiting warp keeps in flight.
  S="--section SourceCounters --page source --print-source sass --csv"
  timeout 250 "$NCU" $CC $S -k 'regex:^(?!stamp)' -c 20 "${PROBE[@]}" >"$OUT/src_probe.csv" 2>"$OUT/ncu_probe_err.txt"
  echo "probe rc $?"
  timeout 300 "$NCU" $CC $S -k 'regex:^(?!distribution)' "${TORCH[@]}" >"$OUT/src_torch.csv" 2>"$OUT/ncu_torch_err.txt"
  echo "torch rc $?"
  python3 "$here/ncu_sass.py" reduce "$OUT/src_probe.csv" "$OUT/sm_share_sass_probe_h200.jsonl.gz"
  python3 "$here/ncu_sass.py" reduce "$OUT/src_torch.csv" "$OUT/sm_share_sass_torch_h200.jsonl.gz"
  rm -f "$OUT/src_probe.csv" "$OUT/src_torch.csv"
  for f in "$OUT"/ncu_*_err.txt; do tail -n 3 "$f"; done
  ls -l "$OUT"
  exit 0
fi
if [ "${MODE:-time}" = ncu_detail ]; then
  S="--section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis"
  S="$S --section WarpStateStats --section Occupancy --section LaunchStats --section SchedulerStats"
  # The probe launches its ten kernels alone first, twice each (stamp kernels aside), then the pairs.
  timeout 250 "$NCU" $CC $S --page raw --csv -k 'regex:^(?!stamp)' -c 20 "${PROBE[@]}" \
    >"$OUT/sm_share_ncu_detail_probe.csv" 2>"$OUT/ncu_probe_err.txt"
  echo "probe rc $?"
  timeout 300 "$NCU" $CC $S --page raw --csv -k 'regex:^(?!distribution)' "${TORCH[@]}" \
    >"$OUT/sm_share_ncu_detail_torch.csv" 2>"$OUT/ncu_torch_err.txt"
  echo "torch rc $?"
  for f in "$OUT"/sm_share_ncu_detail_probe.csv "$OUT"/sm_share_ncu_detail_torch.csv; do
    sed -n '/^"ID"/,$p' "$f" | grep '^"' >"$f.rows" && mv "$f.rows" "$f"
    gzip -9 -k "$f"
  done
  for f in "$OUT"/ncu_*_err.txt; do tail -n 3 "$f"; done
  wc -lc "$OUT"/*.csv
  exit 0
fi
if [ "${MODE:-time}" = ncu ]; then
  M=dram__bytes_read.sum,dram__bytes_write.sum,lts__t_bytes.sum,l1tex__t_bytes.sum,smsp__inst_executed.sum
  M=$M,sm__cycles_elapsed.avg,sm__warps_active.avg.per_cycle_active,smsp__issue_active.avg.pct_of_peak_sustained_active
  M=$M,smsp__warps_eligible.avg.per_cycle_active,smsp__warps_active.avg.per_cycle_active
  M=$M,sm__throughput.avg.pct_of_peak_sustained_elapsed,gpu__time_duration.sum,launch__grid_size,launch__block_size
  M=$M,launch__registers_per_thread,launch__occupancy_limit_registers,launch__waves_per_multiprocessor
  # Memory instructions (warp-level) by kind: with the DRAM bytes they give the bytes a waiting warp has in
  # flight (sim/gpu/sm_share.h). Only those this ncu knows (one unknown metric fails the whole run).
  known=$("$NCU" --query-metrics 2>/dev/null | awk '{print $1}')
  for m in smsp__inst_executed_op_global_ld smsp__inst_executed_op_global_st smsp__inst_executed_op_generic_ld \
    smsp__inst_executed_op_generic_st smsp__inst_executed_op_ldgsts smsp__inst_executed_op_global_red \
    smsp__inst_executed_op_global_atom smsp__inst_executed_op_ldsm smsp__inst_executed_op_shared_ld; do
    if grep -qx "$m" <<<"$known"; then M=$M,$m.sum; else echo "ncu does not know $m"; fi
  done
  timeout 280 "$NCU" $CC --metrics "$M" --csv -k 'regex:^(?!stamp)' "${PROBE[@]}" >"$OUT/sm_share_ncu_probe.csv" \
    2>"$OUT/ncu_probe_err.txt"
  echo "probe rc $?"
  timeout 280 "$NCU" $CC --metrics "$M" --csv "${TORCH[@]}" >"$OUT/sm_share_ncu_torch.csv" 2>"$OUT/ncu_torch_err.txt"
  echo "torch rc $?"
  # ncu writes its CSV to stdout after the programs' own lines: keep the CSV rows only.
  for f in "$OUT"/sm_share_ncu_probe.csv "$OUT"/sm_share_ncu_torch.csv; do
    sed -n '/^"ID"/,$p' "$f" | grep '^"' >"$f.rows" && mv "$f.rows" "$f"
  done
  wc -l "$OUT"/*.csv
  exit 0
fi
nvidia-smi --query-gpu=uuid,name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader >"$OUT/gpu.txt"
cat "$OUT/gpu.txt"
rc=0
if [ "${MODE:-time}" != torch ]; then  # MODE=torch: the torch ops alone
  "$B/sm_share_probe" --reps "${REPS:-7}" >"$OUT/sm_share_h200.jsonl" 2>"$OUT/probe_err.txt"
  rc=$?
  cat "$OUT/probe_err.txt"
fi
python3 "$here/torch/sm_share_torch.py" --lib "$B/libuvm_green.so" --reps "${REPS:-7}" \
  >"$OUT/sm_share_torch_h200.jsonl" 2>"$OUT/torch_err.txt"
rt=$?
tail -20 "$OUT/torch_err.txt"
wc -l "$OUT"/*.jsonl
exit $((rc | rt))
