// The layer kernels' access schedules (workloads/kernels/schedule.h), checked exhaustively on small
// shapes against the layers' definitions: every output element is stored exactly once, every input and
// weight element a layer's arithmetic needs is loaded at least once, nothing outside the tensors is
// touched (padding and partial tiles go to kOutside), and every thread makes the same accesses in number.
#include <gtest/gtest.h>

#include <map>
#include <vector>

#include "shapes.h"
#include "workloads/kernels/schedule.h"

namespace uvmsim::kernels {
namespace {

using uvmsim::testing::conv;

struct Counts {
  std::map<Tensor, std::vector<uint32_t>> loads, stores;
  void add(const Access& a, const std::map<Tensor, uint64_t>& sizes) {
    if (a.index == kOutside) return;
    ASSERT_GE(a.index, 0);
    ASSERT_LT(uint64_t(a.index), sizes.at(a.tensor)) << int(a.tensor);
    auto& v = (a.write ? stores : loads)[a.tensor];
    if (v.empty()) v.assign(sizes.at(a.tensor), 0);
    ++v[size_t(a.index)];
  }
};

TEST(Schedule, ConvStoresEachOutputOnceAndLoadsEveryNeededInput) {
  for (const ConvShape& g : {conv(2, 3, 9, 70, 3, 1, 1, true), conv(1, 5, 7, 8, 1, 2, 0, false),
                             conv(3, 4, 11, 64, 5, 2, 2, true), conv(4, 130, 1, 33, 1, 1, 0, true)}) {
    const std::map<Tensor, uint64_t> sizes = {{kIn, uint64_t(g.n) * g.c * g.h * g.w},
                                              {kWeight, uint64_t(g.k) * g.crs()},
                                              {kBias, g.k},
                                              {kOut, uint64_t(g.n) * g.k * g.oh * g.ow}};
    Counts c;
    for (uint32_t bx = 0; bx < g.grid_x(); ++bx)
      for (uint32_t by = 0; by < g.grid_y(); ++by)
        for (uint32_t t = 0; t < kThreads; ++t)
          for (uint32_t pos = 0; pos < g.positions(); ++pos) c.add(conv_access(g, bx, by, t, pos), sizes);
    for (uint32_t v : c.stores[kOut]) EXPECT_EQ(v, 1u);
    for (uint32_t v : c.loads[kWeight]) EXPECT_GE(v, 1u);
    EXPECT_EQ(c.loads.count(kBias), g.bias ? 1u : 0u);
    // An input element is needed if some output's window covers it.
    std::vector<uint8_t> needed(sizes.at(kIn), 0);
    for (uint64_t p = 0; p < g.pixels(); ++p)
      for (uint64_t kk = 0; kk < g.crs(); ++kk)
        if (int64_t i = conv_input_index(g, kk, p); i != kOutside) needed[size_t(i)] = 1;
    for (size_t i = 0; i < needed.size(); ++i)
      if (needed[i]) {
        EXPECT_GE(c.loads[kIn][i], 1u) << i;
      }
  }
}

TEST(Schedule, DepthwisePoolEltwiseAndSoftmaxCoverTheirTensors) {
  ConvShape d = conv(2, 6, 9, 6, 3, 2, 1, false);
  d.c = d.k = 6;
  {
    const std::map<Tensor, uint64_t> sizes = {{kIn, uint64_t(d.n) * d.c * d.h * d.w}, {kWeight, 6 * 9},
                                              {kBias, 6}, {kOut, dwconv_outputs(d)}};
    Counts c;
    for (uint32_t bx = 0; bx < (dwconv_outputs(d) + kThreads - 1) / kThreads; ++bx)
      for (uint32_t t = 0; t < kThreads; ++t)
        for (uint32_t pos = 0; pos < dwconv_positions(d); ++pos) c.add(dwconv_access(d, bx, t, pos), sizes);
    for (uint32_t v : c.stores[kOut]) EXPECT_EQ(v, 1u);
    for (uint32_t v : c.loads[kWeight]) EXPECT_GE(v, 1u);
  }
  for (const PoolShape& p : {PoolShape{2, 3, 9, 9, 5, 5, 3, 2, 1, false}, PoolShape{1, 4, 7, 7, 1, 1, 0, 0, 0, true},
                             PoolShape{2, 2, 13, 13, 6, 6, 0, 0, 0, true}}) {
    const std::map<Tensor, uint64_t> sizes = {{kIn, uint64_t(p.n) * p.c * p.h * p.w}, {kOut, p.outputs()}};
    Counts c;
    for (uint32_t bx = 0; bx < (p.outputs() + kThreads - 1) / kThreads; ++bx)
      for (uint32_t t = 0; t < kThreads; ++t)
        for (uint32_t pos = 0; pos < p.positions(); ++pos) c.add(pool_access(p, bx, t, pos), sizes);
    for (uint32_t v : c.stores[kOut]) EXPECT_EQ(v, 1u);
    for (uint32_t v : c.loads[kIn]) EXPECT_GE(v, 1u);  // every input lies in some window here
    if (p.adaptive_avg) {  // each output's window is exactly its adaptive window
      for (uint32_t y = 0; y < p.oh; ++y) {
        int64_t y0, y1, x0, x1;
        p.window(y, 0, y0, y1, x0, x1);
        EXPECT_LE(uint32_t(y1 - y0), p.taps_y());
      }
    }
  }
  for (Eltwise op : {Eltwise::kRelu, Eltwise::kAdd, Eltwise::kBatchNorm}) {
    const uint64_t elems = 1000, plane = 25;
    const std::map<Tensor, uint64_t> sizes = {{kIn, elems}, {kIn2, elems}, {kWeight, 8}, {kBias, 8},
                                              {kMean, 8}, {kVar, 8}, {kOut, elems}};
    Counts c;
    for (uint32_t bx = 0; bx < 4; ++bx)
      for (uint32_t t = 0; t < kThreads; ++t)
        for (uint32_t pos = 0; pos < eltwise_positions(op); ++pos)
          c.add(eltwise_access(op, elems, plane, 8, bx, t, pos), sizes);
    for (uint32_t v : c.stores[kOut]) EXPECT_EQ(v, 1u);
    for (uint32_t v : c.loads[kIn]) EXPECT_EQ(v, 1u);
    EXPECT_EQ(c.loads.count(kIn2), op == Eltwise::kAdd ? 1u : 0u);
    EXPECT_EQ(c.loads.count(kVar), op == Eltwise::kBatchNorm ? 1u : 0u);
  }
  {
    const uint32_t f = 1000, n = 3;
    const std::map<Tensor, uint64_t> sizes = {{kIn, f * n}, {kOut, f * n}};
    Counts c;
    for (uint32_t bx = 0; bx < n; ++bx)
      for (uint32_t t = 0; t < kThreads; ++t)
        for (uint32_t pos = 0; pos < softmax_positions(f); ++pos) c.add(softmax_access(f, bx, t, pos), sizes);
    for (uint32_t v : c.stores[kOut]) EXPECT_EQ(v, 1u);
    for (uint32_t v : c.loads[kIn]) EXPECT_EQ(v, 3u);  // three passes
  }
}

}  // namespace
}  // namespace uvmsim::kernels
