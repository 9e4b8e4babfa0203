#!/usr/bin/env bash
# One device call: build the tracer and record micro-workloads with the events pass (the UVM driver's own
# event queue, cuda_tracer/src/uvm_events.h) beside a timing pass, to see what the queue reports: fault
# entries per batch, VA blocks per batch, replays, migrations, dropped events, and how much the tracker
# slows the program (the touch kernel's CUDA-event time in the timing pass against the events passes').
#   OUT=/tmp/x [REPS=3] cuda_tracer/driver_events.sh
# $OUT/summary.jsonl: one line per (case, pass) from cuda_tracer/uvm_events.py, with the program's own
# timings; $OUT/<case>.tar.gz: each case's raw records (every pass).
set -uo pipefail
OUT=${OUT:?set OUT}
here=$(cd "$(dirname "$0")" && pwd)
B=${B:-/tmp/driver-events-build}
R=/tmp/driver-events-rec
rm -rf "$R"
mkdir -p "$R" "$OUT"
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
cat /sys/module/nvidia_uvm/parameters/uvm_perf_fault_batch_count 2>/dev/null | sed 's/^/uvm_perf_fault_batch_count /'
ls -la /dev/nvidia-uvm-tools
cmake -S "$here" -B "$B" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
cmake --build "$B" -j16 --target uvmtrace uvm_micro >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
# Delayed events (migrations, replays) reach the queue once their channel's progress is updated: the reader
# flushes at the end, and in the `flushed` runs also every millisecond while the program runs.
passes="timing"
for i in $(seq 1 "${REPS:-2}"); do passes="$passes,events.$i"; done
flushed=""
for i in $(seq 1 "${REPS:-2}"); do flushed="$flushed${flushed:+,}events.f$i"; done
cases=("seq_64m --pattern seq --bytes 64MiB --host-init"
       "random_64m --pattern random --bytes 64MiB --host-init"
       "dense_64m --pattern seq --bytes 64MiB --host-init --threads-per-cta 1"
       "seq_256m --pattern seq --bytes 256MiB --host-init")
for c in "${cases[@]}"; do
  read -r -a a <<<"$c"
  name=${a[0]}
  echo "== $name"
  UVMTRACE_EVENT_FLUSH_US=0 "$B/uvmtrace" --out "$R/$name" --passes "$passes" -- "$B/uvm_micro" "${a[@]:1}" ||
    echo "RECORD FAILED: $name"
  UVMTRACE_EVENT_FLUSH_US=1000 "$B/uvmtrace" --out "$R/$name.flushed" --passes "$flushed" -- "$B/uvm_micro" \
    "${a[@]:1}" || echo "RECORD FAILED: $name (flushed)"
  cat "$R/$name/passes.tsv" "$R/$name.flushed/passes.tsv"
  for p in ${passes//,/ } ${flushed//,/ }; do
    d="$R/$name/$p"
    [ -d "$d" ] || d="$R/$name.flushed/$p"
    grep -h "driver_events" "$d/events.tsv" >&2
    prog=$(grep -h '"program"' "$d/stdout" | head -1)
    f="$d/uvm_events.bin"
    if [ -f "$f" ]; then
      python3 "$here/uvm_events.py" "$f" | python3 -c "import json,sys; d=json.loads(sys.stdin.read()); d.update(case='$name', run_pass='$p', run=json.loads('''${prog:-null}''')); print(json.dumps(d))"
    else
      echo "{\"case\": \"$name\", \"run_pass\": \"$p\", \"run\": ${prog:-null}}"
    fi
  done | tee -a "$OUT/summary.jsonl"
  tar czf "$OUT/$name.tar.gz" -C "$R" "$name" "$name.flushed"
done
ls -la "$OUT"
