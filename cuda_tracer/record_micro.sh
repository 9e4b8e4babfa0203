#!/usr/bin/env bash
# One call on the GPU machine (device tool, nvidia-h100-x1): build the tracer with the CUDA toolkit and
# CMake alone, time the micro-workloads natively (median of 5 after 1 warm-up, as reference/measurements.md),
# record the micro corpus with every pass, and pack the raw records under $OUT. Convert them here with
# `uvmsim trace convert` (traces/corpus/README.md). Usage: cuda_tracer/record_micro.sh [SIZES...]
# (default: 64MiB 256MiB 1GiB).
# SET=dense does the same for one page per CTA (PyTorch's elementwise pattern: CTA i touches page i) and one
# 64 KiB big page per CTA; SET=ladder for 4, 32, 64 and 128 pages per CTA. Both convert each recording there
# with the static uvmsim of scripts/build-static-uvmsim.sh (carry build-static): $OUT/traces.tar holds NAME.uvmt.
set -uo pipefail
OUT="${OUT:-/tmp/uvmtrace-out}"
mkdir -p "$OUT"
log="$OUT/log.txt"
exec > >(tee -a "$log") 2>&1
B=/tmp/uvmtrace-build
R=/tmp/uvmtrace-rec
rm -rf "$R"
mkdir -p "$R"
grep -h -n "sanitizerAlloc\|sanitizerMemset\|sanitizerFree\|SANITIZER_MEMORY_FLAG_MANAGED\|sanitizerMemcpyDeviceToHost\|sanitizerStreamSynchronize\|sanitizerSetLaunchCallbackData\|sanitizerMemcpyHostToDeviceAsync" \
  /usr/local/cuda/compute-sanitizer/include/*.h >"$OUT/sanitizer_api.txt" 2>&1
nvidia-smi --query-gpu=name,memory.total,memory.used,driver_version --format=csv,noheader
cmake -S cuda_tracer -B "$B" -DCMAKE_BUILD_TYPE=Release >/dev/null || exit 1
cmake --build "$B" -j16 >"$OUT/build.txt" 2>&1 || { tail -40 "$OUT/build.txt"; exit 1; }
ls "$B"
sizes=("${@:-64MiB}")
[ $# -eq 0 ] && sizes=(64MiB 256MiB 1GiB)
name_of() { case "$1" in 64MiB) echo 64m ;; 256MiB) echo 256m ;; 1GiB) echo 1g ;; *) echo "$1" ;; esac; }

record() {  # name, program args...
  local name="$1"; shift
  echo "== record $name: $*"
  "$B/uvmtrace" --out "$R/$name" -- "$@" || echo "RECORD FAILED: $name"
  cat "$R/$name/passes.tsv" 2>/dev/null
  grep -h "uvmaccess" "$R/$name/access/stderr" 2>/dev/null | tail -2
}

if [ "${SET:-table}" = dense ] || [ "${SET:-table}" = ladder ]; then
  dense=("micro_dense_zerofill_16m --bytes 16MiB --write" "micro_dense_zerofill_64m --bytes 64MiB --write"
         "micro_dense_16m --bytes 16MiB --host-init" "micro_dense_64m --bytes 64MiB --host-init"
         "micro_dense16_64m --bytes 64MiB --host-init --threads-per-cta 16")
  # SET=ladder: pages per CTA between the dense sets and the table's 256, CPU-initialised, 64 MiB.
  [ "$SET" = ladder ] && dense=("micro_dense4_64m --bytes 64MiB --host-init --threads-per-cta 4"
    "micro_dense32_64m --bytes 64MiB --host-init --threads-per-cta 32"
    "micro_dense64_64m --bytes 64MiB --host-init --threads-per-cta 64"
    "micro_dense128_64m --bytes 64MiB --host-init --threads-per-cta 128")
  echo "== native timings (median of 5 after 1 warm-up)"
  for d in "${dense[@]}"; do
    read -r -a a <<<"$d"
    "$B/uvm_micro" --pattern seq --threads-per-cta 1 "${a[@]:1}" --reps 5 --warmup 1
  done | tee "$OUT/native_timings_$SET.jsonl"
  for d in "${dense[@]}"; do
    read -r -a a <<<"$d"
    record "${a[0]}" "$B/uvm_micro" --pattern seq --threads-per-cta 1 "${a[@]:1}"
    "$(pwd)/build-static/uvmsim" trace convert --raw "$R/${a[0]}" --out "$R/${a[0]}.uvmt" &&
      tar rf "$OUT/traces.tar" -C "$R" "${a[0]}.uvmt"
  done
  ls -la "$OUT"
  exit 0
fi

if [ "${NATIVE:-1}" = 1 ]; then
echo "== native timings (median of 5 after 1 warm-up)"
for s in "${sizes[@]}"; do
  "$B/uvm_micro" --pattern seq --bytes "$s" --host-init --touch-back --reps 5 --warmup 1
  "$B/uvm_micro" --pattern random --bytes "$s" --host-init --reps 5 --warmup 1
  "$B/uvm_micro" --pattern seq --bytes "$s" --host-init --prefetch --reps 5 --warmup 1
done | tee "$OUT/native_timings.jsonl"
{ "$B/uvm_micro" --pattern seq --bytes 256MiB --write --reps 5 --warmup 1
  "$B/tiled_gemm" --n 1024 --reps 5 --warmup 1
  "$B/tiled_gemm" --n 2048 --reps 5 --warmup 1; } | tee -a "$OUT/native_timings.jsonl"
fi

for s in "${sizes[@]}"; do
  n=$(name_of "$s")
  record "micro_seq_$n" "$B/uvm_micro" --pattern seq --bytes "$s" --host-init
  record "micro_random_$n" "$B/uvm_micro" --pattern random --bytes "$s" --host-init
  record "micro_prefetch_$n" "$B/uvm_micro" --pattern seq --bytes "$s" --host-init --prefetch
  record "micro_touchback_$n" "$B/uvm_micro" --pattern seq --bytes "$s" --host-init --touch-back
done
record micro_zerofill_256m "$B/uvm_micro" --pattern seq --bytes 256MiB --write
record gemm_tiled_1024 "$B/tiled_gemm" --n 1024
# The safety check: a managed allocation beyond the GPU's free memory must be refused, never made.
echo "== safety: 200 GiB must be refused"
"$B/uvmtrace" --out "$R/refused" --passes timing -- "$B/uvm_micro" --bytes 200GiB --alloc-only; echo "exit $? (3 = refused)"; cat "$R/refused/timing/stderr"
du -sh "$R"/*
cd "$R" && for g in 64m 256m 1g; do
  ls -d ./*_"$g" >/dev/null 2>&1 && tar cf - ./*_"$g" | xz -6 -T16 >"$OUT/raw_$g.tar.xz"
done
tar cf - ./micro_zerofill_256m ./gemm_tiled_1024 ./refused 2>/dev/null | xz -6 -T16 >"$OUT/raw_other.tar.xz"
ls -la "$OUT"
