#!/usr/bin/env bash
# One device call: record the micro-workloads on green-context partitions of the GPU (uvm_micro --sms N)
# with every pass (the access capture on the whole GPU), three timing runs and three events passes (the UVM driver's own batches), and convert
# each recording there with the static uvmsim (scripts/build-static-uvmsim.sh; carry build-static/uvmsim):
# the trace of the median timing run (`uvmsim trace retime`), its GPU the partition.
#   OUT=/tmp/x [SMS="132 72 32 16 8"] [CASES="seq_64m random_64m ..."] cuda_tracer/record_partitions.sh
# $OUT/traces.tar: micro_<case>_sm<N>.uvmt; $OUT/summary.jsonl: each events pass's batches
# (cuda_tracer/uvm_events.py) with the program's timings; $OUT/log.txt.
set -uo pipefail
OUT=${OUT:?set OUT}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
B=${B:-/tmp/partitions-build}
R=/tmp/partitions-rec
U="$root/build-static/uvmsim"
rm -rf "$R"
mkdir -p "$R" "$OUT"
[ -x "$U" ] || { echo "record_partitions: $U missing (scripts/build-static-uvmsim.sh, then carry build-static/uvmsim)"; exit 1; }
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader
cmake -S "$here" -B "$B" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
cmake --build "$B" -j16 --target uvmtrace uvm_micro uvmaccess uvmaccess_patch >>"$OUT/build.txt" 2>&1 ||
  { tail -30 "$OUT/build.txt"; exit 1; }
. "$here/micro_cases.sh"
# The access capture runs once per case on the whole GPU (a CTA touches the same pages on any partition,
# and the Compute Sanitizer cannot copy from a green context's stream) and joins each partition's recording.
passes=native,timing,timing.2,timing.3,counters,resident,events.1,events.2,events.3
for c in ${CASES:-seq_64m random_64m strided_64m dense_64m shared_64m seq_256m}; do
  "$B/uvmtrace" --out "$R/${c}_access" --passes access -- "$B/uvm_micro" ${micro_args[$c]} ||
    { echo "ACCESS FAILED: $c"; continue; }
  for n in ${SMS:-132 72 32 16 8}; do
    name=micro_${c}_sm$n
    echo "== $name: uvm_micro ${micro_args[$c]} --sms $n"
    t0=$(date +%s)
    "$B/uvmtrace" --out "$R/$name" --passes "$passes" -- "$B/uvm_micro" ${micro_args[$c]} --sms "$n" ||
      { echo "RECORD FAILED: $name"; continue; }
    cp -r "$R/${c}_access/access" "$R/$name/access"
    tail -n +2 "$R/${c}_access/passes.tsv" >>"$R/$name/passes.tsv"
    for p in events.1 events.2 events.3; do
      prog=$(grep -h '"program"' "$R/$name/$p/stdout" | head -1)
      python3 "$here/uvm_events.py" "$R/$name/$p/uvm_events.bin" |
        python3 -c "import json,sys; d=json.loads(sys.stdin.read()); d.update(case='$name', run_pass='$p', run=json.loads('''${prog:-null}''')); d.pop('file', None); print(json.dumps(d))"
    done >>"$OUT/summary.jsonl"
    "$U" trace convert --raw "$R/$name" --out "$R/$name.first.uvmt" &&
      "$U" trace retime "$R/$name.first.uvmt" --raw "$R/$name" --out "$R/$name.uvmt" &&
      tar rf "$OUT/traces.tar" -C "$R" "$name.uvmt" || echo "CONVERT FAILED: $name"
    echo "   $(($(date +%s) - t0)) s"
  done
done
ls -la "$OUT"
