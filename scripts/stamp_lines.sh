#!/usr/bin/env bash
# Stamp the H200 corpus with the lines per warp access that cuda_tracer/record_lines.sh recorded: each
# LINES/<workload>.tsv goes into every traces/corpus/h200/<workload>_sm<N>.uvmt (uvmsim trace stamp-lines,
# which checks every kernel's name against the capture's launch).
#   scripts/stamp_lines.sh build/release/uvmsim LINES_DIR
set -euo pipefail
U=${1:?uvmsim binary} D=${2:?folder of lines/<workload>.tsv}
root=$(cd "$(dirname "$0")/.." && pwd)
for f in "$D"/*.tsv; do
  w=$(basename "$f" .tsv)
  for t in "$root"/traces/corpus/h200/"$w"_sm*.uvmt; do
    [ -e "$t" ] || { echo "stamp_lines: no trace for $w" >&2; exit 1; }
    "$U" trace stamp-lines "$t" --lines "$f" --out "$t"
    echo "$(basename "$t")"
  done
done
