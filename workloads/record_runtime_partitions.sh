#!/usr/bin/env bash
# One device call: record uvm_runtime's models on green-context partitions (uvm_runtime --sms N) with every
# pass (the access capture once per model on the whole GPU: a CTA touches the same pages on any partition,
# and the Compute Sanitizer cannot copy from a green context's stream), three timing runs and three events
# passes (the UVM driver's own batches), and convert each there with the static uvmsim (carry
# build-static/uvmsim and .deps, which holds a copy of nlohmann/json.hpp: workloads/README.md).
#   OUT=/tmp/x [MODELS="alexnet:1 resnet18:1"] [SMS="132 72 32 16 8"] workloads/record_runtime_partitions.sh
# A model may be a spec file: MODELS="workloads/models/layers/conv3x3.json:1" (one layer kernel on its own).
# $OUT/traces.tar: runtime_<model>_b<batch>_sm<N>.uvmt; $OUT/summary.jsonl: each events pass's batches
# (cuda_tracer/uvm_events.py); $OUT/log.txt.
set -uo pipefail
OUT=${OUT:?set OUT}
root=$(cd "$(dirname "$0")/.." && pwd)
U="$root/build-static/uvmsim"
BT=/tmp/rtp-tracer BW=/tmp/rtp-workloads R=/tmp/rtp-rec
rm -rf "$R"
mkdir -p "$R" "$OUT"
[ -x "$U" ] || { echo "record_runtime_partitions: $U missing (scripts/build-static-uvmsim.sh)"; exit 1; }
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader
cmake -S "$root/cuda_tracer" -B "$BT" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 &&
  cmake --build "$BT" -j16 --target uvmtrace uvmaccess uvmaccess_patch >>"$OUT/build.txt" 2>&1 &&
  cmake -S "$root/workloads" -B "$BW" -DCMAKE_BUILD_TYPE=Release >>"$OUT/build.txt" 2>&1 &&
  cmake --build "$BW" -j16 --target uvm_runtime >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
passes=native,timing,timing.2,timing.3,counters,resident,events.1,events.2,events.3
for spec in ${MODELS:-alexnet:1 resnet18:1}; do
  model=${spec%%:*} batch=${spec##*:}
  # a spec file (workloads/models/layers/conv3x3.json:1) records as its file's name
  [[ $model == *.json ]] && model=$(basename "$model" .json)
  base=runtime_${model}_b$batch
  "$BT/uvmtrace" --out "$R/${base}_access" --passes access -- "$BW/uvm_runtime" --models "$spec" ||
    { echo "ACCESS FAILED: $base"; continue; }
  for n in ${SMS:-132 72 32 16 8}; do
    name=${base}_sm$n
    echo "== $name"
    t0=$(date +%s)
    "$BT/uvmtrace" --out "$R/$name" --passes "$passes" -- "$BW/uvm_runtime" --models "$spec" --sms "$n" ||
      { echo "RECORD FAILED: $name"; continue; }
    cp -r "$R/${base}_access/access" "$R/$name/access"
    tail -n +2 "$R/${base}_access/passes.tsv" >>"$R/$name/passes.tsv"
    for p in events.1 events.2 events.3; do
      python3 "$root/cuda_tracer/uvm_events.py" "$R/$name/$p/uvm_events.bin" |
        python3 -c "import json,sys; d=json.loads(sys.stdin.read()); d.update(case='$name', run_pass='$p'); d.pop('file', None); print(json.dumps(d))"
    done >>"$OUT/summary.jsonl"
    "$U" trace convert --raw "$R/$name" --out "$R/$name.first.uvmt" --tenant "$model#0" --model "$model" \
      --batch "$batch" && "$U" trace retime "$R/$name.first.uvmt" --raw "$R/$name" --out "$R/$name.uvmt" &&
      tar rf "$OUT/traces.tar" -C "$R" "$name.uvmt" || echo "CONVERT FAILED: $name"
    echo "   $(($(date +%s) - t0)) s"
  done
done
ls -la "$OUT"
