#!/usr/bin/env bash
# The main job: install what is missing, build in Release, then the policy study's quick version
# (scripts/study.py): the four-model mix (sim/serving/examples/mix4.json) serving requests on the H200 model at
# 100%, 75% and 50% of its footprint under every policy set of policies/sets/; prints the table and writes
# results/study.md.
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DUVMSIM_WERROR=ON >/dev/null
cmake --build build/release -j"$(nproc)" --target uvmsim
python3 scripts/study.py --uvmsim build/release/uvmsim --requests 60 --jobs "$(nproc)"
