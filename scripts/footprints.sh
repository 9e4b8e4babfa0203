#!/usr/bin/env bash
# results/footprints.md: each model's weight, activation and peak-live footprint at batch 1, 8 and 32, from
# generated traces (`uvmsim generate --models M:B`, then `uvmsim trace info`).
# Usage: scripts/footprints.sh [build/uvmsim] > results/footprints.md
set -euo pipefail
uvmsim="${1:-build/uvmsim}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
echo "# Model footprints (generated traces)"
echo
echo "From \`scripts/footprints.sh\`: \`uvmsim generate --models M:B\` for each model and batch, then \`uvmsim trace"
echo "info\`. Weight: pages of parameters and batch-norm buffers the kernels touch; activation: pages of the input,"
echo "every layer's output and the final output; peak live: the most pages live at once, a page being live from the"
echo "first kernel that touches it to the last (what one inference needs resident if each tensor were freed after"
echo "its last use). Tensors are page-aligned as the native runtime lays them out. MiB = 2^20 bytes."
echo
echo "| model | batch | weight MiB | activation MiB | total MiB | peak live MiB | kernels | CTAs |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for m in alexnet vgg16 resnet18 resnet50 mobilenet_v2; do
  for b in 1 8 32; do
    "$uvmsim" generate --models "$m:$b" --out "$tmp/t.uvmt"
    info="$("$uvmsim" trace info "$tmp/t.uvmt")"
    line="$(grep '^tenant 0 ' <<<"$info")"
    w="$(sed -E 's/.*\(weight ([0-9]+),.*/\1/' <<<"$line")"
    a="$(sed -E 's/.*, activation ([0-9]+),.*/\1/' <<<"$line")"
    p="$(sed -E 's/.*peak live ([0-9]+)\).*/\1/' <<<"$line")"
    k="$(sed -E 's/.*kernels ([0-9]+),.*/\1/' <<<"$(grep '^tenants' <<<"$info")")"
    c="$(sed -E 's/.*CTAs ([0-9]+),.*/\1/' <<<"$(grep '^tenants' <<<"$info")")"
    echo "| $m | $b | $(mib "$w") | $(mib "$a") | $(mib $((w + a))) | $(mib "$p") | $k | $c |"
  done
done
