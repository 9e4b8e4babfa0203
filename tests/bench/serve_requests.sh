#!/usr/bin/env bash
# Wall time and peak memory of `uvmsim serve` on the four-model mix (sim/serving/examples/mix4.json:
# alexnet, vgg16, resnet50, mobilenet_v2, batch sizes 1 to 8, dynamic batching, Poisson and Gamma
# arrivals), without the alone runs, each case in its own process on one core (taskset -c 0): the serving
# issue's scale targets (tests/bench/README.md). A case is "TOTAL_REQUESTS:MEMORY_FRACTION".
#   tests/bench/serve_requests.sh [build/release/uvmsim] [CASES...]     (default: 40:1.0 1000:1.0 100:0.5)
set -euo pipefail
uvmsim=${1:-build/release/uvmsim}
shift || true
cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(40:1.0 1000:1.0 100:0.5)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%-9s %7s %10s %10s\n' requests memory wall_s peak_MiB
for c in "${cases[@]}"; do
  n=${c%%:*} frac=${c##*:}
  per=$((n / 4))
  python3 - "$per" >"$work/spec.json" <<'PY'
import json, sys
s = json.load(open("sim/serving/examples/mix4.json"))
s["requests"], s["warmup_requests"], s["slowdown"] = int(sys.argv[1]), 0, False
print(json.dumps(s))
PY
  /usr/bin/time -f '%e %M' -o "$work/t" taskset -c 0 "$uvmsim" serve --spec "$work/spec.json" \
    --config sim/configs/h200.json --set gpu.memory_fraction="$frac" --out "$work/o" >/dev/null
  read -r s k <"$work/t"
  printf '%-9s %7s %10s %10d\n' "$n" "$frac" "$s" $((k / 1024))
  rm -rf "$work/o"
done
