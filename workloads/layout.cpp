#include "workloads/layout.h"

#include <algorithm>

namespace uvmsim {

using kernels::Access;
using kernels::Tensor;

uint64_t LayerKernel::ctas() const {
  const auto g = grid();
  return uint64_t(g[0]) * g[1] * g[2];
}

std::array<uint32_t, 3> LayerKernel::grid() const {
  const auto blocks = [](uint64_t n) { return uint32_t((n + kernels::kThreads - 1) / kernels::kThreads); };
  switch (kind) {
    case Kind::kConv: return {conv.grid_x(), conv.grid_y(), 1};
    case Kind::kDwConv: return {blocks(kernels::dwconv_outputs(conv)), 1, 1};
    case Kind::kPool: return {blocks(pool.outputs()), 1, 1};
    case Kind::kEltwise: return {blocks(elems), 1, 1};
    case Kind::kSoftmax: return {batch, 1, 1};
  }
  return {1, 1, 1};
}

uint32_t LayerKernel::positions() const {
  switch (kind) {
    case Kind::kConv: return conv.positions();
    case Kind::kDwConv: return kernels::dwconv_positions(conv);
    case Kind::kPool: return pool.positions();
    case Kind::kEltwise: return kernels::eltwise_positions(eltwise);
    case Kind::kSoftmax: return kernels::softmax_positions(features);
  }
  return 0;
}

Access LayerKernel::access(uint64_t cta, uint32_t t, uint32_t pos) const {
  switch (kind) {
    case Kind::kConv:
      return kernels::conv_access(conv, uint32_t(cta % conv.grid_x()), uint32_t(cta / conv.grid_x()), t, pos);
    case Kind::kDwConv: return kernels::dwconv_access(conv, uint32_t(cta), t, pos);
    case Kind::kPool: return kernels::pool_access(pool, uint32_t(cta), t, pos);
    case Kind::kEltwise: return kernels::eltwise_access(eltwise, elems, plane, channels, uint32_t(cta), t, pos);
    case Kind::kSoftmax: return kernels::softmax_access(features, uint32_t(cta), t, pos);
  }
  return {};
}

TenantLayout layout_tenant(const Model& m, uint32_t batch) {
  TenantLayout lay;
  auto page_up = [](uint64_t b) { return (b + 4095) / 4096 * 4096; };
  auto add = [&](TensorSlot::Role role, bool weights, uint64_t bytes, const std::string& name) {
    uint64_t& used = weights ? lay.weights_bytes : lay.activations_bytes;
    lay.tensors.push_back({name, role, weights, used, bytes});
    used += page_up(bytes);
    return int64_t(lay.tensors.size() - 1);
  };
  lay.params.assign(m.layers.size(), {-1, -1, -1, -1});
  lay.out.resize(m.layers.size());
  for (size_t li = 0; li < m.layers.size(); ++li) {
    const Layer& l = m.layers[li];
    if (l.op == LayerOp::kConv || l.op == LayerOp::kLinear) {
      lay.params[li][0] = add(TensorSlot::Role::kWeight, true, (l.parameters() - (l.bias ? l.out.c : 0)) * 4, l.name + ".weight");
      if (l.bias) lay.params[li][1] = add(TensorSlot::Role::kWeight, true, uint64_t(l.out.c) * 4, l.name + ".bias");
    } else if (l.op == LayerOp::kBatchNorm) {
      const char* what[] = {".weight", ".bias", ".running_mean", ".running_var"};
      for (size_t i = 0; i < 4; ++i) lay.params[li][i] = add(TensorSlot::Role::kWeight, true, uint64_t(l.in.c) * 4, l.name + what[i]);
    }
  }
  lay.input = size_t(add(TensorSlot::Role::kInput, false, uint64_t(batch) * m.input.elems() * 4, "input"));
  for (size_t li = 0; li < m.layers.size(); ++li)
    lay.out[li] = size_t(add(li + 1 == m.layers.size() ? TensorSlot::Role::kOutput : TensorSlot::Role::kActivation, false,
                             uint64_t(batch) * m.layers[li].out.elems() * 4, m.layers[li].name));
  return lay;
}

// The kernel of one layer of a tenant.
LayerKernel layer_kernel(const Model& m, const TenantLayout& lay, size_t li, uint32_t batch, uint64_t wb, uint64_t ab) {
  const Layer& l = m.layers[li];
  LayerKernel k;
  auto at = [&](int64_t tensor) { return tensor < 0 ? 0 : lay.address(size_t(tensor), wb, ab); };
  auto src = [&](size_t i) { return at(int64_t(l.inputs[i] == kModelInput ? lay.input : lay.out[l.inputs[i]])); };
  k.va[kernels::kIn] = src(0);
  k.va[kernels::kOut] = at(int64_t(lay.out[li]));
  switch (l.op) {
    case LayerOp::kConv:
    case LayerOp::kLinear: {
      const bool linear = l.op == LayerOp::kLinear;
      k.kind = l.depthwise() ? LayerKernel::Kind::kDwConv : LayerKernel::Kind::kConv;
      if (!linear && l.groups != 1 && !l.depthwise())
        throw ModelError(m.name + ": layer '" + l.name + "': grouped convolutions other than depthwise have no kernel");
      k.conv = linear ? kernels::ConvShape{batch, uint32_t(l.in.elems()), 1, 1, l.out.c, 1, 1, 1, 0, 1, 1, l.bias}
                      : kernels::ConvShape{batch, l.in.c, l.in.h, l.in.w, l.out.c, l.kernel, l.kernel,
                                           l.stride, l.padding, l.out.h, l.out.w, l.bias};
      k.va[kernels::kWeight] = at(lay.params[li][0]);
      k.va[kernels::kBias] = at(lay.params[li][1]);
      break;
    }
    case LayerOp::kMaxPool:
    case LayerOp::kAvgPool:
      k.kind = LayerKernel::Kind::kPool;
      k.pool = {batch, l.in.c, l.in.h, l.in.w, l.out.h, l.out.w, l.kernel, l.stride, l.padding,
                l.op == LayerOp::kAvgPool};
      break;
    case LayerOp::kSoftmax:
      k.kind = LayerKernel::Kind::kSoftmax;
      k.batch = batch;
      k.features = uint32_t(l.in.elems());
      break;
    default:
      k.kind = LayerKernel::Kind::kEltwise;
      k.eltwise = l.op == LayerOp::kRelu    ? kernels::Eltwise::kRelu
                  : l.op == LayerOp::kRelu6 ? kernels::Eltwise::kRelu6
                  : l.op == LayerOp::kAdd   ? kernels::Eltwise::kAdd
                                            : kernels::Eltwise::kBatchNorm;
      k.elems = uint64_t(batch) * l.in.elems();
      k.plane = uint64_t(l.in.h) * l.in.w;
      k.channels = l.in.c;
      if (l.op == LayerOp::kAdd) k.va[kernels::kIn2] = src(1);
      if (l.op == LayerOp::kBatchNorm)
        for (int i = 0; i < 4; ++i) k.va[kernels::kWeight + i] = at(lay.params[li][size_t(i)]);
  }
  return k;
}


void tensor_bytes(const LayerKernel& k, uint64_t out[7]) {
  std::fill(out, out + 7, 0);
  switch (k.kind) {
    case LayerKernel::Kind::kConv:
    case LayerKernel::Kind::kDwConv: {
      const auto& g = k.conv;
      const bool dw = k.kind == LayerKernel::Kind::kDwConv;
      out[kernels::kIn] = uint64_t(g.n) * g.c * g.h * g.w * 4;
      out[kernels::kWeight] = uint64_t(g.k) * (dw ? 1 : g.c) * g.r * g.s * 4;
      out[kernels::kBias] = g.bias ? uint64_t(g.k) * 4 : 0;
      out[kernels::kOut] = uint64_t(g.n) * g.k * g.oh * g.ow * 4;
      break;
    }
    case LayerKernel::Kind::kPool:
      out[kernels::kIn] = uint64_t(k.pool.n) * k.pool.c * k.pool.h * k.pool.w * 4;
      out[kernels::kOut] = k.pool.outputs() * 4;
      break;
    case LayerKernel::Kind::kEltwise:
      out[kernels::kIn] = out[kernels::kOut] = k.elems * 4;
      if (k.eltwise == kernels::Eltwise::kAdd) out[kernels::kIn2] = k.elems * 4;
      if (k.eltwise == kernels::Eltwise::kBatchNorm)
        for (Tensor t : {kernels::kWeight, kernels::kBias, kernels::kMean, kernels::kVar}) out[t] = uint64_t(k.channels) * 4;
      break;
    case LayerKernel::Kind::kSoftmax:
      out[kernels::kIn] = out[kernels::kOut] = uint64_t(k.batch) * k.features * 4;
      break;
  }
}


}  // namespace uvmsim
