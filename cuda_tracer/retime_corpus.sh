#!/usr/bin/env bash
# One call on the GPU machine (device tool, nvidia-h100-x1; carry build-static and .deps): run the program of
# each named corpus trace again, TIMING times under uvmtrace's timing pass and RESIDENT times under its
# resident pass, and replace the trace's kernel and resident times with the median runs
# (`uvmsim trace retime`, with the static uvmsim of scripts/build-static-uvmsim.sh). A trace's single
# recorded run can be far from typical: fresh-process cold runs of one PyTorch model differed by 2x
# (cuda_tracer/recordings/torch_h100.jsonl). Builds the tracer, and the native runtime for runtime_*
# traces, in the folders the corpus was recorded with, so the traces' own command lines run as recorded.
#   OUT=dir TIMING=5 RESIDENT=3 cuda_tracer/retime_corpus.sh runtime_resnet18_b1 torch_alexnet_b8 ...
# Writes $OUT/traces.tar (each retimed NAME.uvmt, added as soon as it is done), $OUT/retime.jsonl (per
# trace: the passes' wall times and the retime notes) and $OUT/log.txt. Multi-process traces are skipped.
set -uo pipefail
OUT="${OUT:-/tmp/uvmtrace-out}"
TIMING="${TIMING:-5}"
RESIDENT="${RESIDENT:-3}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
root="$(cd "$(dirname "$0")/.." && pwd)"
UVMSIM="$root/build-static/uvmsim"
BT=/tmp/uvmtrace-build BW=/tmp/workloads-build R=/tmp/retime-rec T=/tmp/retime-traces
[ -x "$UVMSIM" ] || { echo "retime_corpus: $UVMSIM missing (scripts/build-static-uvmsim.sh, carry build-static)"; exit 1; }
rm -rf "$R" "$T"
mkdir -p "$R" "$T"
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version,pci.bus_id,uuid --format=csv,noheader
if [ ! -x "$BT/uvmtrace" ]; then
  cmake -S "$root/cuda_tracer" -B "$BT" -DCMAKE_BUILD_TYPE=Release >/dev/null &&
    cmake --build "$BT" -j16 >"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
fi
passes=""
for i in $(seq 1 "$TIMING"); do passes+="${passes:+,}timing.$i"; done
for i in $(seq 1 "$RESIDENT"); do passes+=",resident.$i"; done

for name in "$@"; do
  trace="$root/traces/corpus/$name.uvmt"
  [ -f "$trace" ] || { echo "retime_corpus: no trace $trace"; continue; }
  cmd="$("$UVMSIM" trace info "$trace" | sed -n 's/^command *//p')"
  case "$cmd" in
    *" & "*) echo "== $name: several processes, skipped"; continue ;;
    */uvm_runtime*)
      if [ ! -x "$BW/uvm_runtime" ]; then
        cmake -S "$root/workloads" -B "$BW" -DCMAKE_BUILD_TYPE=Release >>"$OUT/build.txt" &&
          cmake --build "$BW" -j16 >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
      fi ;;
  esac
  # The recording machine's checkout path becomes this one's.
  cmd="$(sed "s#[^ ]*/cuda_tracer/trace_torch.py#$root/cuda_tracer/trace_torch.py#" <<<"$cmd")"
  echo "== $(date +%T) $name: $cmd"
  read -ra argv <<<"$cmd"
  "$BT/uvmtrace" --out "$R/$name" --passes "$passes" -- "${argv[@]}" || { echo "RECORD FAILED: $name"; continue; }
  cat "$R/$name/passes.tsv"
  if "$UVMSIM" trace retime "$trace" --raw "$R/$name" --out "$T/$name.uvmt" >"$T/$name.retime.txt" 2>&1; then
    notes="$("$UVMSIM" trace info "$T/$name.uvmt" | grep "^pass" | grep -E "timing|resident" | sed 's/"/\\"/g' |
      awk '{ if (NR > 1) printf ", "; printf "\"%s\"", $0 }')"
    walls="$(tail -n +2 "$R/$name/passes.tsv" | awk '{ if (NR > 1) printf ", "; printf "\"%s\": %.1f", $1, $3 / 1e6 }')"
    echo "{\"name\": \"$name\", \"wall_ms\": {$walls}, \"notes\": [$notes]}" >>"$OUT/retime.jsonl"
    tar rf "$OUT/traces.tar" -C "$T" "$name.uvmt"
  else
    echo "RETIME FAILED: $name"; cat "$T/$name.retime.txt"
  fi
  rm -rf "$R/$name"
done
echo "== $(date +%T) done"
