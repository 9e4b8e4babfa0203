#!/usr/bin/env bash
# A fully static uvmsim (glibc, libstdc++ and libzstd linked in) in build-static/, for machines that lack
# uvmsim's build dependencies: the GPU machine converts recordings with it (cuda_tracer/record_torch.sh),
# so that raw records of hundreds of MB never have to travel. Needs what scripts/install-deps.sh installs.
set -euo pipefail
cd "$(dirname "$0")/.."
zstd_a="$(find /usr/lib /usr/lib64 /usr/local/lib -name libzstd.a 2>/dev/null | head -n 1)"
[ -n "$zstd_a" ] || { echo "build-static-uvmsim: libzstd.a not found (libzstd-dev)" >&2; exit 1; }
cmake -S . -B build-static -DCMAKE_BUILD_TYPE=Release -DUVMSIM_TESTS=OFF -DUVMSIM_CUDA_TRACER=OFF \
  -DZSTD_LIBRARY="$zstd_a" -DCMAKE_EXE_LINKER_FLAGS=-static >/dev/null
cmake --build build-static -j"$(nproc)" --target uvmsim
file build-static/uvmsim | grep -q "statically linked" || { echo "build-static-uvmsim: not static" >&2; exit 1; }
echo "build-static/uvmsim"
