#!/usr/bin/env bash
# One call on the GPU machine (device tool, nvidia-h100-x1; carry build-static): record PyTorch models with
# every uvmtrace pass and convert each recording there with the static uvmsim of
# scripts/build-static-uvmsim.sh, so that raw records (up to ~600 MB of access pairs) never travel; only
# the traces come back. Each single-model recording is followed by a native timing run (--repeat REPS,
# medians). Usage:
#   OUT=dir cuda_tracer/record_torch.sh NAME=SPEC ...
#     SPEC  models for trace_torch.py, e.g. resnet18:1 or alexnet:8,vgg16:8,resnet50:8,mobilenet_v2:8
#           (one stream each), or procs:resnet18:1/mobilenet_v2:1 (one process per model, run together)
# Writes $OUT/traces.tar (NAME.uvmt and NAME.info.txt per recording), $OUT/summary.jsonl (per recording:
# pass exit codes and wall times, each pass's stdout, the native timing run, the access tool's pair
# count, the trace's size) and $OUT/log.txt.
set -uo pipefail
OUT="${OUT:-/tmp/uvmtrace-out}"
REPS="${REPS:-5}"
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
B=/tmp/uvmtrace-build
R=/tmp/uvmtrace-rec
T=/tmp/uvmtrace-traces
UVMSIM="$root/build-static/uvmsim"
[ -x "$UVMSIM" ] || { echo "record_torch: $UVMSIM missing (scripts/build-static-uvmsim.sh, carry build-static)"; exit 1; }
rm -rf "$R" "$T"
mkdir -p "$R" "$T"
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv,noheader
cmake -S "$here" -B "$B" -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
cmake --build "$B" -j16 >"$OUT/build.txt" 2>&1 || { tail -40 "$OUT/build.txt"; exit 1; }
export PYTHONUNBUFFERED=1
torch_py=(python3 "$here/trace_torch.py" --allocator "$B/libuvm_pool_alloc.so")

summarise() {  # name spec: one JSON line from the recording's files
  python3 - "$R/$1" "$1" "$2" "$T/$1.uvmt" "$T/$1.native.json" <<'PY'
import json, os, re, sys
rec, name, spec, trace, native = sys.argv[1:]
out = {"name": name, "spec": spec, "passes": {}}
for line in open(os.path.join(rec, "passes.tsv")).read().splitlines()[1:]:
    p, rc, ns = line.split("\t")
    out["passes"][p] = {"exit": int(rc), "wall_ms": int(ns) / 1e6, "stdout": []}
    for root, _, files in os.walk(os.path.join(rec, p)):
        if "stdout" in files:
            for l in open(os.path.join(root, "stdout")):
                if l.startswith("{"):
                    out["passes"][p]["stdout"].append(json.loads(l))
        if "stderr" in files and p == "access":
            m = re.findall(r"(\d+) \(CTA, page\) pairs", open(os.path.join(root, "stderr")).read())
            out["passes"][p]["pairs"] = out["passes"][p].get("pairs", 0) + sum(int(x) for x in m)
if os.path.exists(native):
    out["native_repeat"] = [json.loads(l) for l in open(native) if l.startswith("{")]
out["trace_bytes"] = os.path.getsize(trace) if os.path.exists(trace) else None
print(json.dumps(out))
PY
}

convert() {  # name spec (background: the next recording proceeds)
  local name="$1" spec="$2"
  if "$UVMSIM" trace convert --raw "$R/$name" --out "$T/$name.uvmt" >"$T/$name.convert.txt" 2>&1; then
    "$UVMSIM" trace info "$T/$name.uvmt" >"$T/$name.info.txt" 2>&1
  else
    echo "CONVERT FAILED: $name"; cat "$T/$name.convert.txt"
  fi
  summarise "$name" "$spec" >"$T/$name.summary.json"
  rm -rf "$R/$name"
  # Into $OUT as soon as it is done, so that a call cut short still returns what it finished.
  flock "$T/.lock" bash -c "cat '$T/$name.summary.json' >>'$OUT/summary.jsonl'; \
    [ -f '$T/$name.uvmt' ] && tar rf '$OUT/traces.tar' -C '$T' '$name.uvmt' '$name.info.txt'"
}

pids=()
for arg in "$@"; do
  name="${arg%%=*}"; spec="${arg#*=}"
  echo "== $(date +%T) record $name: $spec"
  if [[ "$spec" == procs:* ]]; then
    cmds=()
    IFS=/ read -ra models <<<"${spec#procs:}"
    for m in "${models[@]}"; do cmds+=("$(printf '%q ' "${torch_py[@]}") --models $m"); done
    "$B/uvmtrace" --out "$R/$name" -- "$here/together" "${cmds[@]}" || { echo "RECORD FAILED: $name"; continue; }
  else
    "$B/uvmtrace" --out "$R/$name" -- "${torch_py[@]}" --models "$spec" || { echo "RECORD FAILED: $name"; continue; }
    "${torch_py[@]}" --models "$spec" --repeat "$REPS" >"$T/$name.native.json" 2>"$T/$name.native.err" ||
      { echo "native timing run failed: $name"; tail -3 "$T/$name.native.err"; }
  fi
  cat "$R/$name/passes.tsv"
  convert "$name" "$spec" &
  pids+=($!)
done
echo "== $(date +%T) waiting for conversions"
for p in "${pids[@]}"; do wait "$p"; done
cat "$T"/*.info.txt 2>/dev/null | grep -v "^driver params"
ls -la "$OUT" "$T"
echo "== $(date +%T) done"
