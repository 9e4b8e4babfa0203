#!/usr/bin/env bash
# One call on the GPU machine (device tool, nvidia-h100-x1; carry build-static and .deps): build the tracer
# and the native runtime there (.deps/include holds a copy of nlohmann/json.hpp, which that machine lacks),
# check the layer kernels (layer_check), record uvm_runtime with every uvmtrace pass for each MODEL:BATCH
# given, and convert each recording there with the static uvmsim. Returns $OUT/traces.tar (NAME.uvmt),
# $OUT/runtime.jsonl (each recording's native run output and pass wall times) and $OUT/log.txt.
#   OUT=dir workloads/record_runtime.sh resnet18:1 mobilenet_v2:4 ...     (NAME: runtime_resnet18_b1, ...)
# With MIX=name:batch,... it first runs that mix natively (not traced; --iters 5 --checksum), then each of
# its models alone, and writes the output lines to $OUT/mix.jsonl: the mix runs and every model gives the
# same output checksum alone and together.
set -uo pipefail
OUT="${OUT:-/tmp/uvmtrace-out}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
root="$(cd "$(dirname "$0")/.." && pwd)"
UVMSIM="$root/build-static/uvmsim"
BT=/tmp/uvmtrace-build BW=/tmp/workloads-build R=/tmp/runtime-rec T=/tmp/runtime-traces
rm -rf "$R" "$T"; mkdir -p "$R" "$T"
cmake -S "$root/cuda_tracer" -B "$BT" -DCMAKE_BUILD_TYPE=Release >/dev/null && cmake --build "$BT" -j16 >"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
cmake -S "$root/workloads" -B "$BW" -DCMAKE_BUILD_TYPE=Release >>"$OUT/build.txt" && cmake --build "$BW" -j16 >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
"$BW/layer_check" | tail -1
if [ -n "${MIX:-}" ]; then
  echo "== $(date +%T) mix $MIX"
  "$BW/uvm_runtime" --models "$MIX" --iters 5 --checksum | tee -a "$OUT/mix.jsonl"
  for spec in ${MIX//,/ }; do "$BW/uvm_runtime" --models "$spec" --iters 5 --checksum | tee -a "$OUT/mix.jsonl"; done
fi
pids=()
for spec in "$@"; do
  name="runtime_${spec%%:*}_b${spec##*:}"
  echo "== $(date +%T) record $name"
  "$BT/uvmtrace" --out "$R/$name" -- "$BW/uvm_runtime" --models "$spec" || { echo "RECORD FAILED: $name"; continue; }
  cat "$R/$name/passes.tsv"
  native="$(cat "$R/$name/native/stdout")"
  walls="$(tail -n +2 "$R/$name/passes.tsv" | awk '{ if (NR > 1) printf ", "; printf "\"%s\": %.1f", $1, $3 / 1e6 }')"
  echo "{\"name\": \"$name\", \"spec\": \"$spec\", \"native\": $native, \"wall_ms\": {$walls}}" >>"$OUT/runtime.jsonl"
  ( "$UVMSIM" trace convert --raw "$R/$name" --out "$T/$name.uvmt" --tenant "${spec%%:*}#0" --model "${spec%%:*}" \
      --batch "${spec##*:}" && rm -rf "$R/$name" &&
      flock "$T/.lock" tar rf "$OUT/traces.tar" -C "$T" "$name.uvmt" ) &
  pids+=($!)
done
# Wait for the conversions only (a bare `wait` would also wait for the log's tee).
for p in "${pids[@]}"; do wait "$p"; done
ls -la "$T"
echo "== $(date +%T) done"
