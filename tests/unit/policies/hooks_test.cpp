// The hook points of the engine-facing kinds (sm_allocation, tlp, memory_allocation) and the policy timer:
// small test policies, registered here under test_* names, each make the engine do what its hook promises,
// seen in the run's statistics against the default policy.
#include <gtest/gtest.h>

#include <algorithm>

#include "policies/batching/batching_policy.h"
#include "policies/memory_allocation/memory_allocation_policy.h"
#include "policies/sm_allocation/sm_allocation_policy.h"
#include "policies/tlp/tlp_policy.h"
#include "test_util.h"
#include "workloads/generate.h"

namespace uvmsim {
namespace {

using namespace testing;

// ---------------------------------------------------------------- test policies

// Tenant t may use SM t only.
class OneSmEach final : public SmAllocationPolicy {
 public:
  void allocate(const SmAllocationView& v, std::vector<SmSet>& allowed) override {
    for (uint32_t t = 0; t < allowed.size(); ++t) {
      allowed[t] = SmSet::none(v.sm_count);
      allowed[t].set(t % v.sm_count);
    }
  }
};
const SmAllocationRegistrar kOneSmEach({"test_one_sm_each",
                                        "test: tenant t runs on SM t only",
                                        {},
                                        [](const PolicyParams&, const SmAllocationContext&) {
                                          return std::make_unique<OneSmEach>();
                                        }});

// One CTA per SM; `grant` more when every CTA of an SM is stalled, each after a 1 us switch. Counts the
// eviction faults it is told of.
uint64_t g_eviction_faults = 0;
class LimitOne final : public TlpPolicy {
 public:
  explicit LimitOne(uint32_t grant) : grant_(grant) {}
  uint32_t cta_limit(uint32_t, uint32_t) override { return 1; }
  StallAnswer on_sm_stalled(const SmStallView&) override { return {grant_, 1000}; }
  void on_eviction_fault(uint32_t) override { ++g_eviction_faults; }

 private:
  uint32_t grant_;
};
const TlpRegistrar kLimitOne({"test_limit_one",
                              "test: one CTA per SM, `grant` more when all stall",
                              {{"grant", ParamType::kInt, "CTAs", 0, 64, 0, "CTAs added when all stall"}},
                              [](const PolicyParams& p, const TlpContext&) {
                                return std::make_unique<LimitOne>(uint32_t(p.get_int("grant")));
                              }});

// One kernel at a time across tenants; chunks of tenant `protect` are never evicted; `ahead` chunks evicted
// at every batch start when none is free; nothing admitted before `start_ns` (a timer).
class TestMemory final : public MemoryAllocationPolicy {
 public:
  TestMemory(const PolicyParams& p, PolicyClock& clock)
      : serial_(p.get_int("serial")),
        protect_(uint32_t(p.get_int("protect"))),
        ahead_(uint32_t(p.get_int("ahead"))),
        open_(p.get_int("start_ns") == 0) {
    if (!open_) clock.set_timer(p.get_int("start_ns"), 7);
  }
  bool admit(const KernelView&) override { return open_ && (!serial_ || running_ == 0); }
  void on_kernel_start(const KernelView&) override { ++running_; }
  void on_kernel_end(const KernelView&) override { --running_; }
  bool evictable(uint32_t, uint32_t tenant) override { return tenant != protect_; }
  uint32_t evict_ahead(const BatchStartView& v) override { return v.free_chunks == 0 ? ahead_ : 0; }
  void on_timer(uint64_t tag) override { open_ |= tag == 7; }

 private:
  bool serial_;
  uint32_t protect_, ahead_;
  bool open_;
  uint32_t running_ = 0;
};
const MemoryAllocationRegistrar kTestMemory(
    {"test_memory",
     "test: serial admission, a protected tenant, eviction ahead, admission from a time on",
     {{"serial", ParamType::kInt, "", 0, 1, 0, "one kernel at a time"},
      {"protect", ParamType::kInt, "tenant", 0, 1e9, 1e9, "tenant whose chunks are never evicted"},
      {"ahead", ParamType::kInt, "chunks", 0, 64, 0, "chunks evicted at a batch start when none is free"},
      {"start_ns", ParamType::kInt, "ns", 0, 1e12, 0, "nothing is admitted before"}},
     [](const PolicyParams& p, const MemoryAllocationContext& c) {
       return std::make_unique<TestMemory>(p, c.clock);
     }});

// ---------------------------------------------------------------- workloads

// Eight CTAs of one kernel, each alone on an SM for 10 us, touching nothing.
trace::Trace eight_ctas() {
  trace::Trace t = base_trace(2 << 20);
  add_kernel(t, std::vector<std::vector<uint64_t>>(8), trace::AccessKind::kRead, 10000);
  return t;
}

// Eight CTAs, each faulting on its own VA block.
trace::Trace eight_faulting_ctas() {
  trace::Trace t = base_trace(16 << 20);
  std::vector<std::vector<uint64_t>> ctas;
  for (uint64_t i = 0; i < 8; ++i) ctas.push_back({i * 512, i * 512 + 100});
  add_kernel(t, ctas, trace::AccessKind::kRead, 10000);
  return t;
}

trace::Trace two_models() {
  GenerateOptions o;
  o.models = parse_model_list("resnet18:1,mobilenet_v2:1");
  return generate_models(o);
}

int64_t kernel_ns(const Stats& s, size_t k = 0) { return s.kernels[k].end_ns - s.kernels[k].start_ns; }

// ---------------------------------------------------------------- sm_allocation

TEST(Hooks, SmAllocationConfinesATenantsCtasToItsSms) {
  Config c;
  c.gpu.max_ctas_per_sm = 1;
  const Stats shared = run(eight_ctas(), c);
  c.select("sm_allocation", "test_one_sm_each");
  const Stats one = run(eight_ctas(), c);
  EXPECT_EQ(kernel_ns(shared), 10000);   // one wave over eight SMs
  EXPECT_EQ(kernel_ns(one), 8 * 10000);  // eight waves on SM 0
}

// ---------------------------------------------------------------- tlp

TEST(Hooks, TlpLimitBoundsCtasPerSm) {
  Config c;
  c.gpu.sm_count = 1;
  const Stats unlimited = run(eight_ctas(), c);
  c.select("tlp", "test_limit_one");
  const Stats limited = run(eight_ctas(), c);
  // Eight CTAs sharing the SM slow one another (each ran alone on its SM in the resident run) but finish
  // far sooner than one at a time, which takes eight times one CTA's resident time.
  EXPECT_GT(kernel_ns(unlimited), 10000);
  EXPECT_LT(kernel_ns(unlimited), 4 * 10000);
  EXPECT_EQ(kernel_ns(limited), 8 * 10000);
}

TEST(Hooks, TlpStallGrantsMoreCtasWithASwitchCost) {
  Config c;
  c.gpu.sm_count = 1;
  c.gpu.fault_jitter_ns = 0;
  c.select("tlp", "test_limit_one");
  const Stats serial = run(eight_faulting_ctas(), c);
  c.policies["tlp"].params["grant"] = 1;
  const Stats granted = run(eight_faulting_ctas(), c);
  // One CTA at a time faults alone; with a CTA added at each stall, faults of several CTAs share batches.
  EXPECT_LT(granted.batches, serial.batches);
  EXPECT_LT(kernel_ns(granted), kernel_ns(serial));
  EXPECT_EQ(granted.kernels[0].ctas, 8u);
}

TEST(Hooks, TlpHearsOfFaultsThatNeededAnEviction) {
  Config c;
  c.gpu.memory_fraction = 0.5;
  c.select("tlp", "test_limit_one");
  g_eviction_faults = 0;
  const Stats s = run(two_models(), c);
  EXPECT_GT(s.chunks_evicted, 0u);
  EXPECT_GT(g_eviction_faults, 0u);
  EXPECT_LE(g_eviction_faults, s.chunks_evicted);  // at most one notice per block serviced with an eviction
}

// ---------------------------------------------------------------- memory_allocation

TEST(Hooks, MemoryAllocationAdmissionHoldsKernelsBack) {
  Config c;
  const Stats free_run = run(two_models(), c);
  c.select("memory_allocation", "test_memory");
  c.policies["memory_allocation"].params["serial"] = 1;
  const Stats serial = run(two_models(), c);
  auto overlaps = [](const Stats& s) {
    std::vector<std::pair<int64_t, int64_t>> iv;
    for (const KernelRecord& k : s.kernels) iv.push_back({k.start_ns, k.end_ns});
    std::sort(iv.begin(), iv.end());
    uint32_t n = 0;
    for (size_t i = 1; i < iv.size(); ++i) n += iv[i].first < iv[i - 1].second;
    return n;
  };
  EXPECT_GT(overlaps(free_run), 0u);  // the two tenants' streams run side by side
  EXPECT_EQ(overlaps(serial), 0u);
  EXPECT_TRUE(all_kernels_ran(serial));
}

TEST(Hooks, MemoryAllocationProtectsATenantsChunksFromEviction) {
  Config c;
  c.gpu.memory_fraction = 0.6;
  const Stats driver = run(two_models(), c);
  c.select("memory_allocation", "test_memory");
  c.policies["memory_allocation"].params["protect"] = 1;
  const Stats kept = run(two_models(), c);
  EXPECT_GT(driver.tenants[1].chunks_evicted_from, 0u);
  EXPECT_EQ(kept.tenants[1].chunks_evicted_from, 0u);
  EXPECT_GT(kept.tenants[0].chunks_evicted_from, 0u);
}

TEST(Hooks, MemoryAllocationEvictsAheadOfDemand) {
  Config c;
  c.gpu.memory_fraction = 0.5;
  const Stats driver = run(two_models(), c);
  c.select("memory_allocation", "test_memory");
  c.policies["memory_allocation"].params["ahead"] = 8;
  const Stats ahead = run(two_models(), c);
  EXPECT_GT(ahead.chunks_evicted, driver.chunks_evicted);
}

TEST(Hooks, APolicyTimerComesDueAndTheSchedulerAsksAgain) {
  Config c;
  c.select("memory_allocation", "test_memory");
  c.policies["memory_allocation"].params["start_ns"] = 5000000;
  const Stats s = run(eight_ctas(), c);
  EXPECT_EQ(s.kernels[0].start_ns, 5000000);
  EXPECT_EQ(kernel_ns(s), 10000);
}

// ---------------------------------------------------------------- batching (asked by the server)

// A clock for policies built outside a run.
class NoClock final : public PolicyClock {
 public:
  int64_t now() const override { return 0; }
  void set_timer(int64_t, uint64_t) override {}
};

TEST(Hooks, FixedBatchingWaitsForAFullBatchOrItsTimeout) {
  NoClock clock;
  auto fixed = BatchingRegistry::instance().make("fixed", {{"batch_size", 4}, {"timeout_ns", 1000}}, {clock});
  const std::vector<uint32_t> sizes = {1, 2, 4, 8};
  auto ask = [&](uint32_t queued, int64_t now, bool busy = false) {
    return fixed->decide(BatchQueueView{0, queued, 100, now, busy, sizes});
  };
  EXPECT_EQ(ask(4, 100).size, 4u);
  EXPECT_EQ(ask(9, 100).size, 4u);
  EXPECT_EQ(ask(3, 100).size, 0u);
  EXPECT_EQ(ask(3, 100).wait_until, 1100);
  EXPECT_EQ(ask(3, 1100).size, 2u);  // timed out: the largest allowed size not above what is queued
  EXPECT_EQ(ask(4, 100, true).size, 0u);
  EXPECT_EQ(ask(0, 5000).size, 0u);
}

TEST(Hooks, ParametersAreCheckedAgainstTheirDeclaration) {
  NoClock clock;
  auto& r = BatchingRegistry::instance();
  auto error = [&](const std::map<std::string, double>& given) -> std::string {
    try {
      r.make("fixed", given, {clock});
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_NE(error({{"batch_size", 0}}).find("policies.batching.params.batch_size"), std::string::npos);
  EXPECT_NE(error({{"batch_size", 2.5}}).find("expected an integer"), std::string::npos);
  EXPECT_NE(error({{"size", 2}}).find("no such parameter (it has: batch_size, timeout_ns)"),
            std::string::npos);
  EXPECT_EQ(error({{"batch_size", 8}}), "");
  try {
    r.make("nope", {}, {clock});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("policies.batching.name': unknown policy 'nope' (known: dstack, "
                                         "dynamic, fixed, per_layer_batch)"),
              std::string::npos);
  }
}

}  // namespace
}  // namespace uvmsim
