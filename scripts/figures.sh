#!/usr/bin/env bash
# Regenerates results/figures/ (PDF and PNG) and results/study_publication.md from the checked-in sweep specs:
#   sweeps/study.json   the four-model mix under every policy set of policies/sets/, at 100%, 75% and 50%
#                       memory, seeds 1 to 5, 200 counted requests per tenant (90 points);
#   sweeps/ablation.json BARM's and TLP management's parts one at a time at 50% memory (4 points);
#   sweeps/memory.json  two mixes (axis mix) under the baseline and BARM over memory fractions 100% to 40%,
#                       seeds 1 to 5 (80 points);
# then scripts/figures.py (and its validation figure from the H200 corpus). Installs what is missing, builds
# uvmsim in Release, runs each sweep into build/sweeps/NAME (resuming a folder this build started; another
# build's folder is swept again), and says how long it took. JOBS (default: the cores) threads per sweep.
#   scripts/figures.sh                       about 45 min on 2 cores (measured 2026-12-06, sharing them with a CI run)
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
jobs="${JOBS:-$(nproc)}"
scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DUVMSIM_WERROR=ON >/dev/null
cmake --build build/release -j"$jobs" --target uvmsim >/dev/null
mkdir -p build/sweeps
for spec in sweeps/*.json; do
  name="$(basename "$spec" .json)"
  out="build/sweeps/$name"
  if ! build/release/uvmsim sweep --spec "$spec" --out "$out" --jobs "$jobs" 2>"build/sweeps/$name.log"; then
    if grep -q "swept by another build" "build/sweeps/$name.log"; then
      echo "figures: $out was swept by another build of uvmsim: sweeping it again"
      rm -rf "$out"
      build/release/uvmsim sweep --spec "$spec" --out "$out" --jobs "$jobs" 2>"build/sweeps/$name.log"
    else
      tail -n 5 "build/sweeps/$name.log" >&2
      exit 1
    fi
  fi
  echo "figures: sweep $name done ($(( $(date +%s) - start )) s so far)"
done
/usr/bin/python3 scripts/study.py --publication --sweep build/sweeps/study >/dev/null
/usr/bin/python3 scripts/figures.py --sweeps build/sweeps --uvmsim build/release/uvmsim --out results/figures \
  --jobs "$jobs"
echo "figures: results/figures/ and results/study_publication.md regenerated in $(( $(date +%s) - start )) s"
