#!/usr/bin/env bash
# One device call: the access capture alone (`--passes access`, whole GPU) of every H200 corpus workload, to
# read what a warp's access is to its uTLB: per launch and access kind, how many (warp access, page) pairs
# touched 1, 2, ..., 32 distinct 128-byte lines of the page (lines.tsv), and how many (CTA, page) pairs were
# touched by 1, 2, ..., 32 of the CTA's warps (warps.tsv; cuda_tracer/RAW.md). Accesses do not depend on the
# partition, so one capture per workload.
#   OUT=/tmp/x [MICRO="seq_64m ..."] [RUNTIME="alexnet:1 ..."] [TORCH="alexnet:1 ..."] cuda_tracer/record_lines.sh
# $OUT/lines.tar.gz holding lines/<workload>.tsv and warps/<workload>.tsv (the trace's name without _sm<N>;
# one archive, as a device call returns at most 8 files), $OUT/log.txt. Then, here, unpacked:
#   scripts/stamp_lines.sh build/release/uvmsim DIR/lines (every partition trace of each workload).
set -uo pipefail
OUT=${OUT:?set OUT}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
B=/tmp/lines-tracer BW=/tmp/lines-workloads R=/tmp/lines-rec
rm -rf "$R"
mkdir -p "$R" "$OUT/lines" "$OUT/warps"
exec > >(tee -a "$OUT/log.txt") 2>&1
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader
cmake -S "$here" -B "$B" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 &&
  cmake --build "$B" -j16 >>"$OUT/build.txt" 2>&1 &&
  cmake -S "$root/workloads" -B "$BW" -DCMAKE_BUILD_TYPE=Release >>"$OUT/build.txt" 2>&1 &&
  cmake --build "$BW" -j16 --target uvm_runtime >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
capture() {  # name, then the program and its arguments
  local name=$1
  shift
  local t0=$(date +%s)
  timeout 300 "$B/uvmtrace" --out "$R/$name" --passes access -- "$@" >"$R/$name.log" 2>&1 ||
    { echo "ACCESS FAILED: $name"; tail -5 "$R/$name.log"; return; }
  local f=$(find "$R/$name" -name lines.tsv | head -1)
  [ -n "$f" ] && cp "$f" "$OUT/lines/$name.tsv" || echo "NO lines.tsv: $name"
  f=$(find "$R/$name" -name warps.tsv | head -1)
  [ -n "$f" ] && cp "$f" "$OUT/warps/$name.tsv" || echo "NO warps.tsv: $name"
  echo "== $name: $(($(date +%s) - t0)) s, $(grep -vc '^end' "$OUT/lines/$name.tsv" 2>/dev/null) rows"
}
. "$here/micro_cases.sh"
for c in ${MICRO-seq_64m random_64m strided_64m dense_64m shared_64m seq_256m chain_16m}; do
  capture "micro_$c" "$B/uvm_micro" ${micro_args[$c]}
done
for spec in ${RUNTIME-alexnet:1 resnet18:1 workloads/models/layers/conv3x3.json:1 workloads/models/layers/dwconv3x3.json:1 workloads/models/layers/linear4096.json:1 workloads/models/layers/relu.json:1}; do
  model=${spec%%:*} batch=${spec##*:}
  [[ $model == *.json ]] && model=$(basename "$model" .json)
  (cd "$root" && capture "runtime_${model}_b$batch" "$BW/uvm_runtime" --models "$spec")
done
export PYTHONUNBUFFERED=1
for spec in ${TORCH-alexnet:1 resnet18:1 mobilenet_v2:1}; do
  capture "torch_${spec%%:*}_b${spec##*:}" python3 "$here/trace_torch.py" --allocator "$B/libuvm_pool_alloc.so" \
    --green-lib "$B/libuvm_green.so" --models "$spec"
done
ls -la "$OUT/lines" "$OUT/warps"
tar czf "$OUT/lines.tar.gz" -C "$OUT" lines warps && rm -rf "$OUT/lines" "$OUT/warps"
