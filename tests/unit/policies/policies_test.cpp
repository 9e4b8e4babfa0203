// Behaviour tests of each policy from small worked examples, and a suite over every registered policy.
#include <gtest/gtest.h>

#include "policies/eviction/eviction_policy.h"
#include "policies/prefetch/prefetch_policy.h"
#include "policies/replay/replay_policy.h"
#include "policies/thrashing/thrashing_policy.h"
#include "test_util.h"

namespace uvmsim {
namespace {

using namespace testing;

std::unique_ptr<PrefetchPolicy> tree() { return PrefetchRegistry::instance().make("driver_tree", {}, {}); }

BlockMask pages(uint32_t lo, uint32_t hi) { return BlockMask::range(lo, hi); }

TEST(DriverTree, LoneFaultBringsItsBigPage) {
  BlockMask resident, faulted, thrash;
  faulted.set(37);
  PrefetchView v{0, 512, resident, faulted, thrash, false, false, 1};
  EXPECT_EQ(tree()->prefetch(v), pages(32, 48));
}

TEST(DriverTree, OverThresholdTakesTheWholeSubtree) {
  BlockMask resident = pages(0, 256), faulted, thrash;
  faulted.set(300);  // 256 resident + big page 288..303 = 272 of 512 > 51%
  PrefetchView v{0, 512, resident, faulted, thrash, false, false, 1};
  EXPECT_EQ(tree()->prefetch(v), pages(0, 512));
}

TEST(DriverTree, UnderThresholdStopsAtTheLargestQualifyingNode) {
  BlockMask resident = pages(0, 240), faulted, thrash;
  faulted.set(300);  // 240 + 16 = 256 of 512 = 50%: not over 51%; [256, 512) holds only 16
  PrefetchView v{0, 512, resident, faulted, thrash, false, false, 1};
  EXPECT_EQ(tree()->prefetch(v), pages(288, 304));
  BlockMask r2 = pages(256, 280);  // [256,320): 24 + 16 = 40 of 64 > 51%
  PrefetchView v2{0, 512, r2, faulted, thrash, false, false, 1};
  EXPECT_EQ(tree()->prefetch(v2), pages(256, 320));
}

TEST(DriverTree, FirstTouchTowardPreferredLocationTakesTheBlock) {
  BlockMask resident, faulted, thrash;
  faulted.set(3);
  PrefetchView v{10, 400, resident, faulted, thrash, true, true, 1};
  EXPECT_EQ(tree()->prefetch(v), pages(10, 400));
}

TEST(DriverTree, SkipsThrashingPagesAndStaysInsideTheAllocation) {
  BlockMask resident, faulted, thrash;
  faulted.set(5);
  thrash.set(6);
  PrefetchView v{2, 512, resident, faulted, thrash, false, false, 1};
  BlockMask want = pages(2, 16);
  want.reset(6);
  EXPECT_EQ(tree()->prefetch(v), want);
}

TEST(DriverTree, NoneTakesNothing) {
  auto none = PrefetchRegistry::instance().make("none", {}, {});
  BlockMask resident, faulted, thrash;
  faulted.set(5);
  EXPECT_TRUE(none->prefetch({0, 512, resident, faulted, thrash, false, false, 1}).none());
}

TEST(Eviction, DriverFifoIgnoresAccessesAndRequeuesOnReResidency) {
  auto fifo = EvictionRegistry::instance().find("driver_fifo")->make(PolicyParams{}, {8});
  auto any = [](uint32_t) { return true; };
  fifo->on_allocate(3, 0);
  fifo->on_allocate(1, 1);
  fifo->on_allocate(5, 2);
  fifo->on_access(3, 3);
  EXPECT_FALSE(fifo->wants_accesses());
  EXPECT_EQ(fifo->pick_victim(any), 3u);
  fifo->on_resident_again(3, 4);
  EXPECT_EQ(fifo->pick_victim(any), 1u);
  EXPECT_EQ(fifo->pick_victim([](uint32_t c) { return c != 1; }), 5u);
  fifo->on_free(1);
  fifo->on_free(5);
  fifo->on_free(3);
  EXPECT_EQ(fifo->pick_victim(any), kNoChunk);
}

TEST(Eviction, Lru2MbFollowsAccesses) {
  auto lru = EvictionRegistry::instance().find("lru_2mb")->make(PolicyParams{}, {8});
  auto any = [](uint32_t) { return true; };
  lru->on_allocate(0, 0);
  lru->on_allocate(1, 1);
  EXPECT_TRUE(lru->wants_accesses());
  lru->on_access(0, 2);
  EXPECT_EQ(lru->pick_victim(any), 1u);
}

// Blocks A, B allocated in that order, A touched again, then C needs a chunk with room for two.
// FIFO evicts A (accesses do not move it), so touching A faults again; LRU evicts B instead.
uint64_t faults_of_last_kernel(const std::string& eviction) {
  trace::Trace t = base_trace(uint64_t{6} << 20);
  for (uint64_t page : {0, 512, 1, 1024, 2}) {
    add_kernel(t, {{page}});
    add_sync(t);
  }
  Config c;
  c.gpu.memory_bytes = 4 << 20;
  c.select("eviction", eviction);
  Stats s = run(t, c);
  EXPECT_EQ(s.kernels[2].faults, 0u);  // page 1 came with page 0's big page
  // FIFO evicts A for C, then B for A again; LRU evicts only B.
  EXPECT_EQ(s.chunks_evicted, eviction == "lru_2mb" ? 1u : 2u);
  return s.kernels[4].faults;
}

TEST(Eviction, FifoVictimOrderInTheSimulator) {
  EXPECT_GT(faults_of_last_kernel("driver_fifo"), 0u);
  EXPECT_EQ(faults_of_last_kernel("lru_2mb"), 0u);
}

TEST(Thrashing, CountersThrottleAndPin) {
  auto th = ThrashingRegistry::instance().make("driver", {}, {1024});
  const int64_t lapse = 500 * 1000;  // lapse_usec's default
  // A page migrating back and forth within the lapse: tracking starts, then the counter reaches 3.
  th->on_migration(7, Processor::kGpu, 0);
  th->on_migration(7, Processor::kCpu, 100);
  EXPECT_FALSE(th->is_thrashing(7));
  th->on_migration(7, Processor::kGpu, 200);
  th->on_migration(7, Processor::kCpu, 300);
  EXPECT_TRUE(th->is_thrashing(7));
  EXPECT_EQ(th->counters().thrashing_pages, 1u);
  // Migrations further apart than the lapse never mark a page.
  for (int i = 0; i < 6; ++i)
    th->on_migration(600, i % 2 ? Processor::kCpu : Processor::kGpu, 10 * lapse * i);
  EXPECT_FALSE(th->is_thrashing(600));
  // The GPU is served, then throttled on its next turn, alternately; after 10 throttles it is pinned.
  int64_t t = 1000;
  EXPECT_EQ(th->hint(7, Processor::kGpu, t), ThrashHint::kNone);
  int throttles = 0;
  for (int i = 0; i < 19; ++i) {
    t += 2 * lapse;
    throttles += th->hint(7, Processor::kGpu, t) == ThrashHint::kThrottle;
  }
  EXPECT_EQ(throttles, 10);
  EXPECT_EQ(th->counters().throttles, 10u);
  t += 2 * lapse;
  EXPECT_EQ(th->hint(7, Processor::kGpu, t), ThrashHint::kNone);  // pinned on the GPU now
  EXPECT_EQ(th->counters().pins, 1u);
  EXPECT_EQ(th->hint(7, Processor::kCpu, t + 1), ThrashHint::kPin);  // the CPU maps it remotely
  EXPECT_FALSE(th->is_thrashing(8));
  EXPECT_EQ(th->hint(8, Processor::kGpu, t), ThrashHint::kNone);
}

TEST(Replay, DriverPoliciesMatchTheModuleParameter) {
  auto& r = ReplayRegistry::instance();
  EXPECT_EQ(r.find("block")->make(PolicyParams{}, {})->point(), ReplayPoint::kAfterBlock);
  EXPECT_FALSE(r.find("batch")->make(PolicyParams{}, {})->flush());
  EXPECT_TRUE(r.find("batch_flush")->make(PolicyParams{}, {})->flush());
  EXPECT_EQ(r.find("once")->make(PolicyParams{}, {})->point(), ReplayPoint::kAfterService);
}

// Every registered policy on an oversubscribed workload with CPU touch-back, random and sequential: the run
// completes, evicts, and the conservation audit holds. Each policy runs with the other kinds at their
// defaults (a new policy is tested on arrival), then a few named combinations of non-defaults: the cross
// product would grow with every policy of every kind.
TEST(PolicySuite, EveryPolicyConserves) {
  const Workload w = micro(true, 16 << 20, true, true);
  const Workload ws = micro(false, 16 << 20, true, true);
  std::vector<std::vector<std::pair<std::string, std::string>>> sets;
  for (auto& [kind, k] : PolicyCatalog::instance().kinds())
    for (auto& [name, p] : k.policies)
      if (!p.needs_profile) sets.push_back({{kind, name}});  // serving only: Conformance.EveryProfiled...
  sets.push_back({{"prefetch", "none"}, {"eviction", "lru_2mb"}, {"replay", "once"}, {"thrashing", "none"}});
  sets.push_back({{"eviction", "lru_2mb"}, {"replay", "block"}});
  sets.push_back({{"prefetch", "none"}, {"replay", "batch"}, {"thrashing", "none"}});
  for (const auto& set : sets) {
    Config c;
    c.gpu.memory_fraction = 0.5;
    std::string label;
    for (auto& [kind, name] : set) {
      c.select(kind, name);
      label += kind + "=" + name + " ";
    }
    for (const Workload* x : {&w, &ws}) {
      const RunResult r = simulate(*x, c, true);
      EXPECT_GT(r.stats.chunks_evicted, 0u) << label;
      EXPECT_TRUE(all_kernels_ran(r.stats)) << label;
    }
  }
  EXPECT_GE(sets.size(), 2u + 2u + 4u + 2u + 3u);
}

}  // namespace
}  // namespace uvmsim
