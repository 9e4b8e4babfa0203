// How far does a CTA of a faulting convolution get while the driver is still migrating its weights? The
// simulator gives every CTA of a kernel one wave's share of the kernel's resident time and stalls it at
// each access to a page that is not resident; for the late convolutions of ResNet-18 at batch 1 (8 CTAs,
// each reading 64 rows of 18 KiB of weights, 1.7 ms resident) it predicts twice the paging overhead the
// H100 shows. This probe runs workloads/'s conv_kernel on managed memory laid out as uvm_runtime lays it
// out (weights written by the CPU at a given offset in their allocation, input and output resident) and
// a copy of it in which thread 0 of every CTA notes %globaltimer after each K chunk, so that each CTA's
// progress shows where it waited (a chunk that took over --gap-us) and for how long.
// One JSON line per (kernel, residency, repetition): the event-timed kernel time, and for the stamped
// kernel per CTA its start, the end of its first chunk, its end (us from the first CTA's start) and its
// waits [chunk, us].
// --after-another: the weights of a second conv of the same shape follow in the same allocation, and that
// conv runs first (as the layer before does in uvm_runtime: its faults migrate the shared 2 MiB block and
// warm the driver); the line's "before_ms" is its time.
//   conv_progress_probe [--shape n,c,h,w,k,r,s,stride,pad] [--offset BYTES] [--reps 5] [--gap-us 10]
//                       [--after-another]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"
#include "workloads/kernels/layers.cuh"

namespace {

using uvmsim::kernels::ConvShape;
using uvmsim::kernels::Tensors;
namespace k = uvmsim::kernels;

// conv_kernel with thread 0 noting the time after every chunk (stamps[cta * (chunks + 2) + ...]: the start,
// one per chunk, the end).
__global__ void __launch_bounds__(k::kThreads) conv_stamped(ConvShape g, Tensors x, uint64_t* stamps) {
  __shared__ float wt[k::kConvTileK][k::kConvTileM], xt[k::kConvTileK][k::kConvTileN];
  const uint32_t t = threadIdx.x, tr = t / 16, tc = t % 16;
  const uint32_t cta = blockIdx.y * gridDim.x + blockIdx.x, chunks = g.chunks();
  uint64_t* s = stamps + uint64_t(cta) * (chunks + 2);
  if (t == 0) s[0] = globaltimer();
  float acc[4][4] = {};
  for (uint32_t chunk = 0; chunk < chunks; ++chunk) {
    for (uint32_t slot = 0; slot < 4; ++slot) {
      const float v = k::load(x, k::conv_access(g, blockIdx.x, blockIdx.y, t, 4 * chunk + slot));
      if (slot < 2)
        wt[t % 8][slot * 32 + t / 8] = v;
      else
        xt[(slot - 2) * 4 + t / 64][t % 64] = v;
    }
    __syncthreads();
    for (uint32_t kk = 0; kk < k::kConvTileK; ++kk)
      for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) acc[a][b] += wt[kk][a * 16 + tr] * xt[kk][b * 16 + tc];
    __syncthreads();
    if (t == 0) s[1 + chunk] = globaltimer();
  }
  const uint32_t p0 = 4 * chunks;
  for (uint32_t j = 0; j < 16; ++j) {
    const float b = k::load(x, k::conv_access(g, blockIdx.x, blockIdx.y, t, p0 + 2 * j));
    k::store(x, k::conv_access(g, blockIdx.x, blockIdx.y, t, p0 + 2 * j + 1), acc[j / 4][j % 4] + b);
  }
  __syncthreads();
  if (t == 0) s[chunks + 1] = globaltimer();
}

void prefetch(const void* p, size_t bytes, bool to_gpu) {
  cudaMemLocation loc{};
  loc.type = to_gpu ? cudaMemLocationTypeDevice : cudaMemLocationTypeHost;
  loc.id = 0;
  CK(cudaMemPrefetchAsync(p, bytes, loc, 0, 0));
}

}  // namespace

int main(int argc, char** argv) {
  ConvShape g{1, 512, 7, 7, 512, 3, 3, 1, 1, 0, 0, true};  // ResNet-18 layer4, batch 1
  size_t offset = 0x15a000;  // where uvm_runtime's weights of that layer start within a 2 MiB block
  int reps = 5;
  double gap_us = 10;
  bool after_another = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--shape") && i + 1 < argc) {
      unsigned v[9];
      if (std::sscanf(argv[++i], "%u,%u,%u,%u,%u,%u,%u,%u,%u", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                      &v[7], &v[8]) != 9) {
        std::fprintf(stderr, "conv_progress_probe: --shape wants n,c,h,w,k,r,s,stride,pad\n");
        return 2;
      }
      g = ConvShape{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], 0, 0, true};
    } else if (!std::strcmp(argv[i], "--offset") && i + 1 < argc) {
      offset = size_t(std::strtoull(argv[++i], nullptr, 0)) & ~size_t(3);
    } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--after-another")) {
      after_another = true;
    } else if (!std::strcmp(argv[i], "--gap-us") && i + 1 < argc) {
      gap_us = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: conv_progress_probe [--shape n,c,h,w,k,r,s,stride,pad] [--offset B] [--reps N]\n");
      return 2;
    }
  }
  if (reps < 1 || g.n == 0 || g.stride == 0 || g.h + 2 * g.pad < g.r || g.w + 2 * g.pad < g.s) return 2;
  g.oh = (g.h + 2 * g.pad - g.r) / g.stride + 1;
  g.ow = (g.w + 2 * g.pad - g.s) / g.stride + 1;
  const size_t w_bytes = g.k * g.crs() * 4, in_bytes = size_t(g.n) * g.c * g.h * g.w * 4,
               out_bytes = size_t(g.n) * g.k * g.oh * g.ow * 4, b_bytes = size_t(g.k) * 4;
  const size_t w_alloc = offset + (after_another ? 2 : 1) * w_bytes + (2u << 20), act_alloc = in_bytes + out_bytes + b_bytes + 4096;
  check_fits(w_alloc + act_alloc);
  const uint32_t ctas = g.grid_x() * g.grid_y(), chunks = g.chunks();
  float* spill = nullptr;
  uint64_t* d_stamps = nullptr;
  CK(cudaMalloc(&spill, sizeof(float) * k::kSpillFloats));
  CK(cudaMalloc(&d_stamps, sizeof(uint64_t) * ctas * (chunks + 2)));
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  for (int r = 0; r < reps; ++r)
    for (int stamped = 0; stamped < 2; ++stamped)
      for (int resident = 0; resident < 2; ++resident) {
        char *wa = nullptr, *aa = nullptr;
        CK(cudaMallocManaged(&wa, w_alloc));
        CK(cudaMallocManaged(&aa, act_alloc));
        std::memset(wa, 0, w_alloc);  // the CPU writes every page, as uvm_runtime's weight initialisation does
        std::memset(aa, 0, act_alloc);
        float* w = reinterpret_cast<float*>(wa + offset + (after_another ? w_bytes : 0));
        for (size_t i = 0; i < w_bytes / 4; i += 97) w[i] = float(i % 13) * 0.01f;
        Tensors x;
        x.in = reinterpret_cast<float*>(aa);
        x.out = reinterpret_cast<float*>(aa + in_bytes);
        x.bias = reinterpret_cast<float*>(aa + in_bytes + out_bytes);
        x.weight = w;
        x.spill = spill;
        prefetch(aa, act_alloc, true);  // the previous layer's output: resident
        if (resident) prefetch(wa, w_alloc, true);
        CK(cudaDeviceSynchronize());
        const dim3 grid(g.grid_x(), g.grid_y());
        float before_ms = 0;
        if (after_another) {
          Tensors y = x;
          y.weight = reinterpret_cast<float*>(wa + offset);
          before_ms = time_ms(e0, e1, [&] { k::conv_kernel<<<grid, k::kThreads>>>(g, y); });
        }
        const float ms = time_ms(e0, e1, [&] {
          if (stamped)
            conv_stamped<<<grid, k::kThreads>>>(g, x, d_stamps);
          else
            k::conv_kernel<<<grid, k::kThreads>>>(g, x);
        });
        std::string per_cta;
        if (stamped) {
          std::vector<uint64_t> s(size_t(ctas) * (chunks + 2));
          CK(cudaMemcpy(s.data(), d_stamps, sizeof(uint64_t) * s.size(), cudaMemcpyDeviceToHost));
          uint64_t t0 = UINT64_MAX;
          for (uint32_t c = 0; c < ctas; ++c) t0 = std::min(t0, s[size_t(c) * (chunks + 2)]);
          for (uint32_t c = 0; c < ctas; ++c) {
            const uint64_t* q = &s[size_t(c) * (chunks + 2)];
            std::string waits;
            for (uint32_t j = 0; j < chunks; ++j)
              if ((q[j + 1] - q[j]) / 1e3 > gap_us) {
                char b[48];
                std::snprintf(b, sizeof b, "%s[%u, %.1f]", waits.empty() ? "" : ", ", j, (q[j + 1] - q[j]) / 1e3);
                waits += b;
              }
            char b[128];
            std::snprintf(b, sizeof b, "%s[%.1f, %.1f, %.1f, [", c ? ", " : "", (q[0] - t0) / 1e3, (q[1] - t0) / 1e3,
                          (q[chunks + 1] - t0) / 1e3);
            per_cta += b + waits + "]]";
          }
        }
        std::printf(
            "{\"shape\": [%u, %u, %u, %u, %u, %u, %u, %u, %u], \"offset\": %zu, \"ctas\": %u, \"chunks\": %u, "
            "\"kernel\": \"%s\", \"resident\": %d, \"after_another\": %d, \"before_ms\": %.4f, \"rep\": %d, "
            "\"ms\": %.4f, \"per_cta\": [%s]}\n",
            g.n, g.c, g.h, g.w, g.k, g.r, g.s, g.stride, g.pad, offset, ctas, chunks,
            stamped ? "stamped" : "conv_kernel", resident, int(after_another), before_ms, r, ms, per_cta.c_str());
        std::fflush(stdout);
        CK(cudaFree(wa));
        CK(cudaFree(aa));
      }
  return 0;
}
