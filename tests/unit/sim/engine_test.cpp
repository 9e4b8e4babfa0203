#include <gtest/gtest.h>

#include "sim/engine/event_queue.h"
#include "sim/interconnect/pcie.h"

namespace uvmsim {
namespace {

TEST(EventQueue, OrdersByTimeThenPriorityThenInsertion) {
  EventQueue q;
  q.push(10, 2, 0, 1);
  q.push(5, 3, 0, 2);
  q.push(10, 1, 0, 3);
  q.push(10, 2, 0, 4);
  q.push(5, 3, 0, 5);
  std::vector<uint32_t> order;
  while (!q.empty()) order.push_back(q.pop().a);
  EXPECT_EQ(order, (std::vector<uint32_t>{2, 5, 3, 1, 4}));
  EXPECT_EQ(q.popped(), 5u);
}

TEST(MulDiv, NoOverflow) {
  EXPECT_EQ(mul_div(uint64_t{1} << 62, 1000, 1000), int64_t{1} << 62);
  EXPECT_EQ(mul_div_ceil(1, 1, 3), 1);
  EXPECT_EQ(mul_div_ceil(3, 1, 3), 1);
}

TEST(Pcie, FullDuplexAndSerialisedPerDirection) {
  PcieConfig c;
  c.htod_bytes_per_s = 1000000000;  // 1 byte per ns
  c.dtoh_bytes_per_s = 1000000000;
  c.latency_ns = 100;
  c.copy_setup_ns = 10;
  c.copy_ns = 0;
  c.copy_engines = 1;
  PcieLink l(c);
  // HtoD and DtoH at once do not slow each other.
  EXPECT_EQ(l.copy(Dir::kHtoD, 1000, 0), 10 + 1000 + 100);
  EXPECT_EQ(l.copy(Dir::kDtoH, 1000, 0), 10 + 1000 + 100);
  // A second HtoD waits for the first (one engine, one link).
  EXPECT_EQ(l.copy(Dir::kHtoD, 500, 0), 1010 + 10 + 500 + 100);
  EXPECT_EQ(l.busy_ns(Dir::kHtoD), 1500);
  EXPECT_EQ(l.copies(Dir::kDtoH), 1u);
}

TEST(Pcie, SetupOverlapsWithSeveralEngines) {
  PcieConfig c;
  c.htod_bytes_per_s = 1000000000;
  c.latency_ns = 0;
  c.copy_setup_ns = 100;
  c.copy_ns = 0;
  c.copy_engines = 2;
  PcieLink l(c);
  EXPECT_EQ(l.copy(Dir::kHtoD, 1000, 0), 1100);
  // The second engine's setup ran during the first transfer; its data follows at once.
  EXPECT_EQ(l.copy(Dir::kHtoD, 1000, 0), 2100);
}

// A push (one VA block's copies) pays its setup once and runs its copies in order on one engine, each after
// copy_ns; another push meanwhile takes the other engine, and the data phases share the link.
TEST(Pcie, APushPaysOneSetupAndRunsItsCopiesInOrder) {
  PcieConfig c;
  c.htod_bytes_per_s = 1000000000;
  c.latency_ns = 0;
  c.copy_setup_ns = 100;
  c.copy_ns = 10;
  c.copy_engines = 2;
  PcieLink l(c);
  PcieLink::Push a = l.push(Dir::kHtoD, 0);
  EXPECT_EQ(l.copy(a, 1000), 100 + 10 + 1000);
  EXPECT_EQ(l.copy(a, 500), 1110 + 10 + 500);  // no second setup
  PcieLink::Push b = l.push(Dir::kHtoD, 0);    // the other engine: set up at 100, data after the link frees
  EXPECT_EQ(l.copy(b, 100), 1620 + 100);
  PcieLink::Push d = l.push(Dir::kHtoD, 0);  // both engines busy: waits for the first to finish (1620)
  EXPECT_EQ(l.copy(d, 100), std::max<int64_t>(1620 + 100 + 10, 1720) + 100);
  EXPECT_EQ(l.copies(Dir::kHtoD), 4u);
  EXPECT_EQ(l.busy_ns(Dir::kHtoD), 1700);
}

}  // namespace
}  // namespace uvmsim
