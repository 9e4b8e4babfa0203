// The layer kernels as the H100 ran them (cuda_tracer/testdata/raw_h100_layer_check.tar.xz: layer_check
// recorded by uvmtrace with every pass) against their schedules (workloads/kernels/schedule.h): for every
// CTA of every kernel, the pages it touched and each page's first and last use and kind, as the converter
// derives them from the access capture, equal what the schedule says. This is what makes generated traces
// exact: every thread's accesses happen at the schedule's positions.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>

#include "cuda_tracer/convert.h"
#include "test_util.h"
#include "traces/trace_io.h"
#include "shapes.h"
#include "workloads/kernels/schedule.h"

namespace uvmsim {
namespace {

using namespace trace;
using namespace kernels;
using testing::conv;
using testing::maxpool;
namespace fs = std::filesystem;

struct Use {
  uint32_t first = UINT32_MAX, last = 0;
  bool write = false;
};

// Expected per-page uses of one CTA: every thread, every position.
std::map<uint64_t, Use> expected_uses(uint32_t positions, const std::function<Access(uint32_t, uint32_t)>& access,
                                      const std::map<Tensor, uint64_t>& va) {
  std::map<uint64_t, Use> m;
  for (uint32_t pos = 0; pos < positions; ++pos)
    for (uint32_t t = 0; t < kThreads; ++t) {
      const Access a = access(t, pos);
      if (a.index == kOutside) continue;
      Use& u = m[(va.at(a.tensor) + uint64_t(a.index) * 4) >> kPageShift];
      u.first = std::min(u.first, pos);
      u.last = std::max(u.last, pos);
      u.write = u.write || a.write;
    }
  return m;
}

TEST(KernelsRecorded, EveryCtaTouchesWhatItsScheduleSays) {
  const fs::path dir = fs::temp_directory_path() / ("uvmsim_layer_check_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const std::string cmd = "tar xJf '" + testing::source_dir() + "/cuda_tracer/testdata/raw_h100_layer_check.tar.xz' -C '" +
                          dir.string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  const Trace t = convert_recording((dir / "layer_check").string());
  fs::remove_all(dir);

  // layer_check's cases in order (workloads/layer_check.cu) and the tensors each allocates, in order.
  struct Case {
    std::function<uint32_t()> positions;
    std::function<Access(uint32_t cta, uint32_t t, uint32_t pos)> access;
    std::vector<Tensor> tensors;
  };
  std::vector<Case> cases;
  auto add_conv = [&](ConvShape g, bool dw) {
    const uint32_t gx = dw ? 0 : g.grid_x();
    cases.push_back({[=] { return dw ? dwconv_positions(g) : g.positions(); },
                     [=](uint32_t cta, uint32_t th, uint32_t pos) {
                       return dw ? dwconv_access(g, cta, th, pos) : conv_access(g, cta % gx, cta / gx, th, pos);
                     },
                     {kIn, kWeight, kBias, kOut}});
  };
  add_conv(conv(2, 16, 13, 70, 3, 1, 1, true), false);
  add_conv(conv(1, 3, 31, 64, 7, 2, 3, false), false);
  add_conv(conv(3, 40, 9, 96, 1, 2, 0, false), false);
  add_conv(conv(2, 3, 35, 64, 11, 4, 2, true), false);
  add_conv(conv(5, 300, 1, 130, 1, 1, 0, true), false);
  add_conv(conv(2, 24, 15, 24, 3, 2, 1, false), true);
  add_conv(conv(1, 40, 7, 40, 3, 1, 1, true), true);
  auto add_pool = [&](PoolShape g) {
    cases.push_back({[=] { return g.positions(); },
                     [=](uint32_t cta, uint32_t th, uint32_t pos) { return pool_access(g, cta, th, pos); },
                     {kIn, kOut}});
  };
  add_pool(maxpool(2, 8, 17, 3, 2, 1));
  add_pool(maxpool(1, 5, 14, 2, 2, 0));
  add_pool(PoolShape{2, 32, 7, 7, 1, 1, 0, 0, 0, true});
  add_pool(PoolShape{1, 16, 13, 13, 6, 6, 0, 0, 0, true});
  for (Eltwise op : {Eltwise::kRelu, Eltwise::kRelu6, Eltwise::kAdd, Eltwise::kBatchNorm})
    cases.push_back({[=] { return eltwise_positions(op); },
                     [=](uint32_t cta, uint32_t th, uint32_t pos) {
                       return eltwise_access(op, 3 * 24 * 49, 49, 24, cta, th, pos);
                     },
                     {kIn, kIn2, kWeight, kBias, kMean, kVar, kOut}});
  cases.push_back({[] { return softmax_positions(1000); },
                   [](uint32_t cta, uint32_t th, uint32_t pos) { return softmax_access(1000, cta, th, pos); },
                   {kIn, kOut}});

  ASSERT_EQ(t.kernels.size(), cases.size());
  std::vector<const Allocation*> managed;
  for (const Allocation& a : t.allocations)
    if (a.kind == AllocKind::kManaged) managed.push_back(&a);
  size_t next = 0;
  uint64_t pages_checked = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    SCOPED_TRACE(t.kernels[k].name + " (kernel " + std::to_string(k) + ")");
    std::map<Tensor, uint64_t> va;
    for (Tensor x : cases[k].tensors) va[x] = managed.at(next++)->va;
    const uint32_t positions = cases[k].positions();
    for (uint64_t cta = 0; cta < t.kernels[k].cta_count; ++cta) {
      const auto want = expected_uses(positions, [&](uint32_t th, uint32_t pos) {
        return cases[k].access(uint32_t(cta), th, pos);
      }, va);
      std::map<uint64_t, const Range*> got;
      const Cta& c = t.ctas[t.kernels[k].cta_begin + cta];
      for (uint64_t r = c.range_begin; r < c.range_begin + c.range_count; ++r)
        for (uint32_t i = 0; i < t.ranges[r].count; ++i) got[t.ranges[r].page + i] = &t.ranges[r];
      ASSERT_EQ(got.size(), want.size()) << "CTA " << cta;
      for (const auto& [page, u] : want) {
        auto it = got.find(page);
        ASSERT_NE(it, got.end()) << "CTA " << cta << " page " << page;
        EXPECT_EQ(it->second->t_begin, interval_begin(u.first, positions - 1)) << "CTA " << cta << " page " << page;
        EXPECT_EQ(it->second->t_end, interval_end(u.last, positions - 1)) << "CTA " << cta << " page " << page;
        EXPECT_EQ(it->second->kind, u.write ? AccessKind::kWrite : AccessKind::kRead) << "CTA " << cta;
        ++pages_checked;
      }
    }
  }
  EXPECT_EQ(next, managed.size());
  EXPECT_GT(pages_checked, 500u);
}

}  // namespace
}  // namespace uvmsim
