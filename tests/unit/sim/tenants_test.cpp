// Per-tenant statistics (stats.json "tenants"): every fault, byte migrated and chunk evicted is attributed
// to exactly one tenant, so the tenants' figures add up to the run's; refaults follow their window.
#include <gtest/gtest.h>

#include "sim/simulator.h"
#include "test_util.h"
#include "workloads/generate.h"

namespace uvmsim {
namespace {

trace::Trace two_models(uint32_t requests = 1) {
  GenerateOptions o;
  o.models = parse_model_list("resnet18:1,mobilenet_v2:1");
  o.requests = requests;
  return generate_models(o);
}

Stats run_at(const trace::Trace& t, double fraction, int64_t window_ns) {
  Config c;
  c.gpu.memory_fraction = fraction;
  c.stats.refault_window_ns = window_ns;
  return testing::run(t, c);
}

TEST(Tenants, FiguresAddUpToTheRunsAndStayWithTheirTenant) {
  const trace::Trace t = two_models();
  const Stats s = run_at(t, 0.5, 10000000);
  ASSERT_EQ(s.tenants.size(), 2u);
  EXPECT_EQ(s.tenants[0].name, "resnet18#0");
  EXPECT_EQ(s.tenants[1].model, "mobilenet_v2");
  uint64_t in = 0, out = 0, from = 0, by = 0, faults = 0, kernel_faults = 0, kernels = 0, batches = 0;
  for (const TenantRecord& r : s.tenants) {
    in += r.bytes_in, out += r.bytes_out, from += r.chunks_evicted_from, by += r.chunks_evicted_by;
    faults += r.faults, kernels += r.kernels, batches += r.batches;
    EXPECT_GT(r.faults, 0u) << r.name;
    EXPECT_GT(r.bytes_in, 0u) << r.name;
    EXPECT_LE(r.batches, s.batches) << r.name;
    EXPECT_GE(r.first_start_ns, 0) << r.name;
    EXPECT_LE(r.kernel_ns, r.last_end_ns - r.first_start_ns) << r.name;
    EXPECT_GT(r.kernel_ns, 0) << r.name;
    EXPECT_LE(r.refaults, s.pages_faulted_in) << r.name;
  }
  for (const KernelRecord& k : s.kernels) kernel_faults += k.faults;
  EXPECT_EQ(in, htod_bytes(s));
  EXPECT_EQ(out, dtoh_bytes(s));
  EXPECT_GT(s.chunks_evicted, 0u);
  EXPECT_EQ(from, s.chunks_evicted);
  EXPECT_EQ(by, s.chunks_evicted);
  EXPECT_EQ(faults, kernel_faults);
  EXPECT_EQ(kernels, s.kernels.size());
  EXPECT_GE(batches, s.batches);  // a batch holding both tenants' entries counts for each
  // Each tenant's kernels ran on its own stream: its figures are those of its own kernels.
  uint64_t resnet_faults = 0;
  for (const KernelRecord& k : s.kernels)
    if (k.tenant == 0) resnet_faults += k.faults;
  EXPECT_EQ(s.tenants[0].faults, resnet_faults);
}

// Two requests: the second needs again the weights that the first's later layers pushed out.
TEST(Tenants, RefaultsCountOnlyWithinTheirWindow) {
  const trace::Trace t = two_models(2);
  const Stats none = run_at(t, 0.5, 0), some = run_at(t, 0.5, 10000000),
              all = run_at(t, 0.5, int64_t{1} << 50);
  uint64_t n = 0, s = 0, a = 0;
  for (size_t i = 0; i < 2; ++i)
    n += none.tenants[i].refaults, s += some.tenants[i].refaults, a += all.tenants[i].refaults;
  EXPECT_LE(n, s);
  EXPECT_LE(s, a);
  EXPECT_GT(a, 0u);
  EXPECT_EQ(none.sim_time_ns, all.sim_time_ns);  // the window only counts
  // With everything resident nothing is evicted, so nothing refaults.
  const Stats fits = run_at(t, 0.0, int64_t{1} << 50);
  for (const TenantRecord& r : fits.tenants) {
    EXPECT_EQ(r.refaults, 0u);
    EXPECT_EQ(r.chunks_evicted_from, 0u);
  }
}

// A trace without tenants reports one unnamed tenant holding everything.
TEST(Tenants, ATraceWithoutTenantsHasOne) {
  const Workload w = testing::micro(true, 64 << 20);
  Config c;
  c.gpu.memory_fraction = 0.5;
  Simulator sim(w, c);
  sim.run();
  const Stats& s = sim.stats();
  ASSERT_EQ(s.tenants.size(), 1u);
  EXPECT_EQ(s.tenants[0].bytes_in, htod_bytes(s));
  EXPECT_EQ(s.tenants[0].chunks_evicted_from, s.chunks_evicted);
}

}  // namespace
}  // namespace uvmsim
