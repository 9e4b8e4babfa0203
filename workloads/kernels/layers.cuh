// workloads/'s CUDA layer kernels: fp32, NCHW, every access at the position schedule.h gives it. Loads and
// stores are volatile PTX so that the compiler keeps their order (the access capture's per-thread
// ordinals are then the schedule's positions); accesses outside a tensor go to `spill`, a buffer of
// kSpillFloats in plain device memory (not managed: the converter leaves it out of the trace), each thread
// to its own slot: were they all to hit one address, same-address stores would serialise in one L2 slice
// and make a kernel's time depend on how much of its last tile is empty (measured: a ResNet stem twice as
// slow as its work), which no real kernel does.
#pragma once

#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>

#include "workloads/kernels/schedule.h"

// Host side: a CUDA call that must succeed; otherwise `tool: call: error` and exit 2.
#define UVMSIM_CUDA_CHECK(tool, x)                                                   \
  do {                                                                               \
    cudaError_t e_ = (x);                                                            \
    if (e_ != cudaSuccess) {                                                         \
      std::fprintf(stderr, "%s: %s: %s\n", tool, #x, cudaGetErrorString(e_));         \
      std::exit(2);                                                                  \
    }                                                                                \
  } while (0)

namespace uvmsim::kernels {

struct Tensors {
  const float* in = nullptr;
  const float* in2 = nullptr;
  const float* weight = nullptr;
  const float* bias = nullptr;
  const float* mean = nullptr;
  const float* var = nullptr;
  float* out = nullptr;
  float* spill = nullptr;  // plain device memory, kSpillFloats floats
};

constexpr uint32_t kSpillFloats = 1u << 16;  // 256 KiB

__device__ __forceinline__ float* spill_slot(const Tensors& x) {
  const uint32_t cta = blockIdx.y * gridDim.x + blockIdx.x;
  return x.spill + (cta * kThreads + threadIdx.x) % kSpillFloats;
}

__device__ __forceinline__ float ld(const float* p) {
  float v;
  asm volatile("ld.global.f32 %0, [%1];" : "=f"(v) : "l"(p) : "memory");
  return v;
}
__device__ __forceinline__ void st(float* p, float v) {
  asm volatile("st.global.f32 [%0], %1;" ::"l"(p), "f"(v) : "memory");
}

__device__ __forceinline__ const float* base(const Tensors& x, Tensor t) {
  switch (t) {
    case kIn: return x.in;
    case kIn2: return x.in2;
    case kWeight: return x.weight;
    case kBias: return x.bias;
    case kMean: return x.mean;
    case kVar: return x.var;
    default: return x.out;
  }
}

// A load at its position: the value, or 0 outside the tensor (the spill buffer is read, for the count).
__device__ __forceinline__ float load(const Tensors& x, const Access& a) {
  const float v = ld(a.index == kOutside ? spill_slot(x) : base(x, a.tensor) + a.index);
  return a.index == kOutside ? 0.f : v;
}
__device__ __forceinline__ void store(const Tensors& x, const Access& a, float v) {
  st(a.index == kOutside ? spill_slot(x) : x.out + a.index, v);
}

__global__ void __launch_bounds__(kThreads) conv_kernel(ConvShape g, Tensors x) {
  __shared__ float wt[kConvTileK][kConvTileM], xt[kConvTileK][kConvTileN];
  const uint32_t t = threadIdx.x, tr = t / 16, tc = t % 16;
  float acc[4][4] = {};
  for (uint32_t chunk = 0; chunk < g.chunks(); ++chunk) {
    for (uint32_t slot = 0; slot < 4; ++slot) {
      const float v = load(x, conv_access(g, blockIdx.x, blockIdx.y, t, 4 * chunk + slot));
      if (slot < 2)
        wt[t % 8][slot * 32 + t / 8] = v;
      else
        xt[(slot - 2) * 4 + t / 64][t % 64] = v;
    }
    __syncthreads();
    for (uint32_t kk = 0; kk < kConvTileK; ++kk)
      for (int a = 0; a < 4; ++a)
        for (int b = 0; b < 4; ++b) acc[a][b] += wt[kk][a * 16 + tr] * xt[kk][b * 16 + tc];
    __syncthreads();
  }
  const uint32_t p0 = 4 * g.chunks();
  for (uint32_t j = 0; j < 16; ++j) {
    const float b = load(x, conv_access(g, blockIdx.x, blockIdx.y, t, p0 + 2 * j));
    store(x, conv_access(g, blockIdx.x, blockIdx.y, t, p0 + 2 * j + 1), acc[j / 4][j % 4] + b);
  }
}

__global__ void __launch_bounds__(kThreads) dwconv_kernel(ConvShape g, Tensors x) {
  float acc = 0.f;
  for (uint32_t tap = 0; tap < g.r * g.s; ++tap) {
    const float v = load(x, dwconv_access(g, blockIdx.x, threadIdx.x, 2 * tap));
    acc += v * load(x, dwconv_access(g, blockIdx.x, threadIdx.x, 2 * tap + 1));
  }
  acc += load(x, dwconv_access(g, blockIdx.x, threadIdx.x, 2 * g.r * g.s));
  store(x, dwconv_access(g, blockIdx.x, threadIdx.x, 2 * g.r * g.s + 1), acc);
}

__global__ void __launch_bounds__(kThreads) pool_kernel(PoolShape g, Tensors x) {
  const uint32_t taps = g.taps_y() * g.taps_x();
  float m = -3.402823466e38f, sum = 0.f;
  for (uint32_t tap = 0; tap < taps; ++tap) {
    const Access a = pool_access(g, blockIdx.x, threadIdx.x, tap);
    const float v = load(x, a);
    if (a.index != kOutside) m = fmaxf(m, v), sum += v;
  }
  float out = m;
  const uint64_t o = uint64_t(blockIdx.x) * kThreads + threadIdx.x;
  if (g.adaptive_avg && o < g.outputs()) {
    int64_t y0, y1, x0, x1;
    g.window(uint32_t(o / g.ow % g.oh), uint32_t(o % g.ow), y0, y1, x0, x1);
    out = sum / float((y1 - y0) * (x1 - x0));
  }
  store(x, pool_access(g, blockIdx.x, threadIdx.x, taps), out);
}

__global__ void __launch_bounds__(kThreads) eltwise_kernel(Eltwise op, uint64_t elems, uint64_t plane,
                                                           uint32_t channels, Tensors x) {
  const uint32_t n = eltwise_positions(op);
  float v[5];
  for (uint32_t pos = 0; pos + 1 < n; ++pos)
    v[pos] = load(x, eltwise_access(op, elems, plane, channels, blockIdx.x, threadIdx.x, pos));
  float y;
  switch (op) {
    case Eltwise::kRelu: y = fmaxf(v[0], 0.f); break;
    case Eltwise::kRelu6: y = fminf(fmaxf(v[0], 0.f), 6.f); break;
    case Eltwise::kAdd: y = v[0] + v[1]; break;
    default: y = (v[0] - v[3]) * rsqrtf(v[4] + 1e-5f) * v[1] + v[2]; break;
  }
  store(x, eltwise_access(op, elems, plane, channels, blockIdx.x, threadIdx.x, n - 1), y);
}

__device__ __forceinline__ float block_reduce(float v, bool is_max) {
  __shared__ float part[kThreads / 32];
  for (int o = 16; o > 0; o /= 2) {
    const float w = __shfl_xor_sync(0xffffffffu, v, o);
    v = is_max ? fmaxf(v, w) : v + w;
  }
  if (threadIdx.x % 32 == 0) part[threadIdx.x / 32] = v;
  __syncthreads();
  v = part[0];
  for (uint32_t i = 1; i < kThreads / 32; ++i) v = is_max ? fmaxf(v, part[i]) : v + part[i];
  __syncthreads();
  return v;
}

__global__ void __launch_bounds__(kThreads) softmax_kernel(uint32_t features, Tensors x) {
  const uint32_t q_n = softmax_rounds(features);
  float m = -3.402823466e38f;
  for (uint32_t q = 0; q < q_n; ++q) {
    const Access a = softmax_access(features, blockIdx.x, threadIdx.x, q);
    const float v = load(x, a);
    if (a.index != kOutside) m = fmaxf(m, v);
  }
  m = block_reduce(m, true);
  float s = 0.f;
  for (uint32_t q = 0; q < q_n; ++q) {
    const Access a = softmax_access(features, blockIdx.x, threadIdx.x, q_n + q);
    const float v = load(x, a);
    if (a.index != kOutside) s += __expf(v - m);
  }
  s = block_reduce(s, false);
  for (uint32_t q = 0; q < q_n; ++q) {
    const float v = load(x, softmax_access(features, blockIdx.x, threadIdx.x, 2 * q_n + 2 * q));
    store(x, softmax_access(features, blockIdx.x, threadIdx.x, 2 * q_n + 2 * q + 1), __expf(v - m) / s);
  }
}

// Launchers (grid from the shapes, kThreads per CTA).
inline void launch_conv(const ConvShape& g, const Tensors& x, cudaStream_t s) {
  conv_kernel<<<dim3(g.grid_x(), g.grid_y()), kThreads, 0, s>>>(g, x);
}
inline void launch_dwconv(const ConvShape& g, const Tensors& x, cudaStream_t s) {
  dwconv_kernel<<<uint32_t((dwconv_outputs(g) + kThreads - 1) / kThreads), kThreads, 0, s>>>(g, x);
}
inline void launch_pool(const PoolShape& g, const Tensors& x, cudaStream_t s) {
  pool_kernel<<<uint32_t((g.outputs() + kThreads - 1) / kThreads), kThreads, 0, s>>>(g, x);
}
inline void launch_eltwise(Eltwise op, uint64_t elems, uint64_t plane, uint32_t channels, const Tensors& x,
                           cudaStream_t s) {
  eltwise_kernel<<<uint32_t((elems + kThreads - 1) / kThreads), kThreads, 0, s>>>(op, elems, plane, channels, x);
}
inline void launch_softmax(uint32_t batch, uint32_t features, const Tensors& x, cudaStream_t s) {
  softmax_kernel<<<batch, kThreads, 0, s>>>(features, x);
}

}  // namespace uvmsim::kernels
