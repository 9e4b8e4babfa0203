#!/usr/bin/env bash
# One device call: cuda_tracer/programs/utlb_burst_probe under uvmtrace's events pass (the UVM driver's own
# event queue), for SM demands of 1 to 32 warps of 32 distinct pages each per SM, at 8 SMs (one GPC) and on
# the whole GPU: what one uTLB faults on between two replays when its demand is known.
#   OUT=/tmp/x [CASES="8:1:1 8:4:1 ..."] cuda_tracer/utlb_burst.sh
# (a case: sms:warps:ctas_per_sm[:lanes[:stagger_ns]]; t<threads> for warps gives CTAs of that many threads,
# n<ctas> for ctas_per_sm that many CTAs in all; lanes: only each warp's first that many lanes read; stagger_ns:
# warp w of a CTA reads w x that many ns after the CTA's start)
# $OUT/burst.tar.gz: <case>.events.<i>.bin (uvm_events.bin of each events pass) and <case>.stdout;
# $OUT/log.txt. Then, here: scripts/utlb_burst.py DIR (the unpacked archive).
set -uo pipefail
OUT=${OUT:?set OUT}
here=$(cd "$(dirname "$0")" && pwd)
B=/tmp/burst-build R=/tmp/burst-rec
rm -rf "$R"
mkdir -p "$R" "$OUT/burst"
exec > >(tee -a "$OUT/log.txt") 2>&1
nvidia-smi --query-gpu=name,uuid,driver_version --format=csv,noheader
cmake -S "$here" -B "$B" -DCMAKE_BUILD_TYPE=Release >"$OUT/build.txt" 2>&1 &&
  cmake --build "$B" -j16 --target uvmtrace utlb_burst_probe >>"$OUT/build.txt" 2>&1 || { tail -30 "$OUT/build.txt"; exit 1; }
for c in ${CASES-8:1:1 8:2:1 8:4:1 8:8:1 8:1:4 8:8:4 132:1:1 132:8:1}; do
  IFS=: read -r sms warps per lanes stagger <<<"$c"
  if [[ $warps == t* ]]; then
    name="sm${sms}_${warps}" size=(--threads "${warps#t}")
  else
    name="sm${sms}_w${warps}" size=(--warps "$warps")
  fi
  if [[ $per == n* ]]; then
    name+="_${per}" size+=(--ctas "${per#n}")
  else
    name+="_c${per}" size+=(--ctas-per-sm "$per")
  fi
  [ -n "${lanes-}" ] && name+="_l${lanes}" size+=(--lanes "$lanes")
  [ -n "${stagger-}" ] && name+="_s${stagger}" size+=(--stagger "$stagger")
  timeout 240 "$B/uvmtrace" --out "$R/$name" --passes timing,events.1,events.2 -- \
    "$B/utlb_burst_probe" --sms "$sms" "${size[@]}" >"$R/$name.log" 2>&1 ||
    { echo "FAILED: $name"; tail -5 "$R/$name.log"; continue; }
  for p in events.1 events.2; do
    f=$(find "$R/$name/$p" -name uvm_events.bin | head -1)
    [ -n "$f" ] && cp "$f" "$OUT/burst/$name.$p.bin" || echo "NO uvm_events.bin: $name $p"
  done
  grep -h '"program"' "$R/$name"/*/stdout | tee "$OUT/burst/$name.stdout"
done
tar czf "$OUT/burst.tar.gz" -C "$OUT" burst && rm -rf "$OUT/burst"
ls -la "$OUT"
