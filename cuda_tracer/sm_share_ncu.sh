#!/usr/bin/env bash
# One device call: Nsight Compute metrics of the sm_share kernels in their whole-GPU runs (132 SMs, no CTA
# cap): what a resident pass can measure besides the time, for the SM-sharing model. Per kernel launch:
# DRAM and L2 bytes, instructions, cycles, active warps and the share of cycles an SM sub-partition issued.
# Writes $OUT/sm_share_ncu_probe.csv and $OUT/sm_share_ncu_torch.csv.
#   OUT=/tmp/x cuda_tracer/sm_share_ncu.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
B=${B:-/tmp/sm-share-build}
OUT=${OUT:?set OUT}
cmake -S "$here" -B "$B" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
cmake --build "$B" -j16 --target sm_share_probe uvm_green >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
NCU=${NCU:-$(command -v ncu || echo /usr/local/cuda/bin/ncu)}
M=dram__bytes_read.sum,dram__bytes_write.sum,lts__t_bytes.sum,l1tex__t_bytes.sum,smsp__inst_executed.sum,sm__cycles_elapsed.avg,sm__warps_active.avg.per_cycle_active,smsp__issue_active.avg.pct_of_peak_sustained_active,sm__throughput.avg.pct_of_peak_sustained_elapsed,gpu__time_duration.sum,launch__grid_size,launch__block_size,launch__registers_per_thread,launch__occupancy_limit_registers,launch__waves_per_multiprocessor
timeout 280 "$NCU" --metrics "$M" --csv -k 'regex:^(?!stamp)' "$B/sm_share_probe" --sms 132 --caps 0 --reps 1 \
  >"$OUT/sm_share_ncu_probe.csv" 2>"$OUT/ncu_probe_err.txt"
echo "probe rc $?"; tail -3 "$OUT/ncu_probe_err.txt"
timeout 280 "$NCU" --metrics "$M" --csv --target-processes all python3 "$here/torch/sm_share_torch.py" \
  --lib "$B/libuvm_green.so" --reps 1 --sms 132 --no-shapes >"$OUT/sm_share_ncu_torch.csv" 2>"$OUT/ncu_torch_err.txt"
echo "torch rc $?"; tail -3 "$OUT/ncu_torch_err.txt"
wc -l "$OUT"/*.csv
