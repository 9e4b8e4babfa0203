// The access schedules of workloads/'s layer kernels, shared by the CUDA kernels (layers.cu) and the trace
// generator (workloads/generate.cpp): which element each thread of each CTA reads or writes at each step.
//
// Every thread of a kernel performs the same sequence of global accesses ("positions" 0, 1, 2, ...): a
// load or store that falls outside its tensor (padding, a partial tile) goes to a small buffer in plain
// device memory instead (kOutside), so the access capture's per-thread ordinals equal the positions and the
// generator knows each page's first and last use exactly. Tensors are fp32, NCHW, row-major.
//
// Kernels and their tiling:
//   conv     implicit GEMM, groups 1 (linear layers too, as 1x1 convolutions of a 1x1 map): M = output
//            channels, N = batch x OH x OW output pixels, K = C x R x S. A CTA of 256 threads computes a
//            64 x 64 tile (grid x over pixel tiles, y over channel tiles), each thread 4 x 4 outputs
//            (channels tr, tr+16, tr+32, tr+48 x pixels tc, tc+16, tc+32, tc+48; tr = t / 16, tc = t % 16).
//            K is walked in chunks of 8; chunk i is positions 4i..4i+3: two weight loads (rows t / 8 and
//            32 + t / 8 of the tile, column 8i + t % 8), two input loads (K index 8i + t / 64 and
//            8i + 4 + t / 64, pixel t % 64). Then 16 pairs of positions: the bias of the output's channel
//            (kOutside without bias), the output store.
//   dwconv   depthwise convolution (groups = C = K): one thread per output element, 256 per CTA; for
//            each window tap (r, s): the input, then the weight; then the bias; then the store.
//   pool     max pooling (window, stride, padding) or adaptive average pooling: one thread per output;
//            every tap of the largest window, then the store.
//   eltwise  one thread per element, 256 per CTA: relu and relu6 (x; store), add (a, b; store),
//            batchnorm (x, weight, bias, running mean, running variance of the channel; store).
//   softmax  one CTA of 256 threads per sample over F features: three passes over j = t + 256q
//            (q < ceil(F / 256)): the max (loads), the sum of exponentials (loads), the output (load, store).
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define UVM_HD __host__ __device__ __forceinline__
#else
#define UVM_HD inline
#endif

namespace uvmsim::kernels {

constexpr int64_t kOutside = -1;  // the access goes to the plain-memory spill buffer
constexpr uint32_t kThreads = 256;

// Tensors a kernel touches, in its argument order.
enum Tensor : uint8_t { kIn = 0, kIn2, kWeight, kBias, kMean, kVar, kOut };

struct Access {
  int64_t index = kOutside;  // element index into `tensor`, or kOutside
  Tensor tensor = kIn;
  bool write = false;
};

// ---- conv (implicit GEMM) -----------------------------------------------------------------------------
constexpr uint32_t kConvTileM = 64, kConvTileN = 64, kConvTileK = 8;

struct ConvShape {
  uint32_t n, c, h, w;   // input
  uint32_t k, r, s;      // output channels, window
  uint32_t stride, pad;
  uint32_t oh, ow;       // output
  bool bias;
  UVM_HD uint64_t crs() const { return uint64_t(c) * r * s; }
  UVM_HD uint64_t pixels() const { return uint64_t(n) * oh * ow; }
  UVM_HD uint32_t chunks() const { return uint32_t((crs() + kConvTileK - 1) / kConvTileK); }
  UVM_HD uint32_t grid_x() const { return uint32_t((pixels() + kConvTileN - 1) / kConvTileN); }
  UVM_HD uint32_t grid_y() const { return (k + kConvTileM - 1) / kConvTileM; }
  UVM_HD uint32_t positions() const { return 4 * chunks() + 32; }
};

// Input element for GEMM row kk (a (c, r, s) tap) and output pixel p, or kOutside (padding, past the end).
UVM_HD int64_t conv_input_index(const ConvShape& g, uint64_t kk, uint64_t p) {
  if (kk >= g.crs() || p >= g.pixels()) return kOutside;
  const uint32_t c = uint32_t(kk / (uint64_t(g.r) * g.s)), r = uint32_t(kk / g.s % g.r), s = uint32_t(kk % g.s);
  const uint32_t ow = uint32_t(p % g.ow), oh = uint32_t(p / g.ow % g.oh), n = uint32_t(p / (uint64_t(g.ow) * g.oh));
  const int64_t ih = int64_t(oh) * g.stride - g.pad + r, iw = int64_t(ow) * g.stride - g.pad + s;
  if (ih < 0 || iw < 0 || ih >= g.h || iw >= g.w) return kOutside;
  return ((int64_t(n) * g.c + c) * g.h + ih) * g.w + iw;
}

// Output element of channel kc and pixel p, or kOutside.
UVM_HD int64_t conv_output_index(const ConvShape& g, uint64_t kc, uint64_t p) {
  if (kc >= g.k || p >= g.pixels()) return kOutside;
  const uint64_t hw = uint64_t(g.oh) * g.ow;
  return int64_t((p / hw * g.k + kc) * hw + p % hw);
}

// What thread t of CTA (bx, by) accesses at position `pos`.
UVM_HD Access conv_access(const ConvShape& g, uint32_t bx, uint32_t by, uint32_t t, uint32_t pos) {
  const uint64_t k0 = uint64_t(by) * kConvTileM, p0 = uint64_t(bx) * kConvTileN;
  Access a;
  if (pos < 4 * g.chunks()) {
    const uint32_t chunk = pos / 4, slot = pos % 4;
    if (slot < 2) {
      const uint64_t row = k0 + slot * 32 + t / 8, col = uint64_t(chunk) * kConvTileK + t % 8;
      a.tensor = kWeight;
      a.index = row < g.k && col < g.crs() ? int64_t(row * g.crs() + col) : kOutside;
    } else {
      const uint64_t kk = uint64_t(chunk) * kConvTileK + (slot - 2) * 4 + t / 64;
      a.tensor = kIn;
      a.index = conv_input_index(g, kk, p0 + t % 64);
    }
    return a;
  }
  const uint32_t j = (pos - 4 * g.chunks()) / 2, store = (pos - 4 * g.chunks()) % 2;
  const uint64_t kc = k0 + (j / 4) * 16 + t / 16, p = p0 + (j % 4) * 16 + t % 16;
  if (store) {
    a.tensor = kOut;
    a.write = true;
    a.index = conv_output_index(g, kc, p);
  } else {
    a.tensor = kBias;
    a.index = g.bias && kc < g.k && p < g.pixels() ? int64_t(kc) : kOutside;
  }
  return a;
}

// ---- depthwise conv ---------------------------------------------------------------------------------
UVM_HD uint32_t dwconv_positions(const ConvShape& g) { return 2 * g.r * g.s + 2; }
UVM_HD uint64_t dwconv_outputs(const ConvShape& g) { return uint64_t(g.n) * g.k * g.oh * g.ow; }

UVM_HD Access dwconv_access(const ConvShape& g, uint32_t bx, uint32_t t, uint32_t pos) {
  const uint64_t o = uint64_t(bx) * kThreads + t;
  Access a;
  if (o >= dwconv_outputs(g)) {
    a.tensor = pos == 2 * g.r * g.s + 1 ? kOut : kIn;
    a.write = pos == 2 * g.r * g.s + 1;
    return a;
  }
  const uint32_t ow = uint32_t(o % g.ow), oh = uint32_t(o / g.ow % g.oh), c = uint32_t(o / (uint64_t(g.ow) * g.oh) % g.k);
  const uint32_t n = uint32_t(o / (uint64_t(g.ow) * g.oh * g.k));
  if (pos < 2 * g.r * g.s) {
    const uint32_t tap = pos / 2, r = tap / g.s, s = tap % g.s;
    if (pos % 2 == 0) {
      const int64_t ih = int64_t(oh) * g.stride - g.pad + r, iw = int64_t(ow) * g.stride - g.pad + s;
      a.tensor = kIn;
      if (ih >= 0 && iw >= 0 && ih < g.h && iw < g.w) a.index = ((int64_t(n) * g.c + c) * g.h + ih) * g.w + iw;
    } else {
      a.tensor = kWeight;
      a.index = int64_t(c) * g.r * g.s + tap;
    }
  } else if (pos == 2 * g.r * g.s) {
    a.tensor = kBias;
    if (g.bias) a.index = c;
  } else {
    a.tensor = kOut;
    a.write = true;
    a.index = int64_t(o);
  }
  return a;
}

// ---- pooling ------------------------------------------------------------------------------------------
struct PoolShape {
  uint32_t n, c, h, w, oh, ow;
  uint32_t kernel, stride, pad;  // max pooling
  bool adaptive_avg;             // adaptive average pooling to oh x ow (kernel etc. unused)
  // Window of output (y, x): rows [y0, y1), columns [x0, x1) (max pooling: before clipping to the input).
  UVM_HD void window(uint32_t y, uint32_t x, int64_t& y0, int64_t& y1, int64_t& x0, int64_t& x1) const {
    if (adaptive_avg) {
      y0 = int64_t(y) * h / oh, y1 = (int64_t(y + 1) * h + oh - 1) / oh;
      x0 = int64_t(x) * w / ow, x1 = (int64_t(x + 1) * w + ow - 1) / ow;
    } else {
      y0 = int64_t(y) * stride - pad, y1 = y0 + kernel;
      x0 = int64_t(x) * stride - pad, x1 = x0 + kernel;
    }
  }
  // Taps each thread walks: the largest window.
  UVM_HD uint32_t taps_y() const { return adaptive_avg ? (h + oh - 1) / oh + (h % oh != 0) : kernel; }
  UVM_HD uint32_t taps_x() const { return adaptive_avg ? (w + ow - 1) / ow + (w % ow != 0) : kernel; }
  UVM_HD uint32_t positions() const { return taps_y() * taps_x() + 1; }
  UVM_HD uint64_t outputs() const { return uint64_t(n) * c * oh * ow; }
};

UVM_HD Access pool_access(const PoolShape& g, uint32_t bx, uint32_t t, uint32_t pos) {
  const uint64_t o = uint64_t(bx) * kThreads + t;
  Access a;
  const uint32_t taps = g.taps_y() * g.taps_x();
  if (pos == taps) {
    a.tensor = kOut;
    a.write = true;
    if (o < g.outputs()) a.index = int64_t(o);
    return a;
  }
  a.tensor = kIn;
  if (o >= g.outputs()) return a;
  const uint32_t x = uint32_t(o % g.ow), y = uint32_t(o / g.ow % g.oh);
  const uint64_t plane = o / (uint64_t(g.ow) * g.oh);  // n * C + c
  int64_t y0, y1, x0, x1;
  g.window(y, x, y0, y1, x0, x1);
  const int64_t iy = y0 + pos / g.taps_x(), ix = x0 + pos % g.taps_x();
  if (iy < y1 && ix < x1 && iy >= 0 && ix >= 0 && iy < g.h && ix < g.w)
    a.index = (int64_t(plane) * g.h + iy) * g.w + ix;
  return a;
}

// ---- element-wise -------------------------------------------------------------------------------------
enum class Eltwise : uint8_t { kRelu, kRelu6, kAdd, kBatchNorm };

UVM_HD uint32_t eltwise_positions(Eltwise op) {
  return op == Eltwise::kBatchNorm ? 6 : op == Eltwise::kAdd ? 3 : 2;
}

// `elems` elements of `channels` channels of `plane` elements each (NCHW: channel = i / plane % channels).
UVM_HD Access eltwise_access(Eltwise op, uint64_t elems, uint64_t plane, uint32_t channels, uint32_t bx, uint32_t t,
                             uint32_t pos) {
  const uint64_t i = uint64_t(bx) * kThreads + t;
  Access a;
  const uint32_t last = eltwise_positions(op) - 1;
  if (pos == last) {
    a.tensor = kOut;
    a.write = true;
  } else if (op == Eltwise::kBatchNorm && pos > 0) {
    a.tensor = pos == 1 ? kWeight : pos == 2 ? kBias : pos == 3 ? kMean : kVar;
  } else {
    a.tensor = pos == 1 ? kIn2 : kIn;
  }
  if (i >= elems) return a;
  a.index = a.tensor == kWeight || a.tensor == kBias || a.tensor == kMean || a.tensor == kVar
                ? int64_t(i / plane % channels)
                : int64_t(i);
  return a;
}

// ---- softmax ------------------------------------------------------------------------------------------
UVM_HD uint32_t softmax_rounds(uint32_t features) { return (features + kThreads - 1) / kThreads; }
UVM_HD uint32_t softmax_positions(uint32_t features) { return 4 * softmax_rounds(features); }

UVM_HD Access softmax_access(uint32_t features, uint32_t bx, uint32_t t, uint32_t pos) {
  const uint32_t q_n = softmax_rounds(features);
  Access a;
  uint32_t q;
  if (pos < 2 * q_n) {
    q = pos % q_n;
  } else {
    q = (pos - 2 * q_n) / 2;
    if ((pos - 2 * q_n) % 2) {
      a.tensor = kOut;
      a.write = true;
    }
  }
  const uint32_t j = t + kThreads * q;
  if (j < features) a.index = int64_t(bx) * features + j;
  return a;
}

}  // namespace uvmsim::kernels
