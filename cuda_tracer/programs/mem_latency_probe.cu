// The GPU's memory system as a curve, for the SM-sharing model's memory side (the engine issue, item 3): how
// the latency a warp sees and the bandwidth the GPU delivers depend on the bytes in flight. A microbenchmark
// of its own, not one of the kernels the model is checked on: every warp streams its own slice of a 4 GiB
// device buffer (cudaMalloc, zero-filled, far beyond the L2), `mlp` independent 16-byte loads per thread a
// step, and each step's addresses depend on the previous step's data (zeros the compiler cannot know), so a
// warp has exactly mlp x 512 bytes in flight and a step lasts one loaded memory latency. Swept: the SMs the
// kernel gets (green contexts, cuda_tracer/src/green_context.h; the count obtained is recorded), warps per SM
// (1 to 64: CTAs per SM x warps per CTA) and mlp (1 to 8). One JSON line per point: the bytes read, the
// kernel's time (globaltimer stamps on its stream, median of --reps), the bandwidth, and the median over warps
// of a step's time (each warp's own globaltimer span / steps): Little's law ties them (bandwidth = warps x
// mlp x 512 / step time).
//   mem_latency_probe [--reps 5] [--sms 132,32,8] [--warps 1,2,4,8,16,32,64] [--mlp 1,2,4,8]
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "../src/green_context.h"
#include "common.h"

namespace {

using uvmtrace::SmPartition;

__global__ void stamp(uint64_t* at) { *at = globaltimer(); }

// Each warp walks its own region of `region` uint4 (16 bytes, a multiple of 256) from its start, wrapping,
// MLP loads of 512 bytes a step.
template <int MLP>
__global__ void stream_kernel(const uint4* buf, uint64_t region, uint32_t steps, uint64_t* warp_ns,
                              uint32_t* sink) {
  const uint32_t lane = threadIdx.x & 31;
  const uint64_t warp = (uint64_t(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
  const uint4* base = buf + warp * region;
  uint64_t at = 0;
  uint32_t acc = 0;
  const uint64_t t0 = globaltimer();
  for (uint32_t s = 0; s < steps; ++s) {
    const uint64_t from = at + (acc & 1);  // acc is zero at run time: the step waits for the last one's data
    uint4 v[MLP];
#pragma unroll
    for (int j = 0; j < MLP; ++j) v[j] = base[from + uint64_t(j) * 32 + lane];
#pragma unroll
    for (int j = 0; j < MLP; ++j) acc += v[j].x ^ v[j].w;
    at += uint64_t(MLP) * 32;
    if (at == region) at = 0;
  }
  const uint64_t t1 = globaltimer();
  if (lane == 0) warp_ns[warp] = t1 - t0;
  if (acc == 0x12345678u) *sink = acc;  // never: keeps the loads
}

using Launch = void (*)(dim3, dim3, cudaStream_t, const uint4*, uint64_t, uint32_t, uint64_t*, uint32_t*);
template <int MLP>
void launch(dim3 g, dim3 b, cudaStream_t s, const uint4* buf, uint64_t region, uint32_t steps, uint64_t* w,
            uint32_t* sink) {
  stream_kernel<MLP><<<g, b, 0, s>>>(buf, region, steps, w, sink);
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  std::vector<unsigned> sm_list = {132, 32, 8}, warp_list = {1, 2, 4, 8, 16, 32, 64}, mlp_list = {1, 2, 4, 8};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--sms") && i + 1 < argc) {
      sm_list = parse_counts(argv[++i]);
    } else if (!std::strcmp(argv[i], "--warps") && i + 1 < argc) {
      warp_list = parse_counts(argv[++i]);
    } else if (!std::strcmp(argv[i], "--mlp") && i + 1 < argc) {
      mlp_list = parse_counts(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: mem_latency_probe [--reps N] [--sms 132,32,8] [--warps 1,2,...,64] [--mlp 1,2,4,8]\n");
      return 2;
    }
  }
  CK(cudaFree(nullptr));  // the primary context, before any green context
  const uint64_t buf_bytes = uint64_t{4} << 30;
  size_t free_b = 0, total_b = 0;
  CK(cudaMemGetInfo(&free_b, &total_b));
  if (buf_bytes > free_b / 2) {
    std::fprintf(stderr, "mem_latency_probe: 4 GiB is more than half the GPU's free memory\n");
    return 3;
  }
  uint4* buf = nullptr;
  CK(cudaMalloc(&buf, buf_bytes));
  CK(cudaMemset(buf, 0, buf_bytes));
  uint64_t *stamps = nullptr, *warp_ns = nullptr;
  uint32_t* sink = nullptr;
  const uint32_t max_warps = 132 * 64;
  CK(cudaMalloc(&stamps, 2 * sizeof(uint64_t)));
  CK(cudaMalloc(&warp_ns, max_warps * sizeof(uint64_t)));
  CK(cudaMalloc(&sink, sizeof(uint32_t)));
  const Launch launches[] = {launch<1>, launch<2>, launch<4>, launch<8>};
  for (unsigned want : sm_list) {
    SmPartition p = SmPartition::make(0, want);
    cudaStream_t st = p.stream();
    for (unsigned w : warp_list) {
      const unsigned per_cta = std::min(w, 8u), ctas_per_sm = (w + per_cta - 1) / per_cta;
      const unsigned warps = p.sms() * ctas_per_sm * per_cta;
      for (unsigned mlp : mlp_list) {
        const int li = mlp == 1 ? 0 : mlp == 2 ? 1 : mlp == 4 ? 2 : mlp == 8 ? 3 : -1;
        if (li < 0 || warps > max_warps) continue;
        const uint64_t region = buf_bytes / 16 / warps / 256 * 256;  // uint4 per warp
        const uint32_t steps = 2048;
        std::vector<double> ms, step_ns;
        for (int r = 0; r < reps + 1; ++r) {  // the first run warms up
          stamp<<<1, 1, 0, st>>>(stamps);
          launches[li](dim3(p.sms() * ctas_per_sm), dim3(per_cta * 32), st, buf, region, steps, warp_ns, sink);
          stamp<<<1, 1, 0, st>>>(stamps + 1);
          CK(cudaStreamSynchronize(st));
          CK(cudaGetLastError());
          if (r == 0) continue;
          uint64_t t[2];
          CK(cudaMemcpy(t, stamps, sizeof t, cudaMemcpyDeviceToHost));
          std::vector<uint64_t> wn(warps);
          CK(cudaMemcpy(wn.data(), warp_ns, warps * sizeof(uint64_t), cudaMemcpyDeviceToHost));
          std::vector<double> per(wn.begin(), wn.end());
          ms.push_back(double(t[1] - t[0]) / 1e6);
          step_ns.push_back(median(per) / steps);
        }
        const double bytes = double(warps) * steps * mlp * 512;
        const double t_ms = median(ms);
        std::printf(
            "{\"program\": \"mem_latency_probe\", \"sms\": %u, \"sms_asked\": %u, \"warps_per_sm\": %u, "
            "\"ctas_per_sm\": %u, \"warps_per_cta\": %u, \"mlp\": %u, \"bytes\": %.0f, \"ms\": %.4f, "
            "\"ms_min\": %.4f, \"ms_max\": %.4f, \"gbps\": %.1f, \"step_ns\": %.1f, \"inflight_bytes\": %.0f}\n",
            p.sms(), want, ctas_per_sm * per_cta, ctas_per_sm, per_cta, mlp, bytes, t_ms,
            *std::min_element(ms.begin(), ms.end()), *std::max_element(ms.begin(), ms.end()),
            bytes / (t_ms * 1e6), median(step_ns), double(warps) * mlp * 512);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
