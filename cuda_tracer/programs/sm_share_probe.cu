// How does a kernel's time depend on the SMs it gets, on the CTAs each SM may hold and on another kernel
// sharing its SMs? The simulator's CTA slots behave as whole processors (a 132-CTA kernel takes the same
// time on 132, 66 or 17 SMs); this probe measures what the GPU does, for the SM-sharing model of the engine
// issue. Kernels, all on plain device memory (cudaMalloc, never managed: data resident):
//   fma      compute-bound: 8 independent FMA chains per thread, 256 threads per CTA
//   copy     memory-bound: each CTA streams its own slice of 1 GiB in and out, 16 bytes per thread a step
//   conv     workloads/'s conv_kernel (ResNet-50 layer3 3x3, batch 8: 256 -> 256 channels, 14x14)
//   relu     workloads/'s eltwise_kernel, ReLU over 8 x 256 x 56 x 56 floats
//   stem     conv_kernel, ResNet-50's 7x7 stride-2 stem (3 -> 64 channels, 224 -> 112), batch 8
//   conv1x1  conv_kernel, 1x1 256 -> 64 channels at 56x56 (ResNet-50 layer1), batch 8
//   conv7    conv_kernel, 3x3 512 -> 512 channels at 7x7 (ResNet-50 layer4): 32 CTAs, most SMs idle
//   dwconv   dwconv_kernel, 3x3 depthwise over 144 channels at 56x56 (MobileNetV2), batch 8
//   pool     pool_kernel, 3x3 stride-2 max pooling of 8 x 64 x 112 x 112
//   add      eltwise_kernel, residual add of two 8 x 256 x 56 x 56 tensors
// Each line carries the kernel's DRAM bytes (its tensors read once and written once), what the model may
// take from a resident pass besides the time and the launch shape.
// at partitions of 132 (the whole GPU), 72, 32, 16 and 8 SMs (green contexts,
// cuda_tracer/src/green_context.h; the count obtained is recorded), with the CTAs per SM capped at 1, 2, 4 or
// the kernel's own maximum by padding dynamic shared memory, alone and two at once on the same partition's
// SMs (two streams). A kernel's time is the span between globaltimer stamps written by one-thread kernels
// just before and after it on its stream (a few microseconds of launch gap included; kernels run for
// milliseconds). One JSON line per (kernel or pair, partition, cap): medians and ranges over --reps runs.
//   sm_share_probe [--reps 7] [--sms 132,72,32,16,8] [--caps 0,4,2,1]
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "../src/green_context.h"
#include "common.h"
#include "workloads/kernels/layers.cuh"

namespace {

namespace k = uvmsim::kernels;
using uvmtrace::SmPartition;

__global__ void stamp(uint64_t* at) { *at = globaltimer(); }

__global__ void __launch_bounds__(256) fma_kernel(float* out, uint32_t iters) {
  float a[8];
  for (int i = 0; i < 8; ++i) a[i] = float(threadIdx.x + i) * 1e-3f;
  for (uint32_t it = 0; it < iters; ++it)
    for (int i = 0; i < 8; ++i) a[i] = fmaf(a[i], 0.999f, 0.5f);
  float s = 0;
  for (int i = 0; i < 8; ++i) s += a[i];
  out[blockIdx.x * blockDim.x + threadIdx.x] = s;
}

__global__ void __launch_bounds__(256) copy_kernel(const float4* in, float4* out, uint64_t per_cta) {
  const uint64_t base = uint64_t(blockIdx.x) * per_cta;
  for (uint64_t i = threadIdx.x; i < per_cta; i += blockDim.x) {
    float4 v = in[base + i];
    v.x += 1.f;
    out[base + i] = v;
  }
}

// Dynamic shared memory that leaves room for at most `cap` CTAs of `func` per SM (0: no padding).
size_t padding_for(const void* func, uint32_t cap) {
  if (cap == 0) return 0;
  int dev = 0, per_sm = 0;
  CK(cudaDeviceGetAttribute(&per_sm, cudaDevAttrMaxSharedMemoryPerMultiprocessor, dev));
  cudaFuncAttributes fa{};
  CK(cudaFuncGetAttributes(&fa, func));
  // Each CTA also costs 1 KiB of shared memory reserved by the system on Hopper.
  const size_t room = size_t(per_sm) / cap - 1024 - fa.sharedSizeBytes;
  int optin = 0;
  CK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev));
  return std::min<size_t>(room, size_t(optin) - fa.sharedSizeBytes);
}

int occupancy(const void* func, uint32_t threads, size_t smem) {
  int n = 0;
  CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, func, int(threads), smem));
  return n;
}

std::string stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  char b[128];
  std::snprintf(b, sizeof b, "{\"median\": %.4f, \"min\": %.4f, \"max\": %.4f}", median(v), v.front(),
                v.back());
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 7;
  std::vector<unsigned> sm_list = {132, 72, 32, 16, 8};
  std::vector<uint32_t> caps = {0, 4, 2, 1};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--sms") && i + 1 < argc) {
      sm_list = parse_counts(argv[++i]);
    } else if (!std::strcmp(argv[i], "--caps") && i + 1 < argc) {
      auto v = parse_counts(argv[++i]);
      caps.assign(v.begin(), v.end());
    } else {
      std::fprintf(stderr, "usage: sm_share_probe [--reps N] [--sms 132,72,...] [--caps 0,4,2,1]\n");
      return 2;
    }
  }
  CK(cudaFree(nullptr));  // the primary context, before any green context
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, 0));

  // Buffers (plain device memory, filled with non-zero data).
  const uint32_t fma_grid = 132 * 8, fma_iters = 1 << 14;
  float* fma_out = nullptr;
  CK(cudaMalloc(&fma_out, sizeof(float) * fma_grid * 256 * 2));
  const uint64_t copy_bytes = uint64_t(1) << 30, copy_grid = 132 * 8, per_cta = copy_bytes / 16 / copy_grid;
  float4 *cin = nullptr, *cout = nullptr;
  // Two inputs and two outputs: a pair of copies reads and writes apart (reading one input, the second
  // copy would find much of it in the L2 behind the first and move fewer DRAM bytes than it does alone).
  CK(cudaMalloc(&cin, copy_bytes * 2));
  CK(cudaMalloc(&cout, copy_bytes * 2));
  CK(cudaMemset(cin, 0x3f, copy_bytes * 2));
  k::ConvShape conv{8, 256, 14, 14, 256, 3, 3, 1, 1, 0, 0, true};
  conv.oh = (conv.h + 2 * conv.pad - conv.r) / conv.stride + 1;
  conv.ow = (conv.w + 2 * conv.pad - conv.s) / conv.stride + 1;
  const uint64_t relu_elems = uint64_t(8) * 256 * 56 * 56, relu_plane = 56 * 56;
  auto device_floats = [](uint64_t n) {
    float* p = nullptr;
    CK(cudaMalloc(&p, n * 4));
    CK(cudaMemset(p, 0x3e, n * 4));
    return p;
  };
  auto conv_shape = [](uint32_t c, uint32_t hw, uint32_t kk, uint32_t r, uint32_t stride, uint32_t pad) {
    k::ConvShape g{8, c, hw, hw, kk, r, r, stride, pad, 0, 0, true};
    g.oh = (g.h + 2 * g.pad - g.r) / g.stride + 1;
    g.ow = (g.w + 2 * g.pad - g.s) / g.stride + 1;
    return g;
  };
  const k::ConvShape stem = conv_shape(3, 224, 64, 7, 2, 3), c1x1 = conv_shape(256, 56, 64, 1, 1, 0),
                     conv7 = conv_shape(512, 7, 512, 3, 1, 1), dw = conv_shape(144, 56, 144, 3, 1, 1);
  k::PoolShape pool{8, 64, 112, 112, 56, 56, 3, 2, 1, false};
  const uint64_t add_elems = relu_elems;
  // A convolution's tensors (two copies: a pair of kernels works apart); depthwise: weights per channel.
  auto conv_tensors = [&](const k::ConvShape& g, bool depthwise) {
    k::Tensors t;
    t.in = device_floats(uint64_t(g.n) * g.c * g.h * g.w);
    t.weight = device_floats(depthwise ? uint64_t(g.c) * g.r * g.s : uint64_t(g.k) * g.crs());
    t.bias = device_floats(g.k);
    t.out = device_floats(uint64_t(g.n) * g.k * g.oh * g.ow);
    t.spill = device_floats(k::kSpillFloats);
    return t;
  };
  auto conv_bytes = [](const k::ConvShape& g, bool depthwise) {
    return 4 * (uint64_t(g.n) * g.c * g.h * g.w +
                (depthwise ? uint64_t(g.c) * g.r * g.s : uint64_t(g.k) * g.crs()) + g.k +
                uint64_t(g.n) * g.k * g.oh * g.ow);
  };
  k::Tensors cx[2], rx[2], sx[2], ox[2], c7x[2], dx[2], px[2], ax[2];
  for (int j = 0; j < 2; ++j) {
    cx[j] = conv_tensors(conv, false);
    sx[j] = conv_tensors(stem, false);
    ox[j] = conv_tensors(c1x1, false);
    c7x[j] = conv_tensors(conv7, false);
    dx[j] = conv_tensors(dw, true);
    rx[j].in = device_floats(relu_elems);
    rx[j].out = device_floats(relu_elems);
    rx[j].spill = device_floats(k::kSpillFloats);
    px[j].in = device_floats(uint64_t(pool.n) * pool.c * pool.h * pool.w);
    px[j].out = device_floats(pool.outputs());
    px[j].spill = device_floats(k::kSpillFloats);
    ax[j].in = device_floats(add_elems);
    ax[j].in2 = device_floats(add_elems);
    ax[j].out = device_floats(add_elems);
    ax[j].spill = device_floats(k::kSpillFloats);
  }
  uint64_t* stamps = nullptr;
  CK(cudaMalloc(&stamps, 4 * sizeof(uint64_t)));

  // Kernels: launch(stream, smem, which copy of the buffers).
  struct K {
    std::string name;
    const void* func;
    uint32_t grid;
    uint32_t threads;
    uint64_t bytes;  // DRAM bytes: tensors read once and written once
    std::function<void(cudaStream_t, size_t, int)> launch;
  };
  const uint32_t relu_grid = uint32_t((relu_elems + k::kThreads - 1) / k::kThreads);
  auto conv_k = [&](const char* name, const k::ConvShape& g, k::Tensors* x) {
    return K{name,
             (const void*)k::conv_kernel,
             g.grid_x() * g.grid_y(),
             k::kThreads,
             conv_bytes(g, false),
             [&g, x](cudaStream_t s, size_t smem, int j) {
               k::conv_kernel<<<dim3(g.grid_x(), g.grid_y()), k::kThreads, smem, s>>>(g, x[j]);
             }};
  };
  const uint32_t dw_grid = uint32_t((uint64_t(dw.n) * dw.c * dw.oh * dw.ow + k::kThreads - 1) / k::kThreads);
  const uint32_t pool_grid = uint32_t((pool.outputs() + k::kThreads - 1) / k::kThreads);
  std::vector<K> kernels = {
      {"fma", (const void*)fma_kernel, fma_grid, 256, uint64_t(fma_grid) * 256 * 4,
       [&](cudaStream_t s, size_t smem, int j) {
         fma_kernel<<<fma_grid, 256, smem, s>>>(fma_out + j * fma_grid * 256, fma_iters);
       }},
      {"copy", (const void*)copy_kernel, uint32_t(copy_grid), 256, 2 * copy_bytes,
       [&](cudaStream_t s, size_t smem, int j) {
         copy_kernel<<<uint32_t(copy_grid), 256, smem, s>>>(cin + j * (copy_bytes / 16),
                                                            cout + j * (copy_bytes / 16), per_cta);
       }},
      conv_k("conv", conv, cx),
      {"relu", (const void*)k::eltwise_kernel, relu_grid, k::kThreads, 2 * 4 * relu_elems,
       [&](cudaStream_t s, size_t smem, int j) {
         k::eltwise_kernel<<<relu_grid, k::kThreads, smem, s>>>(k::Eltwise::kRelu, relu_elems, relu_plane,
                                                                256, rx[j]);
       }},
      conv_k("stem", stem, sx),
      conv_k("conv1x1", c1x1, ox),
      conv_k("conv7", conv7, c7x),
      {"dwconv", (const void*)k::dwconv_kernel, dw_grid, k::kThreads, conv_bytes(dw, true),
       [&](cudaStream_t s, size_t smem, int j) {
         k::dwconv_kernel<<<dw_grid, k::kThreads, smem, s>>>(dw, dx[j]);
       }},
      {"pool", (const void*)k::pool_kernel, pool_grid, k::kThreads,
       4 * (uint64_t(pool.n) * pool.c * pool.h * pool.w + pool.outputs()),
       [&](cudaStream_t s, size_t smem, int j) {
         k::pool_kernel<<<pool_grid, k::kThreads, smem, s>>>(pool, px[j]);
       }},
      {"add", (const void*)k::eltwise_kernel, relu_grid, k::kThreads, 3 * 4 * add_elems,
       [&](cudaStream_t s, size_t smem, int j) {
         k::eltwise_kernel<<<relu_grid, k::kThreads, smem, s>>>(k::Eltwise::kAdd, add_elems, relu_plane, 256,
                                                                ax[j]);
       }},
  };
  std::vector<cudaFuncAttributes> attrs;
  for (const K& kn : kernels) {
    cudaFuncAttributes fa{};
    CK(cudaFuncGetAttributes(&fa, kn.func));
    attrs.push_back(fa);
    CK(cudaFuncSetAttribute(kn.func, cudaFuncAttributeMaxDynamicSharedMemorySize,
                            int(prop.sharedMemPerBlockOptin - fa.sharedSizeBytes)));
  }
  const std::vector<std::pair<int, int>> pairs = {{0, 0}, {0, 1}, {1, 1}, {2, 3}, {2, 2},
                                                  {4, 5}, {8, 2}, {0, 4}, {6, 7}, {9, 5}};

  std::fprintf(stderr, "GPU %s, %d SMs\n", prop.name, prop.multiProcessorCount);
  for (unsigned want : sm_list) {
    const SmPartition p = SmPartition::make(0, want, 2);
    std::fprintf(stderr, "partition: asked %u SMs, got %u of %u\n", want, p.sms(), p.total());
    // One kernel alone, or two at once on the partition's two streams: each one's span in ms.
    auto run = [&](const std::vector<std::pair<int, size_t>>& which) {
      std::vector<uint64_t> h(4);
      for (size_t i = 0; i < which.size(); ++i) {
        stamp<<<1, 1, 0, p.stream(unsigned(i))>>>(stamps + 2 * i);
        kernels[size_t(which[i].first)].launch(p.stream(unsigned(i)), which[i].second, int(i));
        stamp<<<1, 1, 0, p.stream(unsigned(i))>>>(stamps + 2 * i + 1);
      }
      CK(cudaGetLastError());
      CK(cudaDeviceSynchronize());
      CK(cudaMemcpy(h.data(), stamps, sizeof(uint64_t) * 4, cudaMemcpyDeviceToHost));
      std::vector<double> ms;
      for (size_t i = 0; i < which.size(); ++i) ms.push_back(double(h[2 * i + 1] - h[2 * i]) / 1e6);
      return ms;
    };
    for (uint32_t cap : caps) {
      for (size_t ki = 0; ki < kernels.size(); ++ki) {
        const size_t smem = padding_for(kernels[ki].func, cap);
        run({{int(ki), smem}});  // warm-up
        std::vector<double> t;
        for (int r = 0; r < reps; ++r) t.push_back(run({{int(ki), smem}})[0]);
        std::printf(
            "{\"probe\": \"sm_share\", \"gpu\": \"%s\", \"kernel\": \"%s\", \"mode\": \"alone\", \"grid\": "
            "%u, "
            "\"threads\": %u, \"regs\": %d, \"static_smem\": %zu, \"dram_bytes\": %llu, "
            "\"sms_asked\": %u, \"sms\": %u, \"cap\": %u, \"ctas_per_sm\": %d, \"smem_pad\": %zu, \"ms\": "
            "%s}\n",
            prop.name, kernels[ki].name.c_str(), kernels[ki].grid, kernels[ki].threads, attrs[ki].numRegs,
            attrs[ki].sharedSizeBytes, (unsigned long long)kernels[ki].bytes, want, p.sms(), cap,
            occupancy(kernels[ki].func, kernels[ki].threads, smem), smem, stats(t).c_str());
      }
      for (auto [a, b] : pairs) {
        const size_t sa = padding_for(kernels[size_t(a)].func, cap),
                     sb = padding_for(kernels[size_t(b)].func, cap);
        run({{a, sa}, {b, sb}});
        std::vector<double> ta, tb, span;
        for (int r = 0; r < reps; ++r) {
          auto ms = run({{a, sa}, {b, sb}});
          ta.push_back(ms[0]);
          tb.push_back(ms[1]);
          span.push_back(std::max(ms[0], ms[1]));
        }
        std::printf(
            "{\"probe\": \"sm_share\", \"gpu\": \"%s\", \"kernel\": \"%s+%s\", \"mode\": \"pair\", "
            "\"sms_asked\": %u, "
            "\"sms\": %u, \"cap\": %u, \"first_ms\": %s, \"second_ms\": %s, \"span_ms\": %s}\n",
            prop.name, kernels[size_t(a)].name.c_str(), kernels[size_t(b)].name.c_str(), want, p.sms(), cap,
            stats(ta).c_str(), stats(tb).c_str(), stats(span).c_str());
      }
      std::fflush(stdout);
    }
  }
  return 0;
}
