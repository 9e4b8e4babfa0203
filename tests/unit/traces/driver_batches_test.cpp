#include "traces/driver_batches.h"

#include <gtest/gtest.h>

namespace uvmsim::trace {
namespace {

DriverEvent entry(uint32_t batch, uint32_t kernel, uint64_t page, int64_t gpu_ns) {
  DriverEvent e;
  e.kind = DriverEventKind::kFaultEntry;
  e.batch = batch;
  e.kernel = kernel;
  e.address = page << kPageShift;
  e.gpu_ns = gpu_ns;
  return e;
}

DriverEvent replay(uint32_t batch, uint32_t kernel, int64_t gpu_ns) {
  DriverEvent e;
  e.kind = DriverEventKind::kReplay;
  e.batch = batch;
  e.kernel = kernel;
  e.gpu_ns = gpu_ns;
  return e;
}

// A batch's kernel: the one most of its entries were taken under. Entries taken under no kernel (a
// kernel's first service can start before CUPTI's start of it, as the H200 recordings show) do not vote;
// where none was taken under one, the replay's kernel.
TEST(DriverBatches, EntriesTakenUnderNoKernelDoNotOutvoteTheKernel) {
  Trace t;
  t.driver_runs.resize(1);
  // batch 1: three entries under no kernel, two under kernel 7; batch 2: all under none, its replay under 8
  for (uint64_t p = 0; p < 3; ++p) t.driver_events.push_back(entry(1, kNoKernel, p, 100));
  for (uint64_t p = 3; p < 5; ++p) t.driver_events.push_back(entry(1, 7, p, 110));
  t.driver_events.push_back(replay(1, 7, 500));
  t.driver_events.push_back(entry(2, kNoKernel, 9, 600));
  t.driver_events.push_back(replay(2, 8, 900));
  // batch 3: no kernel anywhere
  t.driver_events.push_back(entry(3, kNoKernel, 12, 1000));
  const std::vector<DriverRunBatches> runs = driver_batches(t);
  ASSERT_EQ(runs.size(), 1u);
  ASSERT_EQ(runs[0].batches.size(), 3u);
  EXPECT_EQ(runs[0].batches[0].kernel, 7u);
  EXPECT_EQ(runs[0].batches[0].entries, 5u);
  EXPECT_EQ(runs[0].batches[0].replay_gpu_ns, 500);
  EXPECT_EQ(runs[0].batches[1].kernel, 8u);
  EXPECT_EQ(runs[0].batches[2].kernel, kNoKernel);
}

}  // namespace
}  // namespace uvmsim::trace
