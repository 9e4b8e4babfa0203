// The DRAM's bandwidth against the share of its traffic that writes (the engine issue, item 3: a kernel that
// copies draws less from DRAM than one that only reads). A microbenchmark of its own, not one of the
// kernels the SM-sharing model is checked on: every thread of a full GPU (8 CTAs of 256 threads per SM) walks
// its grid-strided share of a 4 GiB device buffer (cudaMalloc, far beyond the L2) in 16-byte accesses, of
// which `writes` in every 4 are stores and the rest loads (0 to 4: read only, 3:1, 1:1, 1:3, write only).
// One JSON line per mix: the bytes moved, the kernel's time (events, median of --reps) and the bandwidth.
//   dram_mix_probe [--reps 5]
#include <cuda_runtime.h>

#include <cstdint>
#include <cstdio>
#include <vector>

#include "common.h"

namespace {

// Each thread takes accesses i = tid, tid + n, ...; access i stores when i % 4 < writes, else loads.
__global__ void mix_kernel(uint4* buf, uint64_t count, uint32_t writes, uint32_t* sink) {
  const uint64_t n = uint64_t(gridDim.x) * blockDim.x;
  uint32_t acc = 0;
  for (uint64_t i = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += n) {
    if (uint32_t(i / n % 4) < writes) {
      buf[i] = make_uint4(uint32_t(i), 1, 2, 3);
    } else {
      const uint4 v = buf[i];
      acc += v.x ^ v.w;
    }
  }
  if (acc == 0x12345678u) *sink = acc;  // never: keeps the loads
}

// The same shares interleaved access by access: in every step a thread loads `4 - writes` 16-byte words
// from the buffer's first half and stores `writes` to its second half (writes 2: a copy's traffic).
__global__ void interleaved_kernel(const uint4* in, uint4* out, uint64_t steps, uint32_t writes,
                                   uint32_t* sink) {
  const uint64_t n = uint64_t(gridDim.x) * blockDim.x;
  uint32_t acc = 0;
  for (uint64_t s = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x; s < steps * n; s += n) {
    for (uint32_t j = 0; j < 4 - writes; ++j) {
      const uint4 v = in[s * (4 - writes) + j];
      acc += v.x ^ v.w;
    }
    for (uint32_t j = 0; j < writes; ++j) out[s * writes + j] = make_uint4(uint32_t(s), acc, 2, 3);
  }
  if (acc == 0x12345678u) *sink = acc;  // never: keeps the loads
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = parse_reps(argc, argv, "dram_mix_probe", 5);
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  const uint64_t bytes = uint64_t(4) << 30, count = bytes / sizeof(uint4);
  uint4* buf;
  uint32_t* sink;
  CK(cudaMalloc(&buf, bytes));
  CK(cudaMalloc(&sink, sizeof(uint32_t)));
  CK(cudaMemset(buf, 0, bytes));
  const unsigned grid = unsigned(prop.multiProcessorCount) * 8, block = 256;
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  const uint64_t n = uint64_t(grid) * block;
  // Rounds: shares 0 to 1 in quarters. Interleaved: 1 to 3 stores in every 4 accesses, over as many steps
  // as fit (loads in the buffer's first half, stores in its second).
  struct Point {
    bool interleaved;
    uint32_t writes;
  };
  std::vector<Point> points;
  for (uint32_t w = 0; w <= 4; ++w) points.push_back({false, w});
  for (uint32_t w = 1; w <= 3; ++w) points.push_back({true, w});
  for (const Point& p : points) {
    const uint64_t steps = count / 2 / (3 * n);
    const uint64_t moved = p.interleaved ? steps * n * 4 * sizeof(uint4) : bytes;
    std::vector<double> ms;
    for (int r = 0; r <= reps; ++r) {  // the first is a warm-up
      const float t = time_ms(e0, e1, [&] {
        if (p.interleaved)
          interleaved_kernel<<<grid, block>>>(buf, buf + count / 2, steps, p.writes, sink);
        else
          mix_kernel<<<grid, block>>>(buf, count, p.writes, sink);
      });
      if (r > 0) ms.push_back(t);
    }
    const double m = median(ms);
    std::printf(
        "{\"program\": \"dram_mix_probe\", \"gpu\": \"%s\", \"sms\": %d, \"ctas\": %u, \"threads\": %u, "
        "\"pattern\": \"%s\", \"write_share\": %.2f, \"bytes\": %llu, \"ms\": %.4f, \"ms_min\": %.4f, "
        "\"ms_max\": %.4f, \"gbps\": %.1f}\n",
        prop.name, prop.multiProcessorCount, grid, block, p.interleaved ? "interleaved" : "rounds",
        p.writes / 4.0, (unsigned long long)moved, m, *std::min_element(ms.begin(), ms.end()),
        *std::max_element(ms.begin(), ms.end()), double(moved) / m / 1e6);
    std::fflush(stdout);
  }
  return 0;
}
