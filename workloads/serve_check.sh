#!/usr/bin/env bash
# The serving check's GPU side, one device call (carry .deps: nlohmann/json.hpp, which the GPU machine
# lacks): build uvm_serve there and serve each SPEC (warm and cold variants are separate specs) RUNS times,
# each run its own process. Returns $OUT/SPECNAME.RUN.jsonl (one line per request, then the run's summary),
# $OUT/gpu.txt (nvidia-smi -L and the driver) and $OUT/log.txt. EVENTS=N (default 0) adds N runs of each
# spec under the tracer's events pass (the UVM driver's own fault batches): $OUT/SPECNAME.events.RUN.jsonl
# (its requests) and $OUT/SPECNAME.events.RUN.tenants.json (scripts/events_by_tenant.py: each tenant's
# fault batches; the raw events are too large to bring back).
#   OUT=dir RUNS=3 workloads/serve_check.sh sim/serving/examples/check_warm.json sim/serving/examples/check_cold.json
#   OUT=dir RUNS=3 EVENTS=1 workloads/serve_check.sh sim/serving/examples/green_even.json
set -uo pipefail
OUT="${OUT:-/tmp/serve-check}"
RUNS="${RUNS:-3}"
EVENTS="${EVENTS:-0}"
BT=/tmp/serve-tracer
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
root="$(cd "$(dirname "$0")/.." && pwd)"
BW=/tmp/serve-build
nvidia-smi -L >"$OUT/gpu.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used --format=csv >>"$OUT/gpu.txt"
cmake -S "$root/workloads" -B "$BW" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 &&
  cmake --build "$BW" -j16 --target uvm_serve >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
if [ "$EVENTS" -gt 0 ]; then
  cmake -S "$root/cuda_tracer" -B "$BT" -DCMAKE_BUILD_TYPE=Release >>"$OUT/build.txt" 2>&1 &&
    cmake --build "$BT" -j16 --target uvmtrace >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
fi
for spec in "$@"; do
  name="$(basename "$spec" .json)"
  for r in $(seq 1 "$RUNS"); do
    echo "== $(date +%T) $name run $r"
    "$BW/uvm_serve" --spec "$spec" --log "$OUT/$name.$r.jsonl" || echo "RUN FAILED: $name $r"
  done
  for r in $(seq 1 "$EVENTS"); do
    echo "== $(date +%T) $name events run $r"
    rec="/tmp/serve-events/$name.$r"
    rm -rf "$rec"
    "$BT/uvmtrace" --out "$rec" --passes events.1 -- "$BW/uvm_serve" --spec "$spec" --log "$OUT/$name.events.$r.jsonl" &&
      python3 "$root/scripts/events_by_tenant.py" "$OUT/$name.events.$r.jsonl" "$rec/events.1/uvm_events.bin" \
        >"$OUT/$name.events.$r.tenants.json" || echo "EVENTS RUN FAILED: $name $r"
    cat "$OUT/$name.events.$r.tenants.json" 2>/dev/null
    rm -rf "$rec"
  done
done
echo "== $(date +%T) done"
