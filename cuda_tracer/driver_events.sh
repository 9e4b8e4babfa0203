#!/usr/bin/env bash
# One device call: build the tracer and record micro-workloads with the events pass (the UVM driver's own
# event queue, cuda_tracer/src/uvm_events.h) beside a timing pass, to see what the queue reports: fault
# entries per batch, VA blocks per batch, replays, migrations, dropped events, and how much the tracker
# slows the program (the touch kernel's CUDA-event time in the timing pass against the events passes').
#   OUT=/tmp/x [REPS=2] [MODE=summary,overhead,testdata] cuda_tracer/driver_events.sh
# MODE summary (the default): $OUT/summary.jsonl, one line per (case, pass) from cuda_tracer/uvm_events.py
#   with the program's own timings, and $OUT/<case>.tar.gz, each case's raw records (every pass);
# MODE overhead: $OUT/overhead.jsonl, the touch kernel's time (the program's CUDA events) in REPS runs each
#   without any tool (native.K), under the timing pass (timing.K) and under the events pass (events.K);
# MODE testdata: $OUT/raw_h200_events.tar.xz, a whole recording of a 16 MiB sequential first touch (every
#   pass and two events passes) for the converter's tests (cuda_tracer/testdata/).
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
targets="uvmtrace uvm_micro"
[[ ,${MODE:-summary}, == *,testdata,* ]] && targets="$targets uvmaccess uvmaccess_patch"
cmake --build "$B" -j16 --target $targets >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
# Delayed events (migrations, replays) reach the queue once their channel's progress is updated: the reader
# flushes at the end, and in the `flushed` runs also every millisecond while the program runs.
passes="timing"
for i in $(seq 1 "${REPS:-2}"); do passes="$passes,events.$i"; done
flushed=""
for i in $(seq 1 "${REPS:-2}"); do flushed="$flushed${flushed:+,}events.f$i"; done
MODE=${MODE:-summary}
cases=("seq_64m --pattern seq --bytes 64MiB --host-init"
       "random_64m --pattern random --bytes 64MiB --host-init"
       "dense_64m --pattern seq --bytes 64MiB --host-init --threads-per-cta 1"
       "seq_256m --pattern seq --bytes 256MiB --host-init")
if [[ ,$MODE, == *,overhead,* ]]; then
  over=""
  for kind in native timing events; do
    for i in $(seq 1 "${REPS:-2}"); do over="$over${over:+,}$kind.$i"; done
  done
  for c in "${cases[@]}"; do
    read -r -a a <<<"$c"
    name=${a[0]}
    "$B/uvmtrace" --out "$R/over_$name" --passes "$over" -- "$B/uvm_micro" "${a[@]:1}" || echo "OVERHEAD FAILED: $name"
    for p in ${over//,/ }; do
      prog=$(grep -h '"program"' "$R/over_$name/$p/stdout" | head -1)
      echo "{\"case\": \"$name\", \"run_pass\": \"$p\", \"run\": ${prog:-null}}"
    done | tee -a "$OUT/overhead.jsonl"
  done
fi
if [[ ,$MODE, == *,testdata,* ]]; then
  "$B/uvmtrace" --out "$R/micro_seq_16m_events" \
    --passes native,timing,counters,access,resident,events.1,events.2 -- \
    "$B/uvm_micro" --pattern seq --bytes 16MiB --host-init || echo "TESTDATA FAILED"
  cat "$R/micro_seq_16m_events/passes.tsv"
  tar cJf "$OUT/raw_h200_events.tar.xz" -C "$R" micro_seq_16m_events
fi
[[ ,$MODE, == *,summary,* ]] || { ls -la "$OUT"; exit 0; }
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
