#!/usr/bin/env bash
# Every test: install what is missing; Release build with warnings as errors and the whole suite; the same
# suite again under AddressSanitizer and UndefinedBehaviorSanitizer; the trace-reader fuzzer and the simulator
# fuzzer for 60 s each from their checked-in corpora and crash inputs; a short benchmark run. Stages are incremental (ccache, CMake).
set -euo pipefail
cd "$(dirname "$0")"
scripts/install-deps.sh
jobs="$(nproc)"
stage() { printf '\n== %s\n' "$*"; }

stage "Release build (-Werror)"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DUVMSIM_WERROR=ON >/dev/null
cmake --build build/release -j"$jobs"
stage "tests (Release)"
(cd build/release && ctest --output-on-failure -j"$jobs")

stage "validation ratchet: every corpus trace against results/validation.json (an error may grow by max(1 point, 10%), no set's mean)"
/usr/bin/python3 scripts/validation.py --uvmsim build/release/uvmsim --check

stage "H200 batch ratchet: the partition traces against results/batch_grid.json (a set's mean or worst error may grow by max(1 point, 10%))"
/usr/bin/python3 scripts/batch_grid.py --uvmsim build/release/uvmsim --baseline results/batch_grid.json --check

stage "sweep on MPI: mpirun -n 2 against 2 threads (stats.json byte-identical, results.csv sorted, SQLite rows)"
sw="$(mktemp -d)"
build/release/uvmsim generate --pattern random --bytes 16MiB --host-init --out "$sw/t.uvmt" >/dev/null
sed "s|TRACE|$sw/t.uvmt|" tests/data/sweep_mpi.json >"$sw/spec.json"
build/release/uvmsim sweep --spec "$sw/spec.json" --out "$sw/threads" --jobs 2 2>/dev/null || [ $? -eq 3 ]
mpirun --allow-run-as-root --oversubscribe -n 2 build/release/uvmsim sweep --spec "$sw/spec.json" --out "$sw/mpi" \
  >/dev/null 2>&1 || [ -f "$sw/mpi/results.db" ]
/usr/bin/python3 scripts/sweep_compare.py "$sw/threads" "$sw/mpi"
rm -rf "$sw"

stage "script tests (tests/unit/python)"
/usr/bin/python3 -m unittest discover -s tests/unit/python

stage "ASan + UBSan build (-Werror)"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUVMSIM_WERROR=ON -DUVMSIM_SANITIZE=ON >/dev/null
cmake --build build/asan -j"$jobs"
stage "tests (ASan + UBSan)"
(cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j"$jobs")

stage "fuzz: trace reader and simulator, ${FUZZ_SECONDS:-60} s each (ASan + UBSan)"
CC=clang CXX=clang++ cmake -S . -B build/fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DUVMSIM_FUZZ=ON -DUVMSIM_TESTS=OFF \
  -DUVMSIM_WERROR=ON >/dev/null
cmake --build build/fuzz -j"$jobs" --target trace_reader_fuzz sim_fuzz
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/reader" "$work/sim" tests/fuzz/sim_crashes
# New inputs go to a scratch corpus; any crash is written into tests/fuzz/crashes/ (the reader) or
# tests/fuzz/sim_crashes/ (the simulator on trace bodies) to be checked in.
build/fuzz/trace_reader_fuzz -max_total_time="${FUZZ_SECONDS:-60}" -rss_limit_mb=2048 -timeout=10 \
  -artifact_prefix=tests/fuzz/crashes/ "$work/reader" tests/fuzz/corpus tests/fuzz/crashes 2>&1 | tail -n 3
build/fuzz/sim_fuzz -max_total_time="${FUZZ_SECONDS:-60}" -rss_limit_mb=2048 -timeout=10 \
  -artifact_prefix=tests/fuzz/sim_crashes/ "$work/sim" tests/fuzz/sim_corpus tests/fuzz/sim_crashes 2>&1 | tail -n 3

stage "benchmarks (short)"
build/release/uvmsim_bench --benchmark_min_time=0.05 2>&1 | tail -n 6
stage "all stages passed"
