// The study's policies (issue 23), each on a small worked example, and the conformance suite: every
// registered policy of every kind, with its default parameters, on two co-running models under memory
// oversubscription.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "policies/batching/batching_policy.h"
#include "policies/memory_allocation/memory_allocation_policy.h"
#include "policies/policy.h"
#include "policies/sm_allocation/sm_allocation_policy.h"
#include "policies/tlp/tlp_policy.h"
#include "sim/cli/serve.h"
#include "sim/stats/stats.h"
#include "test_util.h"
#include "workloads/generate.h"

namespace uvmsim {
namespace {

using namespace testing;

trace::Trace two_models(const std::string& list = "resnet18:1,mobilenet_v2:1") {
  GenerateOptions o;
  o.models = parse_model_list(list);
  return generate_models(o);
}

// `ctas` CTAs of 100 us, CTA i touching one page in each of `groups` VA blocks of its own, at `groups`
// evenly spaced moments of its run: a fault-bound kernel (one page per block: nothing for the prefetcher).
trace::Trace faulting_ctas(uint64_t ctas, uint32_t groups) {
  trace::Trace t = base_trace(ctas * groups * (2 << 20));
  trace::Kernel k;
  k.name = "faulting";
  k.grid = {uint32_t(ctas), 1, 1};
  k.block = {256, 1, 1};
  k.resident_ns = 100000;
  k.cta_begin = 0;
  k.cta_count = ctas;
  for (uint64_t i = 0; i < ctas; ++i) {
    t.ctas.push_back({t.ranges.size(), groups});
    for (uint32_t g = 0; g < groups; ++g) {
      const auto at = uint16_t(uint64_t(g) * trace::kIntervalScale / groups);
      t.ranges.push_back({kVaPage + (i * groups + g) * 512, 1, trace::AccessKind::kRead, at, at});
    }
  }
  trace::Op o;
  o.kind = trace::OpKind::kKernel;
  t.kernels.push_back(k);
  t.ops.push_back(o);
  return t;
}

// A policy's clock for tests that drive a policy object directly, without timers.
struct NoClock final : PolicyClock {
  int64_t now() const override { return 0; }
  void set_timer(int64_t, uint64_t) override {}
};

// Two models at 50% memory under the default policies, then with `kind` set to `policy` (and its params).
std::pair<Stats, Stats> two_models_at_half(const std::string& kind, const std::string& policy,
                                           const std::map<std::string, double>& params = {}) {
  const Workload w = Workload::build(two_models(), "two models");
  Config c;
  c.gpu.memory_fraction = 0.5;
  Stats base = simulate(w, c, true).stats;
  c.select(kind, policy);
  for (const auto& [k, v] : params) c.policies[kind].params[k] = v;
  return {std::move(base), simulate(w, c, true).stats};
}

int64_t kernel_ns(const Stats& s, size_t k = 0) { return s.kernels[k].end_ns - s.kernels[k].start_ns; }

// ---------------------------------------------------------------- sm_allocation

TEST(EvenPartition, EachTenantRunsOnItsShareOfTheSms) {
  Config c;
  c.gpu.sm_count = 10;
  c.select("sm_allocation", "even_partition");
  const Stats s = run(two_models("resnet18:1,mobilenet_v2:1,alexnet:1"), c);
  ASSERT_TRUE(all_kernels_ran(s));
  // 10 SMs over 3 tenants: 3, 3 and 4 SMs.
  for (const KernelRecord& k : s.kernels) EXPECT_EQ(k.sms, k.tenant == 2 ? 4u : 3u) << k.name;
}

// The worked example: 132 SMs. Tenant 0's layer misses 2,560 pages over 100 CTAs (25.6 faults a CTA, 4
// CTAs an SM): 10 CTAs fill a 256-fault batch, 3 SMs, 4 in TPC pairs. Tenant 1's misses 100 pages over
// 1,000 CTAs (0.1 a CTA, 8 an SM): 2,560 CTAs, 320 SMs, more than the GPU. Tenant 2 is compute-bound.
// Tenant 3 has no work. The fault-bound partitions are disjoint; tenant 2 shares what they leave.
TEST(BarmBatchAware, FaultBoundTenantsGetPartitionsSizedToFillABatchAndTheRestIsShared) {
  NoClock clock;
  auto policy = SmAllocationRegistry::instance().make("barm_batch_aware", {}, SmAllocationContext{132, 4, clock});
  ASSERT_TRUE(policy->wants_pages());
  std::vector<TenantLoad> loads(4);
  loads[0] = {1, 90, 10, 100, 2560, 4};
  loads[1] = {1, 900, 100, 1000, 100, 8};
  loads[2] = {1, 50, 50, 100, 0, 8};
  std::vector<SmSet> allowed(4, SmSet::none(132));
  policy->allocate(SmAllocationView{132, loads}, allowed);
  // 2 SMs held back for tenant 2; tenant 1 asks for all 132 and tenant 0 for 4, scaled into 130.
  EXPECT_EQ(allowed[0].count(), 4u * 130 / 136);
  EXPECT_EQ(allowed[1].count(), 132u * 130 / 136);
  EXPECT_EQ(allowed[2].count(), 132 - allowed[0].count() - allowed[1].count());
  EXPECT_EQ(allowed[3].count(), 0u);
  for (uint32_t sm = 0; sm < 132; ++sm)
    EXPECT_EQ(allowed[0].test(sm) + allowed[1].test(sm) + allowed[2].test(sm), 1) << sm;
  // Only compute-bound work: every SM shared.
  loads[0].missing_pages = loads[1].missing_pages = 0;
  policy->allocate(SmAllocationView{132, loads}, allowed);
  for (uint32_t t : {0, 1, 2}) EXPECT_EQ(allowed[t].count(), 132u) << t;
}

// On two models starting cold (everything faults), the partitions keep each batch's faults on fewer VA
// blocks than when both tenants' CTAs mix on every SM.
TEST(BarmBatchAware, BatchesSpanFewerVaBlocksThanWithSharedSms) {
  std::map<std::string, double> blocks_per_batch;
  for (const char* policy : {"shared", "barm_batch_aware"}) {
    Config c;
    c.select("sm_allocation", policy);
    std::vector<BatchRecord> records;
    const Stats s = run(two_models(), c, &records);
    ASSERT_TRUE(all_kernels_ran(s));
    double blocks = 0;
    for (const BatchRecord& r : records) blocks += r.blocks;
    blocks_per_batch[policy] = blocks / double(records.size());
  }
  EXPECT_LT(blocks_per_batch["barm_batch_aware"], blocks_per_batch["shared"]);
}

// ---------------------------------------------------------------- tlp

TEST(StaticLimit, CapsTheCtasAnSmRunsAtOnce) {
  Config c;
  c.gpu.sm_count = 1;
  trace::Trace t = base_trace(2 << 20);
  add_kernel(t, std::vector<std::vector<uint64_t>>(8), trace::AccessKind::kRead, 10000);
  c.select("tlp", "static_limit");
  c.policies["tlp"].params["ctas_per_sm"] = 1;
  EXPECT_EQ(kernel_ns(run(t, c)), 8 * 10000);  // one at a time
  c.policies["tlp"].params["ctas_per_sm"] = 4;
  const int64_t four = kernel_ns(run(t, c));
  EXPECT_LT(four, 8 * 10000);  // two waves of four sharing the SM
  EXPECT_GE(four, 2 * 10000);
}

// On a fault-bound kernel whose SMs hold few CTAs, CTAs switched in while the others wait on faults put
// their faults into the same batches: more faults per batch, fewer batches.
TEST(ThreadOversubscription, FaultsPerBatchRiseAndBatchesFallOnAFaultBoundKernel) {
  Config c;
  c.gpu.sm_count = 4;
  c.gpu.max_ctas_per_sm = 2;
  c.gpu.fault_jitter_ns = 0;
  const Stats base = run(faulting_ctas(64, 4), c);
  c.select("tlp", "thread_oversubscription");
  c.policies["tlp"].params["max_degree"] = 4;
  const Stats over = run(faulting_ctas(64, 4), c);
  ASSERT_TRUE(all_kernels_ran(over));
  EXPECT_EQ(over.kernels[0].ctas, 64u);
  EXPECT_LT(over.batches, base.batches);
  EXPECT_GT(double(over.faults_fetched) / double(over.batches), double(base.faults_fetched) / double(base.batches));
  // With no room for more CTAs (degree 0) it is the default.
  c.policies["tlp"].params["max_degree"] = 0;
  EXPECT_EQ(run(faulting_ctas(64, 4), c).batches, base.batches);
}

// ETC: with the working set fitting (100% memory) no fault needs an eviction and nothing is throttled:
// the run is the default's. At 50% the evictions throttle SMs, which changes the run; a policy object fed
// eviction faults stops half the SMs, raises the share while they rise, and releases after a quiet window.
TEST(EtcThrottle, ThrottlesOnEvictionsAndReleasesWhenTheWorkingSetFits) {
  const Workload w = Workload::build(two_models(), "two models");
  for (double fraction : {1.0, 0.5}) {
    Config c;
    c.gpu.memory_fraction = fraction;
    const Stats base = simulate(w, c, true).stats;
    c.select("tlp", "etc_throttle");
    const Stats etc = simulate(w, c, true).stats;
    ASSERT_TRUE(all_kernels_ran(etc));
    if (fraction == 1.0)
      EXPECT_EQ(etc.sim_time_ns, base.sim_time_ns);
    else
      EXPECT_NE(etc.sim_time_ns, base.sim_time_ns);
  }
  struct Clock final : PolicyClock {
    int64_t t = 0, timer = -1;
    int64_t now() const override { return t; }
    void set_timer(int64_t at, uint64_t) override { timer = at; }
  } clock;
  auto p = TlpRegistry::instance().make("etc_throttle", {}, TlpContext{16, 32, clock});
  auto stopped = [&] {
    uint32_t n = 0;
    for (uint32_t sm = 0; sm < 16; ++sm) n += p->cta_limit(sm, 0) == TlpPolicy::kStopped;
    return n;
  };
  EXPECT_EQ(stopped(), 0u);
  p->on_eviction_fault(0);
  EXPECT_EQ(stopped(), 8u);  // half, four in each group of eight SMs
  EXPECT_EQ(clock.timer, 1000000);
  p->on_eviction_fault(0);
  p->on_eviction_fault(0);
  clock.t = clock.timer;
  p->on_timer(0);  // three against none before: one more SM in 8
  EXPECT_EQ(stopped(), 10u);
  clock.t = clock.timer;
  p->on_timer(0);  // a quiet window: released
  EXPECT_EQ(stopped(), 0u);
}

// Proactive eviction keeps reserve_chunks free at every batch start once memory has filled: more chunks
// are evicted than on demand alone, and never more than the reserve at one batch.
TEST(ProactiveEviction, KeepsChunksFreeAheadOfDemand) {
  const auto [base, ahead] =
      two_models_at_half("memory_allocation", "proactive_eviction", {{"reserve_chunks", 4}});
  ASSERT_TRUE(all_kernels_ran(ahead));
  EXPECT_GT(ahead.chunks_evicted, base.chunks_evicted);
  NoClock clock;
  auto p = MemoryAllocationRegistry::instance().make("proactive_eviction", {{"reserve_chunks", 4}},
                                                     MemoryAllocationContext{100, 2, 50, clock});
  EXPECT_EQ(p->evict_ahead(BatchStartView{10, 50, 30}), 0u);
  EXPECT_EQ(p->evict_ahead(BatchStartView{1, 50, 30}), 3u);
  EXPECT_EQ(p->evict_ahead(BatchStartView{0, 50, 30}), 4u);
}

// BARM's memory side, worked example: kernel 0 touches VA blocks 0-1, kernel 1 blocks 1-2, kernel 2 blocks
// 3-5; 5 chunks, 1 of headroom. A running kernel's blocks are never evictable; a kernel whose blocks would
// take the reservations past 4 chunks waits until one ends; with nothing running anything starts.
TEST(BarmThrashingPreventing, NeverEvictsARunningLayersReservationAndAdmitsWhatFits) {
  const std::vector<std::pair<uint32_t, uint32_t>> runs = {{0, 600}, {700, 1500}, {1536, 3000}};
  const std::vector<std::pair<uint64_t, uint64_t>> kernels = {{0, 1}, {1, 2}, {2, 3}};
  NoClock clock;
  auto p =
      MemoryAllocationRegistry::instance().make("barm_thrashing_preventing", {{"headroom_chunks", 1}},
                                                MemoryAllocationContext{8, 2, 5, clock, &runs, &kernels});
  ASSERT_TRUE(p->admit({0, 0, 10}));
  p->on_kernel_start({0, 0, 10});
  EXPECT_FALSE(p->evictable(0, 0));
  EXPECT_FALSE(p->evictable(1, 0));
  EXPECT_TRUE(p->evictable(2, 1));
  ASSERT_TRUE(p->admit({1, 1, 10}));  // blocks 0-2: 3 of 4
  p->on_kernel_start({1, 1, 10});
  EXPECT_FALSE(p->evictable(2, 1));
  EXPECT_FALSE(p->admit({2, 1, 10}));  // 3 more: 6
  p->on_kernel_end({0, 0, 10});
  EXPECT_FALSE(p->evictable(1, 0));  // kernel 1 still holds block 1
  EXPECT_TRUE(p->evictable(0, 0));
  EXPECT_FALSE(p->admit({2, 1, 10}));  // blocks 1-2 and 3-5: 5 of 4
  p->on_kernel_end({1, 1, 10});
  EXPECT_TRUE(p->admit({2, 1, 10}));  // nothing runs
}

// On two models at 50% memory it runs to the end, and a tenant's pages fault back after their eviction
// (re-faults within stats.refault_window_ns) no more often than under the driver's allocation.
TEST(BarmThrashingPreventing, TwoModelsRunToTheEndWithoutMoreRefaults) {
  const auto [base, barm] = two_models_at_half("memory_allocation", "barm_thrashing_preventing");
  ASSERT_TRUE(all_kernels_ran(barm));
  uint64_t r0 = 0, r1 = 0;
  for (const TenantRecord& t : base.tenants) r0 += t.refaults;
  for (const TenantRecord& t : barm.tenants) r1 += t.refaults;
  EXPECT_LE(r1, r0);
  EXPECT_GT(base.chunks_evicted, 0u);
}

// Unobtrusive eviction asks for the room a batch's blocks need beyond the free chunks, and its evictions
// overlap the batch's service: once memory has filled, a batch takes less time on average than with the
// driver's evictions on demand, which precede the migrations.
TEST(UnobtrusiveEviction, EvictsTheRoomABatchNeedsOverlappingItsService) {
  NoClock clock;
  auto p = MemoryAllocationRegistry::instance().make("unobtrusive_eviction", {},
                                                     MemoryAllocationContext{100, 2, 50, clock});
  EXPECT_TRUE(p->overlaps_eviction());
  EXPECT_EQ(p->evict_ahead(BatchStartView{3, 50, 30, 2}), 0u);
  EXPECT_EQ(p->evict_ahead(BatchStartView{1, 50, 30, 4}), 3u);
  const auto [base, unobtrusive] = two_models_at_half("memory_allocation", "unobtrusive_eviction");
  ASSERT_TRUE(all_kernels_ran(unobtrusive));
  ASSERT_GT(base.chunks_evicted, 0u);
  EXPECT_GT(unobtrusive.chunks_evicted, 0u);
  EXPECT_LT(unobtrusive.batch_ns.mean(), base.batch_ns.mean());
}

// A clock a test moves by hand; the timers policies set are kept for it to fire.
struct HandClock final : PolicyClock {
  int64_t now() const override { return t; }
  void set_timer(int64_t at, uint64_t tag) override { timers.push_back({at, tag}); }
  int64_t t = 0;
  std::vector<std::pair<int64_t, uint64_t>> timers;
};

// A profile of tenants on 16 SMs whose latency at their largest batch size stops improving at `knee` SMs.
ServingProfile knee_profile(const std::vector<uint32_t>& knees) {
  ServingProfile p;
  p.sm_count = 16;
  for (uint32_t k : knees) {
    TenantProfile& t = p.tenants.emplace_back();
    t.sms = {2, 4, 6, 8, 12, 16};
    t.batch_sizes = {1};
    std::vector<int64_t> l;
    for (uint32_t s : t.sms) l.push_back(int64_t(1e6) * 16 / std::min(s, k));  // flat from the knee on
    t.latency_ns = {l};
  }
  return p;
}

// D-STACK: knees that fit get disjoint partitions sized to them (scaled up to fill the GPU); knees adding
// up to more than the GPU are time-sliced: one slot of tenants at a time, the other getting no SM, swapped
// when the slice's timer fires, at once when the active slot has no work, and no timer once nothing runs.
TEST(Dstack, PartitionsSizedToTheKneesAndTimeSlicedWhenTheyExceedTheGpu) {
  HandClock clock;
  std::vector<TenantLoad> load(2);
  load[0].kernels_running = load[1].kernels_running = 1;
  load[0].ctas_waiting = load[1].ctas_waiting = 10;
  const SmAllocationView v{16, load};
  {
    const ServingProfile p = knee_profile({4, 8});
    EXPECT_EQ(p.tenants[0].knee(0.05), 4u);
    EXPECT_EQ(p.tenants[1].knee(0.05), 8u);
    auto a = SmAllocationRegistry::instance().make("dstack", {}, {16, 2, clock, &p});
    std::vector<SmSet> allowed(2, SmSet::none(16));
    a->allocate(v, allowed);
    EXPECT_EQ(allowed[0].count(), 5u);  // 4 and 8 of 12, scaled to 16: 5 and 11
    EXPECT_EQ(allowed[1].count(), 11u);
    for (uint32_t sm = 0; sm < 16; ++sm) EXPECT_FALSE(allowed[0].test(sm) && allowed[1].test(sm));
    EXPECT_FALSE(a->may_idle());
    EXPECT_TRUE(clock.timers.empty());
  }
  const ServingProfile p = knee_profile({12, 8});
  auto a = SmAllocationRegistry::instance().make("dstack", {{"slice_ns", 5000}}, {16, 2, clock, &p});
  EXPECT_TRUE(a->may_idle());
  std::vector<SmSet> allowed(2, SmSet::none(16));
  a->allocate(v, allowed);  // slot 0 holds the larger knee: tenant 0, on the whole GPU
  EXPECT_EQ(allowed[0].count(), 16u);
  EXPECT_EQ(allowed[1].count(), 0u);
  ASSERT_EQ(clock.timers.size(), 1u);
  EXPECT_EQ(clock.timers[0].first, 5000);
  clock.t = 5000;
  a->on_timer(clock.timers[0].second);
  a->allocate(v, allowed);
  EXPECT_EQ(allowed[0].count(), 0u);
  EXPECT_EQ(allowed[1].count(), 16u);
  load[1].kernels_running = 0;  // tenant 1's work ends: tenant 0's slot at once
  a->allocate(v, allowed);
  EXPECT_EQ(allowed[0].count(), 16u);
  EXPECT_EQ(allowed[1].count(), 0u);
  load[0].kernels_running = 0;
  const size_t armed = clock.timers.size();
  clock.t = clock.timers.back().first;
  a->on_timer(clock.timers.back().second);
  EXPECT_EQ(clock.timers.size(), armed);  // nothing runs: no more slices
}

// D-STACK's batching: the largest batch within half the objective at the tenant's share; a short queue
// waits until its oldest request could still finish a full batch in time, then runs what is queued.
TEST(Dstack, BatchesTheLargestSizeMeetingTheObjectiveAndWaitsOnlyUntilItMust) {
  ServingProfile p;
  p.sm_count = 16;
  TenantProfile& t = p.tenants.emplace_back();
  t.sms = {8, 16};
  t.batch_sizes = {1, 2, 4, 8};
  t.latency_ns = {{20, 10}, {40, 20}, {90, 45}, {180, 90}};  // ms at 8 and 16 SMs, scaled below
  for (auto& row : t.latency_ns)
    for (int64_t& l : row) l *= 1000000;
  t.slo_ns = 100000000;  // 100 ms: half of it holds a batch of 4 on the whole GPU (45 ms), not 8 (90 ms)
  NoClock clock;
  auto b = BatchingRegistry::instance().make("dstack", {}, {clock, &p, 0});
  const std::vector<uint32_t> sizes = t.batch_sizes;
  auto view = [&](uint32_t queued, int64_t now) { return BatchQueueView{0, queued, 0, now, false, sizes}; };
  EXPECT_EQ(b->decide(view(6, 0)).size, 4u);
  EXPECT_EQ(b->decide(view(2, 0)).size, 0u);
  EXPECT_EQ(b->decide(view(2, 0)).wait_until, 55000000);  // 100 - 45 ms
  EXPECT_EQ(b->decide(view(3, 55000000)).size, 2u);
  NoClock c2;
  EXPECT_THROW(BatchingRegistry::instance().make("dstack", {}, {c2}), std::invalid_argument);
}

// The per-layer batch scheduler, on a worked example: a batch of 4 with memory for 1000 pages of the
// tenant. Layer 0's activations dominate (100 weight pages, 400 other pages per request): whole, 1700 pages
// overflow by 700 and re-fault; as two sub-batches of 2 (900 pages) nothing overflows, for one more launch:
// split (into 1s would launch four times). Layer 1's weights dominate (1200 pages, 10 per request): every
// sub-batch would fault its weights' overflow again, so it runs whole. With memory for everything, nothing is
// split.
TEST(PerLayerBatch, SplitsActivationHeavyLayersUnderPressureAndKeepsWeightHeavyOnesWhole) {
  ServingProfile sp;
  sp.capacity_pages = 1000;
  TenantProfile& t = sp.tenants.emplace_back();
  t.batch_sizes = {1, 2, 4};
  t.footprint_pages = 2000;
  for (uint32_t b : t.batch_sizes) {
    t.layer_ns.push_back(
        {10000 + int64_t(5000) * b, 20000 + int64_t(10000) * b});  // a launch, then per request
    t.layer_weight_pages.push_back({100, 1200});
    t.layer_other_pages.push_back({400 * b, 10 * b});
  }
  t.layer_splits = {{{false, false, false}, {false, false, false}},
                    {{true, false, false}, {true, false, false}},
                    {{true, true, false}, {true, true, false}}};
  const std::vector<uint32_t> sizes = t.batch_sizes;
  NoClock clock;
  const auto decide = [&](uint64_t capacity) {
    sp.capacity_pages = capacity;  // the tenant's share: all of it (one tenant)
    auto p = BatchingRegistry::instance().make("per_layer_batch", {}, {clock, &sp, 0});
    return p->decide(BatchQueueView{0, 4, 0, 0, false, sizes});
  };
  const BatchDecision tight = decide(1000);
  EXPECT_EQ(tight.size, 4u);
  EXPECT_EQ(tight.layer_sizes, (std::vector<uint32_t>{2, 4}));
  const BatchDecision roomy = decide(100000);
  EXPECT_EQ(roomy.layer_sizes, (std::vector<uint32_t>{4, 4}));
  NoClock c2;
  EXPECT_THROW(BatchingRegistry::instance().make("per_layer_batch", {}, {c2}), std::invalid_argument);
}

// Its SM decisions, on a worked example: a batch of 2 with memory for everything, profiled at 33, 66 and
// 132 SMs. Layer 0 (few CTAs) takes 100 us on 33 SMs and 98 us on more: within 5% of its fastest on 33, so
// it runs on 33 SMs and leaves the rest to the other tenants. Layer 1 takes 400, 220 and 200 us: only the
// whole GPU is within 5%, so it has no limit. With both layers at their fastest on the whole GPU, no layer
// is limited (layer_sms empty); with sm_gain 0.2 layer 1 runs on 66 SMs.
TEST(PerLayerBatch, GivesEachLayerTheFewestSmsWithinItsGainOfItsFastest) {
  ServingProfile sp;
  sp.capacity_pages = 100000;
  TenantProfile& t = sp.tenants.emplace_back();
  t.batch_sizes = {1, 2};
  t.sms = {33, 66, 132};
  t.footprint_pages = 1000;
  for (uint32_t b : t.batch_sizes) {
    t.layer_ns.push_back({98000, 200000});
    t.layer_weight_pages.push_back({10, 10});
    t.layer_other_pages.push_back({10 * b, 10 * b});
    t.layer_latency_ns.push_back({{100000, 400000}, {98000, 220000}, {98000, 200000}});
  }
  t.layer_splits = {{{false, false}, {false, false}}, {{true, false}, {true, false}}};
  const std::vector<uint32_t> sizes = t.batch_sizes;
  NoClock clock;
  const auto decide = [&](const std::map<std::string, double>& params) {
    auto p = BatchingRegistry::instance().make("per_layer_batch", params, {clock, &sp, 0});
    return p->decide(BatchQueueView{0, 2, 0, 0, false, sizes});
  };
  BatchDecision d = decide({});
  EXPECT_EQ(d.size, 2u);
  EXPECT_EQ(d.layer_sizes, (std::vector<uint32_t>{2, 2}));
  EXPECT_EQ(d.layer_sms, (std::vector<uint32_t>{33, 0}));
  EXPECT_EQ(decide({{"sm_gain", 0.2}}).layer_sms, (std::vector<uint32_t>{33, 66}));
  for (auto& rows : t.layer_latency_ns) rows[0][0] = rows[1][0] = 200000;
  EXPECT_TRUE(decide({}).layer_sms.empty());
}

// Under uvmsim serve, a closed loop of 8 in flight on a model whose first layer's activations dominate:
// with little memory its layers run as sub-batches (their kernels launch), every request is served, and
// with the whole footprint in memory nothing is split.
TEST(PerLayerBatch, ServesSubBatchesUnderPressureOnly) {
  const std::string model = ::testing::TempDir() + "/per_layer_model.json";
  std::ofstream(model) << R"({"name": "act", "input": [3, 64, 64], "dtype": "fp32", "layers": [
 {"name": "conv0", "op": "conv", "out": 64, "kernel": 3, "stride": 1, "padding": 1, "bias": true},
 {"name": "relu0", "op": "relu"},
 {"name": "pool0", "op": "maxpool", "kernel": 4, "stride": 4, "padding": 0},
 {"name": "fc0", "op": "linear", "out": 512, "bias": true}]})";
  const ServeSpec spec =
      parse_serve_spec(R"({"seed": 2, "requests": 16, "warmup_requests": 8, "slowdown": false,
    "tenants": [{"model": ")" +
                           model + R"(", "batch_sizes": [1, 2, 4, 8],
                 "arrivals": {"process": "closed", "in_flight": 8}}]})",
                       "s.json");
  const auto sub_launches = [&](double fraction) {
    Config c;
    c.gpu.memory_fraction = fraction;
    c.select("batching", "per_layer_batch");
    const ServeResult r = serve(spec, c);
    EXPECT_EQ(r.requests.size(), 24u);
    uint64_t n = 0;
    for (size_t k = 0; k < r.stats.kernels.size(); ++k)
      if (r.workload->trace.kernels[k].name.find(" [") != std::string::npos) n += r.stats.kernels[k].launches;
    return n;
  };
  EXPECT_GT(sub_launches(0.05), 0u);
  EXPECT_EQ(sub_launches(1.0), 0u);
}

// Its SM decisions reach the GPU: under uvmsim serve, the profile finds a layer with few CTAs as fast on a
// part of the GPU, and that layer's kernel runs on that many SMs (its record's `sms`); a layer that needs the
// whole GPU keeps it. Every request is served.
TEST(PerLayerBatch, RunsALayerOnTheSmsItDecided) {
  const std::string model = ::testing::TempDir() + "/per_layer_sms.json";
  std::ofstream(model) << R"({"name": "small_fc", "input": [3, 224, 224], "dtype": "fp32", "layers": [
 {"name": "conv0", "op": "conv", "out": 64, "kernel": 3, "stride": 1, "padding": 1, "bias": true},
 {"name": "pool0", "op": "maxpool", "kernel": 16, "stride": 16, "padding": 0},
 {"name": "fc0", "op": "linear", "out": 16, "bias": true}]})";
  const ServeSpec spec =
      parse_serve_spec(R"({"seed": 2, "requests": 4, "warmup_requests": 1, "slowdown": false,
    "tenants": [{"model": ")" +
                           model + R"(", "batch_sizes": [1, 2],
                 "arrivals": {"process": "closed", "in_flight": 1}}]})",
                       "s.json");
  Config c;
  c.select("batching", "per_layer_batch");
  const ServeResult r = serve(spec, c);
  EXPECT_EQ(r.requests.size(), 5u);
  // Batches of 1: the profile's layers at batch 1, each given the fewest SMs within 5% of its fastest.
  const TenantProfile& p = r.profile.tenants.at(0);
  ASSERT_EQ(p.layer_latency_ns.size(), 2u);
  ASSERT_EQ(p.layer_latency_ns[0].size(), p.sms.size());
  uint32_t limited = 0, whole = 0;
  for (size_t l = 0; l < 3; ++l) {
    int64_t fastest = INT64_MAX;
    for (const auto& row : p.layer_latency_ns[0]) fastest = std::min(fastest, row.at(l));
    uint32_t expect = 0;
    while (double(p.layer_latency_ns[0][expect][l]) > 1.05 * double(fastest)) ++expect;
    const KernelRecord& k = r.stats.kernels.at(l);  // the batch-of-1 inference's kernels come first
    EXPECT_EQ(k.launches, 5u) << l;
    EXPECT_EQ(k.sms, p.sms[expect]) << l;
    limited += k.sms < c.gpu.sm_count;
    whole += k.sms == c.gpu.sm_count;
  }
  EXPECT_GT(limited, 0u);  // the fc layer, one CTA: as fast on the smallest share
  EXPECT_GT(whole, 0u);    // the convolution over 224 x 224
}

// ---------------------------------------------------------------- conformance

// Every registered policy of every kind the engine runs (test_* policies aside), with its default
// parameters: the run of two models at 50% memory ends with every CTA done and every access made (the same
// page accesses as the default policy: a policy changes when, not what), and runs again identically.
TEST(Conformance, EveryPolicyOfEveryKindRunsTheWorkloadToTheEndDeterministically) {
  const trace::Trace t = two_models();
  const Workload w = Workload::build(t, "two models");
  auto run_with = [&](const std::string& kind, const std::string& policy) {
    Config c;
    c.gpu.memory_fraction = 0.5;
    if (!kind.empty()) c.select(kind, policy);
    return simulate(w, c, true).stats;
  };
  const Stats base = run_with("", "");
  ASSERT_TRUE(all_kernels_ran(base));
  uint32_t checked = 0;
  for (const char* kind :
       {"sm_allocation", "tlp", "memory_allocation", "eviction", "prefetch", "replay", "thrashing"}) {
    const KindInfo* k = PolicyCatalog::instance().find(kind);
    ASSERT_NE(k, nullptr) << kind;
    for (const auto& [name, info] : k->policies) {
      if (name.rfind("test_", 0) == 0) continue;
      SCOPED_TRACE(std::string(kind) + "=" + name);
      if (info.needs_profile) {  // serving only (Conformance.EveryProfiledPolicyServesTwoModelsAtHalfMemory)
        EXPECT_THROW(run_with(kind, name), ConfigError);
        continue;
      }
      const Stats a = run_with(kind, name);
      EXPECT_TRUE(all_kernels_ran(a));
      EXPECT_EQ(a.page_accesses, base.page_accesses);
      uint64_t ctas = 0, base_ctas = 0;
      for (const TenantRecord& r : a.tenants) ctas += r.ctas;
      for (const TenantRecord& r : base.tenants) base_ctas += r.ctas;
      EXPECT_EQ(ctas, base_ctas);
      EXPECT_EQ(stats_to_json(a).dump(), stats_to_json(run_with(kind, name)).dump());
      ++checked;
    }
  }
  EXPECT_GE(checked, 15u);
}

// Every policy that reads the serving profile (D-STACK's), under uvmsim serve: two models at half their
// footprint's memory serve every request, in allowed batch sizes, the same way twice.
TEST(Conformance, EveryProfiledPolicyServesTwoModelsAtHalfMemory) {
  const std::string model = ::testing::TempDir() + "/conformance_tiny.json";
  std::ofstream(model) << R"({"name": "tiny", "input": [3, 32, 32], "dtype": "fp32", "layers": [
 {"name": "conv0", "op": "conv", "out": 32, "kernel": 3, "stride": 1, "padding": 1, "bias": true},
 {"name": "relu0", "op": "relu"},
 {"name": "fc0", "op": "linear", "out": 256, "bias": true}]})";
  const ServeSpec spec = parse_serve_spec(R"({"seed": 5, "requests": 10, "slowdown": false, "tenants": [
    {"model": ")" + model + R"(", "batch_sizes": [1, 2, 4], "slo_ms": 5, "arrivals": {"process": "poisson", "rate_per_s": 4000}},
    {"model": ")" + model + R"(", "batch_sizes": [1, 2], "slo_ms": 5, "arrivals": {"process": "poisson", "rate_per_s": 3000}}]})",
                                          "s.json");
  uint32_t checked = 0;
  for (const char* kind : {"sm_allocation", "batching"}) {
    for (const auto& [name, info] : PolicyCatalog::instance().find(kind)->policies) {
      if (!info.needs_profile) continue;
      SCOPED_TRACE(std::string(kind) + "=" + name);
      Config c;
      c.gpu.memory_fraction = 0.5;
      c.select(kind, name);
      if (std::string(kind) == "sm_allocation") c.select("batching", "dynamic");
      const ServeResult r = serve(spec, c);
      ASSERT_EQ(r.requests.size(), 20u);
      for (const RequestRecord& q : r.requests) {
        EXPECT_GT(q.end_ns, q.start_ns);
        const auto& sizes = spec.tenants[q.tenant].batch_sizes;
        EXPECT_NE(std::find(sizes.begin(), sizes.end(), q.batch_size), sizes.end());
      }
      ASSERT_EQ(r.profile.tenants.size(), 2u);
      EXPECT_EQ(serve_json(spec, c, r).dump(), serve_json(spec, c, serve(spec, c)).dump());
      ++checked;
    }
  }
  EXPECT_GE(checked, 2u);
}

}  // namespace
}  // namespace uvmsim
