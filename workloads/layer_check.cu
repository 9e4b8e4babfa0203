// Checks workloads/'s layer kernels against a CPU reference on small inputs (the GPU machine's test of
// the kernels; CI compiles it). Tensors in managed memory, as the runtime's. Prints one line per case and
// exits 1 if any output differs from the reference by more than 1e-4 (relative to its magnitude).
//   layer_check
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "workloads/kernels/layers.cuh"

using namespace uvmsim::kernels;

namespace {

#define CK(x) UVMSIM_CUDA_CHECK("layer_check", x)

std::mt19937 rng(7);

float* managed(const std::vector<float>& v) {
  float* p = nullptr;
  CK(cudaMallocManaged(&p, std::max<size_t>(v.size(), 1) * sizeof(float)));
  for (size_t i = 0; i < v.size(); ++i) p[i] = v[i];
  return p;
}
std::vector<float> rnd(size_t n, float lo = -1.f, float hi = 1.f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

int failures = 0;
float* spill = nullptr;

void compare(const char* what, const float* got, const std::vector<float>& want) {
  double worst = 0;
  for (size_t i = 0; i < want.size(); ++i)
    worst = std::max(worst, std::fabs(double(got[i]) - want[i]) / std::max(1.0, std::fabs(double(want[i]))));
  const bool ok = worst <= 1e-4;
  failures += !ok;
  std::printf("%-48s %8zu outputs  max rel error %.2e  %s\n", what, want.size(), worst, ok ? "ok" : "FAILED");
}

void check_conv(const char* what, ConvShape g, bool depthwise) {
  g.oh = (g.h + 2 * g.pad - g.r) / g.stride + 1;
  g.ow = (g.w + 2 * g.pad - g.s) / g.stride + 1;
  const uint32_t cin = depthwise ? 1 : g.c;
  auto xin = rnd(size_t(g.n) * g.c * g.h * g.w), w = rnd(size_t(g.k) * cin * g.r * g.s), b = rnd(g.k);
  std::vector<float> want(size_t(g.n) * g.k * g.oh * g.ow);
  for (uint32_t n = 0; n < g.n; ++n)
    for (uint32_t k = 0; k < g.k; ++k)
      for (uint32_t y = 0; y < g.oh; ++y)
        for (uint32_t x = 0; x < g.ow; ++x) {
          double acc = g.bias ? b[k] : 0;
          for (uint32_t c = 0; c < cin; ++c)
            for (uint32_t r = 0; r < g.r; ++r)
              for (uint32_t s = 0; s < g.s; ++s) {
                const int64_t ih = int64_t(y) * g.stride - g.pad + r, iw = int64_t(x) * g.stride - g.pad + s;
                if (ih < 0 || iw < 0 || ih >= g.h || iw >= g.w) continue;
                const uint32_t ic = depthwise ? k : c;
                acc += double(xin[((size_t(n) * g.c + ic) * g.h + ih) * g.w + iw]) *
                       w[((size_t(k) * cin + c) * g.r + r) * g.s + s];
              }
          want[((size_t(n) * g.k + k) * g.oh + y) * g.ow + x] = float(acc);
        }
  Tensors t;
  t.in = managed(xin), t.weight = managed(w), t.bias = managed(b);
  t.out = managed(std::vector<float>(want.size(), -7.f));
  t.spill = spill;
  if (depthwise)
    launch_dwconv(g, t, 0);
  else
    launch_conv(g, t, 0);
  CK(cudaDeviceSynchronize());
  compare(what, t.out, want);
}

void check_pool(const char* what, PoolShape g) {
  if (!g.adaptive_avg) {
    g.oh = (g.h + 2 * g.pad - g.kernel) / g.stride + 1;
    g.ow = (g.w + 2 * g.pad - g.kernel) / g.stride + 1;
  }
  auto xin = rnd(size_t(g.n) * g.c * g.h * g.w);
  std::vector<float> want(g.outputs());
  for (uint64_t o = 0; o < g.outputs(); ++o) {
    int64_t y0, y1, x0, x1;
    g.window(uint32_t(o / g.ow % g.oh), uint32_t(o % g.ow), y0, y1, x0, x1);
    const uint64_t plane = o / (uint64_t(g.ow) * g.oh);
    double m = -1e30, s = 0;
    for (int64_t y = std::max<int64_t>(y0, 0); y < std::min<int64_t>(y1, g.h); ++y)
      for (int64_t x = std::max<int64_t>(x0, 0); x < std::min<int64_t>(x1, g.w); ++x) {
        const float v = xin[(plane * g.h + y) * g.w + x];
        m = std::max<double>(m, v), s += v;
      }
    want[o] = float(g.adaptive_avg ? s / double((y1 - y0) * (x1 - x0)) : m);
  }
  Tensors t;
  t.in = managed(xin);
  t.out = managed(std::vector<float>(want.size(), -7.f));
  t.spill = spill;
  launch_pool(g, t, 0);
  CK(cudaDeviceSynchronize());
  compare(what, t.out, want);
}

void check_eltwise(const char* what, Eltwise op) {
  const uint32_t channels = 24, plane = 49, n = 3;
  const uint64_t elems = uint64_t(n) * channels * plane;
  auto a = rnd(elems, -8, 8), b = rnd(elems), w = rnd(channels), bi = rnd(channels), mean = rnd(channels),
       var = rnd(channels, 0.1f, 2.f);
  std::vector<float> want(elems);
  for (uint64_t i = 0; i < elems; ++i) {
    const uint32_t c = uint32_t(i / plane % channels);
    switch (op) {
      case Eltwise::kRelu: want[i] = std::max(a[i], 0.f); break;
      case Eltwise::kRelu6: want[i] = std::min(std::max(a[i], 0.f), 6.f); break;
      case Eltwise::kAdd: want[i] = a[i] + b[i]; break;
      default: want[i] = float((a[i] - mean[c]) / std::sqrt(double(var[c]) + 1e-5) * w[c] + bi[c]);
    }
  }
  Tensors t;
  t.in = managed(a), t.in2 = managed(b), t.weight = managed(w), t.bias = managed(bi), t.mean = managed(mean),
  t.var = managed(var), t.out = managed(std::vector<float>(elems, -7.f));
  t.spill = spill;
  launch_eltwise(op, elems, plane, channels, t, 0);
  CK(cudaDeviceSynchronize());
  compare(what, t.out, want);
}

void check_softmax(uint32_t batch, uint32_t features) {
  auto a = rnd(size_t(batch) * features, -5, 5);
  std::vector<float> want(a.size());
  for (uint32_t n = 0; n < batch; ++n) {
    double m = -1e30, s = 0;
    for (uint32_t j = 0; j < features; ++j) m = std::max<double>(m, a[n * features + j]);
    for (uint32_t j = 0; j < features; ++j) s += std::exp(a[n * features + j] - m);
    for (uint32_t j = 0; j < features; ++j) want[n * features + j] = float(std::exp(a[n * features + j] - m) / s);
  }
  Tensors t;
  t.in = managed(a), t.out = managed(std::vector<float>(a.size(), -7.f));
  t.spill = spill;
  launch_softmax(batch, features, t, 0);
  CK(cudaDeviceSynchronize());
  compare("softmax 3 x 1000", t.out, want);
}

}  // namespace

int main() {
  CK(cudaMalloc(&spill, kSpillFloats * sizeof(float)));
  check_conv("conv 3x3 s1 p1, 2x16x13x13 -> 70 ch, bias", {2, 16, 13, 13, 70, 3, 3, 1, 1, 0, 0, true}, false);
  check_conv("conv 7x7 s2 p3, 1x3x31x31 -> 64 ch", {1, 3, 31, 31, 64, 7, 7, 2, 3, 0, 0, false}, false);
  check_conv("conv 1x1 s2 (downsample), 3x40x9x9 -> 96 ch", {3, 40, 9, 9, 96, 1, 1, 2, 0, 0, 0, false}, false);
  check_conv("conv 11x11 s4 p2, 2x3x35x35 -> 64 ch, bias", {2, 3, 35, 35, 64, 11, 11, 4, 2, 0, 0, true}, false);
  check_conv("linear 300 -> 130 features, batch 5, bias", {5, 300, 1, 1, 130, 1, 1, 1, 0, 0, 0, true}, false);
  check_conv("depthwise 3x3 s2 p1, 2x24x15x15", {2, 24, 15, 15, 24, 3, 3, 2, 1, 0, 0, false}, true);
  check_conv("depthwise 3x3 s1 p1, 1x40x7x7, bias", {1, 40, 7, 7, 40, 3, 3, 1, 1, 0, 0, true}, true);
  check_pool("maxpool 3x3 s2 p1, 2x8x17x17", {2, 8, 17, 17, 0, 0, 3, 2, 1, false});
  check_pool("maxpool 2x2 s2, 1x5x14x14", {1, 5, 14, 14, 0, 0, 2, 2, 0, false});
  check_pool("adaptive avgpool 7x7 -> 1x1, 2x32", {2, 32, 7, 7, 1, 1, 0, 0, 0, true});
  check_pool("adaptive avgpool 13x13 -> 6x6, 1x16", {1, 16, 13, 13, 6, 6, 0, 0, 0, true});
  check_eltwise("relu", Eltwise::kRelu);
  check_eltwise("relu6", Eltwise::kRelu6);
  check_eltwise("add", Eltwise::kAdd);
  check_eltwise("batchnorm", Eltwise::kBatchNorm);
  check_softmax(3, 1000);
  std::printf("%s\n", failures ? "layer_check: FAILED" : "layer_check: all kernels match the CPU reference");
  return failures ? 1 : 0;
}
