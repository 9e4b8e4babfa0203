#!/usr/bin/env bash
# One device call: what a fault batch costs per copy, against per page and per mapping. uvm_micro's
# --run-pages R touches R consecutive pages of every 2R (half of the allocation, CPU-initialised or never
# touched): the same faults and VA blocks, in runs of R pages, so of another count of contiguous runs
# (HtoD copies, PTE writes). Timed natively (no tool; median of 5 after 1 warm-up), on the same machine as
# the seq baseline; then one events pass per case (16 MiB, and 64 MiB at R = 1, 8, 16) for the driver's
# batches and migrations (copies); their raw event files come back as a tarball.
#   OUT=dir cuda_tracer/copy_runs.sh
#   -> $OUT/copy_runs.jsonl (timings), $OUT/copy_runs_events.jsonl (uvm_events.py summaries),
#      $OUT/copy_runs_events.tar.xz
set -uo pipefail
OUT=${OUT:?set OUT}
here=$(cd "$(dirname "$0")" && pwd)
B=${B:-/tmp/copy-runs-build}
R=/tmp/copy-runs-rec
rm -rf "$R"
mkdir -p "$R" "$OUT"
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
cmake -S "$here" -B "$B" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
cmake --build "$B" -j16 --target uvmtrace uvm_micro >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
m() { "$B/uvm_micro" "$@" --reps 5 --warmup 1; }
{
  for s in 16MiB 64MiB; do
    m --pattern seq --bytes "$s" --host-init
    for r in 1 2 4 8 16; do m --pattern seq --bytes "$s" --host-init --run-pages "$r"; done
    for r in 1 8 16; do m --pattern seq --bytes "$s" --write --run-pages "$r"; done
  done
} | tee "$OUT/copy_runs.jsonl"
for c in host_16MiB_0 host_16MiB_1 host_16MiB_2 host_16MiB_4 host_16MiB_8 host_16MiB_16 zero_16MiB_1 zero_16MiB_8 \
  zero_16MiB_16 host_64MiB_1 host_64MiB_8 zero_64MiB_1 zero_64MiB_8 zero_64MiB_16; do
  IFS=_ read -r init size r <<<"$c"
  name=runs_$c
  args=(--pattern seq --bytes "$size")
  if [ "$init" = host ]; then args+=(--host-init); else args+=(--write); fi
  [ "$r" -gt 0 ] && args+=(--run-pages "$r")
  UVMTRACE_EVENT_FLUSH_US=0 "$B/uvmtrace" --out "$R/$name" --passes timing,events.1 -- "$B/uvm_micro" "${args[@]}" \
    >"$R/$name.log" 2>&1 || { echo "RECORD FAILED: $name"; tail -5 "$R/$name.log"; }
  f="$R/$name/events.1/uvm_events.bin"
  prog=$(grep -h '"program"' "$R/$name/events.1/stdout" 2>/dev/null | head -1)
  if [ -f "$f" ]; then
    python3 "$here/uvm_events.py" "$f" |
      CASE="$name" PROG="${prog:-null}" python3 -c "import json,os,sys; d=json.loads(sys.stdin.read()); d.update(case=os.environ['CASE'], run=json.loads(os.environ['PROG'])); print(json.dumps(d))"
  else
    echo "{\"case\": \"$name\", \"run\": ${prog:-null}}"
  fi
done | tee "$OUT/copy_runs_events.jsonl"
(cd "$R" && tar cJf "$OUT/copy_runs_events.tar.xz" runs_*/events.1/uvm_events.bin)
ls -la "$OUT"
