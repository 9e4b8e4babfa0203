// What the native programs (uvm_runtime, uvm_serve) share: a tenant's managed memory as workloads/layout.h
// lays it out (one cudaMallocManaged region for the weights, one for the input and activations), its
// deterministic initialisation by the CPU, and the launch of one layer kernel.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <random>

#include "workloads/kernels/layers.cuh"
#include "workloads/layout.h"

namespace uvmsim {

struct TenantMemory {
  char* weights = nullptr;
  char* activations = nullptr;
  float* spill = nullptr;
};

// Managed memory: whether `need` bytes fit in 90% of what the GPU has free; else says so (the simulator is
// for oversubscription: a shared GPU oversubscribed can hang).
inline bool managed_fits(uint64_t need, const char* tool) {
  size_t free_b = 0, total_b = 0;
  UVMSIM_CUDA_CHECK(tool, cudaMemGetInfo(&free_b, &total_b));
  if (need <= free_b / 10 * 9) return true;
  std::fprintf(stderr, "%s: refusing %llu bytes of managed memory: more than 90%% of the GPU's free %llu\n", tool,
               (unsigned long long)need, (unsigned long long)free_b);
  return false;
}

// Allocates a tenant's regions and fills the weights and input on the CPU, seeded by the model's name, so
// that a model has the same weights and inputs alone and in any mix.
inline TenantMemory make_tenant_memory(const Model& m, const TenantLayout& lay, const char* tool) {
  TenantMemory t;
  UVMSIM_CUDA_CHECK(tool, cudaMallocManaged(&t.weights, std::max<uint64_t>(lay.weights_bytes, 4096)));
  UVMSIM_CUDA_CHECK(tool, cudaMallocManaged(&t.activations, lay.activations_bytes));
  UVMSIM_CUDA_CHECK(tool, cudaMalloc(&t.spill, kernels::kSpillFloats * sizeof(float)));
  uint32_t seed = 2166136261u;  // FNV-1a
  for (const char ch : m.name) seed = (seed ^ uint8_t(ch)) * 16777619u;
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> small(-0.05f, 0.05f), unit(-1.f, 1.f), var(0.5f, 1.5f);
  for (size_t i = 0; i < lay.tensors.size(); ++i) {
    const TensorSlot& s = lay.tensors[i];
    if (s.role != TensorSlot::Role::kWeight && s.role != TensorSlot::Role::kInput) continue;
    float* p = reinterpret_cast<float*>(lay.address(i, uint64_t(t.weights), uint64_t(t.activations)));
    const bool is_var = s.name.size() > 12 && s.name.compare(s.name.size() - 12, 12, ".running_var") == 0;
    for (uint64_t j = 0; j < s.bytes / 4; ++j)
      p[j] = s.role == TensorSlot::Role::kInput ? unit(rng) : is_var ? var(rng) : small(rng);
  }
  return t;
}

inline void free_tenant_memory(TenantMemory& t, const char* tool) {
  UVMSIM_CUDA_CHECK(tool, cudaFree(t.weights));
  UVMSIM_CUDA_CHECK(tool, cudaFree(t.activations));
  UVMSIM_CUDA_CHECK(tool, cudaFree(t.spill));
}

inline void launch_layer(const LayerKernel& k, float* spill, cudaStream_t stream) {
  kernels::Tensors x;
  auto p = [&](kernels::Tensor i) { return reinterpret_cast<float*>(k.va[i]); };
  x.in = p(kernels::kIn), x.in2 = p(kernels::kIn2), x.weight = p(kernels::kWeight), x.bias = p(kernels::kBias);
  x.mean = p(kernels::kMean), x.var = p(kernels::kVar), x.out = p(kernels::kOut), x.spill = spill;
  switch (k.kind) {
    case LayerKernel::Kind::kConv: kernels::launch_conv(k.conv, x, stream); break;
    case LayerKernel::Kind::kDwConv: kernels::launch_dwconv(k.conv, x, stream); break;
    case LayerKernel::Kind::kPool: kernels::launch_pool(k.pool, x, stream); break;
    case LayerKernel::Kind::kEltwise: kernels::launch_eltwise(k.eltwise, k.elems, k.plane, k.channels, x, stream); break;
    case LayerKernel::Kind::kSoftmax: kernels::launch_softmax(k.batch, k.features, x, stream); break;
  }
}

}  // namespace uvmsim
