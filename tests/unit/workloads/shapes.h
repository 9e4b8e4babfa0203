// Square layer shapes for the workloads tests, the output size derived as the layer would.
#pragma once

#include "workloads/kernels/schedule.h"

namespace uvmsim::testing {

// An n x c x h x h input, k output channels, an r x r window.
inline kernels::ConvShape conv(uint32_t n, uint32_t c, uint32_t h, uint32_t k, uint32_t r, uint32_t stride,
                               uint32_t pad, bool bias) {
  kernels::ConvShape g{n, c, h, h, k, r, r, stride, pad, 0, 0, bias};
  g.oh = g.ow = (h + 2 * pad - r) / stride + 1;
  return g;
}

// Max pooling of an n x c x h x h input with a k x k window.
inline kernels::PoolShape maxpool(uint32_t n, uint32_t c, uint32_t h, uint32_t k, uint32_t stride, uint32_t pad) {
  kernels::PoolShape g{n, c, h, h, 0, 0, k, stride, pad, false};
  g.oh = g.ow = (h + 2 * pad - k) / stride + 1;
  return g;
}

}  // namespace uvmsim::testing
