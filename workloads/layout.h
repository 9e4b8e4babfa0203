// How workloads/ runs a model: the tensors of a tenant laid out in two regions (weights; the input and
// every layer's output), each tensor 4 KiB aligned, and the layer kernel each layer launches. Shared by
// the native runtime (runtime.cu, which puts each region in one cudaMallocManaged allocation) and the trace
// generator (generate.cpp), so that a generated trace describes the runtime's accesses page for page.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "workloads/kernels/schedule.h"
#include "workloads/model.h"

namespace uvmsim {

// One launch of a layer kernel, with the base address of each tensor it touches.
struct LayerKernel {
  enum class Kind : uint8_t { kConv, kDwConv, kPool, kEltwise, kSoftmax } kind = Kind::kConv;
  kernels::ConvShape conv{};
  kernels::PoolShape pool{};
  kernels::Eltwise eltwise = kernels::Eltwise::kRelu;
  uint64_t elems = 0, plane = 1;  // eltwise
  uint32_t channels = 1;          // eltwise
  uint32_t batch = 1, features = 0;  // softmax
  uint64_t va[7] = {};            // per kernels::Tensor
  uint64_t ctas() const;
  uint32_t positions() const;
  std::array<uint32_t, 3> grid() const;
  kernels::Access access(uint64_t cta, uint32_t thread, uint32_t pos) const;
};

struct TensorSlot {
  std::string name;  // layer name + ".weight", ".bias", ".running_mean", ".running_var"; "input"; the layer's name
  enum class Role : uint8_t { kWeight, kInput, kActivation, kOutput } role = Role::kActivation;
  bool weights_region = false;
  uint64_t offset = 0;  // in its region, 4 KiB aligned
  uint64_t bytes = 0;
};

// A tenant's tensors, in allocation order: every layer's parameters (weights region), then the input and
// every layer's output (activations region; the last layer's output is the model's output).
struct TenantLayout {
  std::vector<TensorSlot> tensors;
  uint64_t weights_bytes = 0, activations_bytes = 0;  // region sizes, whole pages
  size_t input = 0;
  std::vector<size_t> out;                     // per layer: tensor index of its output
  std::vector<std::array<int64_t, 4>> params;  // per layer: weight, bias (conv/linear); w, b, mean, var (BN); -1 none
  uint64_t address(size_t tensor, uint64_t weights_base, uint64_t activations_base) const {
    return (tensors[tensor].weights_region ? weights_base : activations_base) + tensors[tensor].offset;
  }
};

TenantLayout layout_tenant(const Model& m, uint32_t batch);

// The kernel layer `li` launches, with its tensors' addresses for regions at the given bases. Throws
// ModelError for a layer no kernel implements (grouped convolutions other than depthwise).
LayerKernel layer_kernel(const Model& m, const TenantLayout& lay, size_t li, uint32_t batch, uint64_t weights_base,
                         uint64_t activations_base);

// Bytes of each tensor a kernel touches (per kernels::Tensor; 0 for those it does not).
void tensor_bytes(const LayerKernel& k, uint64_t out[7]);

}  // namespace uvmsim
