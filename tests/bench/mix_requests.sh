#!/usr/bin/env bash
# Wall time and peak memory of simulating the four-model mix (alexnet, vgg16, resnet50, mobilenet_v2) at
# batch 8 with GPU memory at 50% of its footprint, for 1 and 4 requests (and more: REQUESTS="1 4 8"), each
# run in its own process (peak RSS is per process). The engine issue's targets are set against these
# figures (tests/bench/README.md).
#   tests/bench/mix_requests.sh [build/release/uvmsim]
set -euo pipefail
uvmsim=${1:-build/release/uvmsim}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
printf '%-9s %12s %14s %12s %14s\n' requests generate_s generate_MiB simulate_s simulate_MiB
for n in ${REQUESTS:-1 4}; do
  /usr/bin/time -f '%e %M' -o "$work/g.time" "$uvmsim" generate --models alexnet:8,vgg16:8,resnet50:8,mobilenet_v2:8 \
    --requests "$n" --out "$work/mix.uvmt" >/dev/null
  /usr/bin/time -f '%e %M' -o "$work/s.time" "$uvmsim" run --trace "$work/mix.uvmt" \
    --config sim/configs/h100.json --set gpu.memory_fraction=0.5 --out "$work/o$n" >/dev/null
  read -r gs gk <"$work/g.time"
  read -r ss sk <"$work/s.time"
  printf '%-9s %12s %14d %12s %14d\n' "$n" "$gs" $((gk / 1024)) "$ss" $((sk / 1024))
done
