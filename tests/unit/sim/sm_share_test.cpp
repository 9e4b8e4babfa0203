// SMs shared by their CTAs (sim/gpu/sm_share.h): a CTA's speed in its kernel's resident composition is 1,
// more load on its SM slows it, and the engine moves its events when its SM's running CTAs change.
#include "sim/gpu/sm_share.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "test_util.h"

namespace uvmsim {
namespace {

using testing::add_kernel;
using testing::base_trace;
using testing::run;

// A kernel of `ctas` CTAs of 256 threads that touch nothing, `ns` long in its resident run on 132 SMs.
trace::Trace compute_kernel(uint32_t ctas, uint64_t ns) {
  trace::Trace t = base_trace(2 << 20);
  add_kernel(t, std::vector<std::vector<uint64_t>>(ctas, std::vector<uint64_t>{}), trace::AccessKind::kRead,
             ns);
  return t;
}

int64_t kernel_ns(const Stats& s, size_t k = 0) { return s.kernels[k].end_ns - s.kernels[k].start_ns; }

TEST(SmShare, TheReferenceCompositionRunsAtSpeedOne) {
  const trace::Trace t = compute_kernel(132 * 8, 100000);  // 8 CTAs of 256 threads fill an SM
  Config c;
  const SmShare share(t, {uint64_t{1} << 30}, {}, c.gpu);
  const SmShare::Kernel& k = share.kernel(0);
  const double dram = share.dram_factor(132 * share.sm_draw(8 * k.memory));  // every SM full, as recorded
  EXPECT_DOUBLE_EQ(share.speed(0, 8 * k.issue, 8 * k.memory, dram), 1.0);
  EXPECT_GT(k.memory_part, 0.0);
  // One CTA alone on its SM runs faster; twelve (a second kernel's CTAs beside them) run slower.
  EXPECT_GT(share.speed(0, k.issue, k.memory, dram), 1.0);
  EXPECT_LT(share.speed(0, 12 * k.issue, 12 * k.memory, dram), 1.0);
  // Less DRAM contention (fewer SMs drawing) speeds its memory part.
  EXPECT_GT(share.speed(0, 8 * k.issue, 8 * k.memory, 1.0), 1.0);
  EXPECT_EQ(k.cta_ns, 100000);  // one full wave
}

// A 132-CTA kernel took the same time on 132, 66 and 17 SMs while a CTA slot was a whole processor: now
// the CTAs that share an SM slow each other (the H200's 100-CTA convolution: 1.17x on 72 SMs, 1.74x on
// 32), and a kernel that fills every SM slows in proportion to the SMs taken away.
TEST(SmShare, FewerSmsCostTime) {
  const trace::Trace t = compute_kernel(132, 100000);
  Config c;
  const int64_t all = kernel_ns(run(t, c));
  c.gpu.sm_count = 66;
  const int64_t half = kernel_ns(run(t, c));
  c.gpu.sm_count = 17;
  const int64_t few = kernel_ns(run(t, c));
  EXPECT_EQ(all, 100000);
  EXPECT_GT(half, all * 11 / 10);
  EXPECT_GT(few, half * 2);
  const trace::Trace full = compute_kernel(132 * 8, 100000);
  c.gpu.sm_count = 132;
  const int64_t whole = kernel_ns(run(full, c));
  c.gpu.sm_count = 66;
  EXPECT_EQ(whole, 100000);
  EXPECT_NEAR(double(kernel_ns(run(full, c))), 2.0 * double(whole), 0.01 * double(whole));
}

// Two kernels of four CTAs per SM on two streams share the SMs: each takes longer than alone, both
// together less than one after the other.
TEST(SmShare, KernelsSharingSmsSlowEachOther) {
  trace::Trace t = compute_kernel(132 * 4, 100000);
  add_kernel(t, std::vector<std::vector<uint64_t>>(132 * 4, std::vector<uint64_t>{}),
             trace::AccessKind::kRead, 100000);
  t.kernels[1].stream = 1;
  t.ops[1].stream = 1;
  const Stats s = run(t);
  EXPECT_GT(kernel_ns(s, 0), 100000);
  EXPECT_GT(kernel_ns(s, 1), 100000);
  EXPECT_LT(std::max(s.kernels[0].end_ns, s.kernels[1].end_ns), 2 * 100000);
}

// gpu.launch_latency_ns: a kernel's CTAs start that long after its stream takes it, the first kernel after
// the host issues it and the second after the first ends (dispatch_probe: 1.54 us on the H200).
TEST(SmShare, KernelsStartALaunchLatencyAfterTheirStreamTakesThem) {
  trace::Trace t = compute_kernel(132, 100000);
  add_kernel(t, std::vector<std::vector<uint64_t>>(132, std::vector<uint64_t>{}), trace::AccessKind::kRead,
             100000);
  Config c;
  const Stats none = run(t, c);
  c.gpu.launch_latency_ns = 1540;
  const Stats late = run(t, c);
  EXPECT_EQ(late.kernels[0].start_ns, none.kernels[0].start_ns + 1540);
  EXPECT_EQ(late.kernels[1].start_ns - late.kernels[0].end_ns,
            none.kernels[1].start_ns - none.kernels[0].end_ns + 1540);
  EXPECT_EQ(kernel_ns(late, 1), kernel_ns(none, 1));
}

// A CTA stalled on faults leaves its SM's issue slots to the others: the same kernel with half its CTAs
// faulting once finishes its resident CTAs sooner than when all run.
TEST(SmShare, AStalledCtaSpeedsUpItsNeighbours) {
  std::vector<std::vector<uint64_t>> pages(2);
  pages[1] = {0};  // CTA 1 faults on its first access and stalls; CTA 0 touches nothing
  trace::Trace t = base_trace(2 << 20);
  add_kernel(t, pages, trace::AccessKind::kRead, 1000000);
  Config c;
  c.gpu.sm_count = 1;  // both CTAs on one SM
  const Stats faulting = run(t, c);
  t.ranges.clear();
  t.ctas[1].range_count = 0;
  const Stats resident = run(t, c);
  EXPECT_TRUE(testing::all_kernels_ran(faulting));
  EXPECT_GT(faulting.faults_raised, 0u);
  // The kernel ends with its later CTA either way; the faulting run's CTA 0 ran alone while CTA 1 waited.
  EXPECT_GT(kernel_ns(faulting), kernel_ns(resident));
  EXPECT_LT(kernel_ns(faulting), kernel_ns(resident) + faulting.kernels[0].end_ns);
}

// A profile of the resident run says how much of its SM one CTA takes: the H200's FMA kernel (warps ready
// nearly every cycle: one CTA of 8 warps fills the issue slots, as measured: 1.09x slower with one CTA per
// SM than with eight), its ReLU (warps waiting on memory most of the time: 4.6x), a copy (waiting on DRAM).
TEST(SmShare, AProfileGivesEachKernelItsOwnLoads) {
  Config c;
  const auto demand = [&](const KernelProfile& p) {
    return SmShare::demand(p, 256, uint32_t(c.gpu.max_threads_per_sm), c.gpu.full_sm_memory_load);
  };
  const SmShare::Demand fma = demand({0.9478, 9.59, 8.66, 0.0});
  const SmShare::Demand relu = demand({0.867, 13.09, 5.045, 5.46});
  const SmShare::Demand copy = demand({0.0798, 15.48, 0.18, 188.2});
  EXPECT_GT(fma.issue, 1.0);
  EXPECT_NEAR(relu.issue, 2 / (13.09 / 0.867 - 5.045), 1e-12);
  EXPECT_LT(relu.issue, 0.25);
  EXPECT_EQ(fma.memory_part, 0.0);
  EXPECT_GT(copy.memory_part, 0.95);
  EXPECT_GT(copy.memory, relu.memory);
  // The loads reach the model; a kernel without a profile keeps the occupancy loads.
  const trace::Trace t = compute_kernel(132 * 8, 100000);
  const SmShare profiled(t, {uint64_t{1} << 30}, {KernelProfile{0.9478, 9.59, 8.66, 0.0}}, c.gpu);
  const SmShare plain(t, {uint64_t{1} << 30}, {}, c.gpu);
  EXPECT_NEAR(double(profiled.kernel(0).issue) / double(SmShare::kLoadOne), fma.issue, 1e-6);
  EXPECT_NEAR(double(plain.kernel(0).issue) / double(SmShare::kLoadOne), c.gpu.full_sm_issue_load / 8, 1e-6);
  // One FMA CTA alone on an SM does nearly the work of the eight that share it in the resident run (it
  // runs almost 8x faster: the kernel takes at most 1.3x as long with one CTA per SM); without the
  // profile, the model has it take more than twice as long.
  const SmShare::Kernel& f = profiled.kernel(0);
  const SmShare::Kernel& g = plain.kernel(0);
  EXPECT_GT(profiled.speed(0, f.issue, f.memory, 1.0), 8.0 / 1.3);
  EXPECT_LT(plain.speed(0, g.issue, g.memory, 1.0), 8.0 / 2);
}

// Each model at its own fit (results/sm_sharing.md): the profiled model at the loads `sm-sharing --fit`
// finds with profiles, the model without profiles at sim/configs/h200.json's (its fit without them). Off
// the fit, the profiled model's mean error is the lowest, and either model beats CTA slots as processors.
TEST(SmShare, ProfilesBeatOccupancyLoadsAndSlotsAsProcessorsOnHeldOutCases) {
  const std::string src = testing::source_dir();
  const std::string rec = src + "/cuda_tracer/recordings/";
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(src + "/sim/configs/h200.json"));
  cfg["gpu"]["full_sm_issue_load"] = 1.177;  // results/sm_sharing.md's fitted parameters
  cfg["gpu"]["full_sm_memory_load"] = 0.8873;
  const std::string profiled_cfg = ::testing::TempDir() + "/h200_profiled_fit.json";
  std::ofstream(profiled_cfg) << cfg.dump(1);
  // The summary row's six percentages: mean and worst error of the model, of the model without profiles
  // (at the config's loads) and of slots as processors.
  const auto summary = [&](const std::string& config, const char* row) {
    const testing::Result r = testing::sh(
        "sm-sharing --recording " + rec + "sm_share_h200.jsonl --recording " + rec +
        "sm_share_torch_h200.jsonl --recording " + rec + "sm_share_profile_h200.jsonl --config " + config);
    EXPECT_EQ(r.status, 0) << r.output;
    std::vector<double> pct;
    const size_t at = r.output.find(row);
    EXPECT_NE(at, std::string::npos) << r.output;
    for (size_t i = at; at != std::string::npos && pct.size() < 6;) {
      i = r.output.find('%', i + 1);
      size_t b = r.output.rfind(' ', i);
      pct.push_back(std::stod(r.output.substr(b + 1, i - b - 1)));
    }
    pct.resize(6);
    return pct;
  };
  for (const char* row : {"| check half, alone |", "| pairs |"}) {
    const std::vector<double> profiled = summary(profiled_cfg, row),
                              plain = summary(src + "/sim/configs/h200.json", row);
    EXPECT_LT(profiled[0], plain[2]) << row;  // mean: profiled model < no profiles
    EXPECT_LT(plain[2], plain[4]) << row;     // no profiles < slots
  }
}

TEST(SmShare, ABadRecordingIsOneErrorNamingTheFile) {
  const testing::Result r = testing::sh("sm-sharing --recording /nonexistent.jsonl --config " +
                                        testing::source_dir() + "/sim/configs/h200.json");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("/nonexistent.jsonl"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace uvmsim
