#include "traces/coverage.h"

#include <gtest/gtest.h>

#include "sim/cli/validate.h"
#include "test_util.h"
#include "traces/trace_io.h"

namespace uvmsim {
namespace {

using namespace testing;

void add_record(trace::Trace& t, trace::ObservedKind kind, uint64_t first_page, uint64_t pages) {
  t.observed.push_back(
      {kind, uint8_t(trace::TransferCause::kCoherence), 0, 1000, kVa + first_page * 4096, pages * 4096});
}

// 100 CPU-written pages that a kernel then reads must move HtoD. The stream holds records for 90 of them
// and for 20 untouched pages the prefetcher took along: 110% of the expected bytes, 90% of the moves.
TEST(Coverage, PrefetchedPagesDoNotHideLostRecords) {
  trace::Trace t = base_trace(2 << 20);
  add_op(t, trace::OpKind::kHostAccess, 0, 100);
  std::vector<uint64_t> pages;
  for (uint64_t p = 0; p < 100; ++p) pages.push_back(p);
  add_kernel(t, {pages});
  add_record(t, trace::ObservedKind::kHtoD, 0, 90);
  add_record(t, trace::ObservedKind::kHtoD, 100, 20);
  const trace::StreamCoverage c = trace::counter_coverage(t).htod;
  EXPECT_EQ(c.expected_pages, 100u);
  EXPECT_EQ(c.recorded_pages, 110u);
  EXPECT_EQ(c.covered_pages, 90u);
  EXPECT_DOUBLE_EQ(c.share(), 0.9);
  EXPECT_LT(c.share(), kCompleteShare);
  EXPECT_EQ(trace::counter_coverage(t).dtoh.share(), -1.0);  // nothing expected
}

// A page that goes to the GPU, back to the CPU and to the GPU again moves HtoD twice: one record covers one
// move. A prefetch to the CPU takes only what is on the GPU; one to the GPU (or a memset) moves the rest.
TEST(Coverage, EachMoveOfAPageNeedsItsOwnRecord) {
  trace::Trace t = base_trace(2 << 20);
  add_op(t, trace::OpKind::kHostAccess, 0, 4);
  add_kernel(t, {{0, 1}});                                                  // pages 0, 1 HtoD
  add_op(t, trace::OpKind::kPrefetch, 0, 8, trace::AccessKind::kRead, -1);  // 0, 1 DtoH; 2..7 stay
  add_op(t, trace::OpKind::kPrefetch, 0, 4, trace::AccessKind::kRead, 0);   // 0..3 HtoD
  add_record(t, trace::ObservedKind::kHtoD, 0, 4);
  add_record(t, trace::ObservedKind::kDtoH, 0, 2);
  const trace::StreamCoverage h = trace::counter_coverage(t).htod;
  EXPECT_EQ(h.expected_pages, 6u);
  EXPECT_EQ(h.covered_pages, 4u);
  const trace::StreamCoverage d = trace::counter_coverage(t).dtoh;
  EXPECT_EQ(d.expected_pages, 2u);
  EXPECT_EQ(d.covered_pages, 2u);
  EXPECT_THROW(trace::counter_coverage(t).of(trace::ObservedKind::kGpuFault), std::invalid_argument);
}

// The moves the trace implies are the converter's expected bytes, for recordings of every kind: one
// process and two, a touch-back, and a PyTorch run whose last records were lost (fault records follow
// the stream's last HtoD record) while the prefetcher's untouched pages kept its bytes at 99.8%.
TEST(Coverage, MatchesTheConvertersExpectedBytesOnTheCorpus) {
  for (const char* name : {"micro_touchback_64m", "torch_mobilenet_v2_b1", "torch_mobilenet_v2_b8",
                           "torch_2proc_resnet18_b1_mobilenet_v2_b1"}) {
    const trace::Trace t = trace::read_trace(source_dir() + "/traces/corpus/" + name + ".uvmt");
    for (const trace::Completeness& c : t.completeness) {
      const trace::StreamCoverage v = trace::counter_coverage(t).of(c.stream);
      EXPECT_EQ(v.expected_pages * trace::kPageBytes, c.expected) << name;
      EXPECT_EQ(v.recorded_pages * trace::kPageBytes, c.recorded) << name;
    }
  }
  const trace::Trace b8 = trace::read_trace(source_dir() + "/traces/corpus/torch_mobilenet_v2_b8.uvmt");
  const trace::Completeness& c = b8.completeness.at(0);
  ASSERT_EQ(c.stream, trace::ObservedKind::kHtoD);
  EXPECT_GE(double(c.recorded) / double(c.expected), kCompleteShare);
  EXPECT_LT(trace::counter_coverage(b8).htod.share(), kCompleteShare);
}

}  // namespace
}  // namespace uvmsim
