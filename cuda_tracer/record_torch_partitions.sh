#!/usr/bin/env bash
# One device call: record PyTorch models on green-context partitions (trace_torch.py --sms N) with the
# timing, counter, resident and driver-event passes, the access capture once per model on the whole GPU
# (a CTA touches the same pages on any partition, cuDNN and cuBLAS pick the same kernels, and the Compute
# Sanitizer cannot copy from a green context's stream), and convert each there with the static uvmsim
# (scripts/build-static-uvmsim.sh; carry build-static/uvmsim): the trace of the median timing run
# (`uvmsim trace retime`), its GPU the partition. A pass of trace_torch.py takes about 11 s (Python and
# torch start-up), so a model at five partitions takes about 7 minutes: one model per call.
#   OUT=/tmp/x [MODELS="resnet18:1"] [SMS="132 72 32 16 8"] [EVENTS=2] cuda_tracer/record_torch_partitions.sh
# $OUT/traces.tar: torch_<model>_b<batch>_sm<N>.uvmt; $OUT/summary.jsonl: each events pass's batches
# (cuda_tracer/uvm_events.py); $OUT/log.txt.
set -uo pipefail
OUT=${OUT:?set OUT}
here=$(cd "$(dirname "$0")" && pwd)
U="$(cd "$here/.." && pwd)/build-static/uvmsim"
B=/tmp/rtorch-build R=/tmp/rtorch-rec
rm -rf "$R"
mkdir -p "$R" "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
[ -x "$U" ] || { echo "record_torch_partitions: $U missing (scripts/build-static-uvmsim.sh)"; exit 1; }
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader
cmake -S "$here" -B "$B" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 &&
  cmake --build "$B" -j16 >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
export PYTHONUNBUFFERED=1
torch_py=(python3 "$here/trace_torch.py" --allocator "$B/libuvm_pool_alloc.so" --green-lib "$B/libuvm_green.so")
events=""
for i in $(seq 1 "${EVENTS:-2}"); do events+=",events.$i"; done
passes=timing,timing.2,timing.3,counters,resident$events
for spec in ${MODELS:-resnet18:1}; do
  model=${spec%%:*} batch=${spec##*:}
  base=torch_${model}_b$batch
  echo "== $(date +%T) $base: access"
  "$B/uvmtrace" --out "$R/${base}_access" --passes access -- "${torch_py[@]}" --models "$spec" ||
    { echo "ACCESS FAILED: $base"; continue; }
  for n in ${SMS:-132 72 32 16 8}; do
    name=${base}_sm$n
    echo "== $(date +%T) $name"
    "$B/uvmtrace" --out "$R/$name" --passes "$passes" -- "${torch_py[@]}" --models "$spec" --sms "$n" ||
      { echo "RECORD FAILED: $name"; continue; }
    cp -r "$R/${base}_access/access" "$R/$name/access"
    tail -n +2 "$R/${base}_access/passes.tsv" >>"$R/$name/passes.tsv"
    cat "$R/$name/passes.tsv"
    for p in ${events//,/ }; do
      python3 "$here/uvm_events.py" "$R/$name/$p/uvm_events.bin" |
        python3 -c "import json,sys; d=json.loads(sys.stdin.read()); d.update(case='$name', run_pass='$p'); d.pop('file', None); print(json.dumps(d))"
    done >>"$OUT/summary.jsonl"
    "$U" trace convert --raw "$R/$name" --out "$R/$name.first.uvmt" &&
      "$U" trace retime "$R/$name.first.uvmt" --raw "$R/$name" --out "$R/$name.uvmt" &&
      tar rf "$OUT/traces.tar" -C "$R" "$name.uvmt" || echo "CONVERT FAILED: $name"
    rm -rf "$R/$name"
  done
done
ls -la "$OUT"
