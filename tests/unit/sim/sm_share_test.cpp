// SMs shared by their CTAs (sim/gpu/sm_share.h): a CTA's speed in its kernel's resident composition is 1,
// more load on its SM slows it, and the engine moves its events when its SM's running CTAs change.
#include "sim/gpu/sm_share.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <optional>

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

// Where a kernel's CTAs go when some SMs hold another kernel's and others are free (placement_probe on three
// H100s). A (66 long CTAs) starts alone, A' (66 short ones) beside it; when A' ends, B (66 CTAs) follows it
// on its stream. Rotating over SMs, A holds SMs 0-65, A' takes 66-131 and B, starting after SM 131, lands on
// A's SMs, every CTA beside one of A's. By TPC (gpu.dispatch_by_tpc), A takes the first SM of every TPC, A'
// the second, and B the second again: none beside another kernel's CTA. By TPC only beside another kernel
// (gpu.dispatch_by_tpc 2, the calibrated configs'), A alone rotates onto SMs 0-65 (TPCs 0-32), and A' and
// B take the free TPCs 33-65: none beside another kernel's CTA either.
TEST(SmShare, ByTpcANewKernelTakesTheFreeSmOfEachTpc) {
  trace::Trace t = compute_kernel(66, 1000000);
  for (int k = 0; k < 2; ++k) {
    add_kernel(t, std::vector<std::vector<uint64_t>>(66, std::vector<uint64_t>{}), trace::AccessKind::kRead,
               10000);
    t.kernels.back().stream = 1;
    t.ops.back().stream = 1;
  }
  Config c;
  c.gpu.dispatch_by_tpc = 0;
  const Stats rotation = run(t, c);
  EXPECT_EQ(rotation.ctas_beside_other_kernels, 66u);
  c.gpu.dispatch_by_tpc = 2;
  const Stats beside = run(t, c);
  EXPECT_EQ(beside.ctas_beside_other_kernels, 0u);
  EXPECT_EQ(kernel_ns(beside, 0), 1000000);  // A shares no SM: its resident time (rotation: slowed by B)
  EXPECT_GT(kernel_ns(rotation, 0), 1000000);
  c.gpu.dispatch_by_tpc = 1;
  const Stats by_tpc = run(t, c);
  EXPECT_EQ(by_tpc.ctas_beside_other_kernels, 0u);
  EXPECT_GE(by_tpc.kernels[2].start_ns, by_tpc.kernels[1].end_ns);
  // Alone, a kernel takes its resident time either way.
  const trace::Trace one = compute_kernel(132 * 3, 100000);
  EXPECT_EQ(kernel_ns(run(one, c)), 100000);
  EXPECT_EQ(run(one, c).ctas_beside_other_kernels, 0u);
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
    return SmShare::demand(p, 256, uint32_t(c.gpu.max_threads_per_sm), 0, c.gpu);
  };
  const SmShare::Demand fma = demand({0.9478, 9.59, 8.66, 0.0});
  const SmShare::Demand relu = demand({0.867, 13.09, 5.045, 5.66});
  const SmShare::Demand copy = demand({0.0798, 15.48, 0.18, 188.235});
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
  // profile, its 1 GiB of DRAM traffic makes it wholly memory-bound, and alone it runs at its memory speed.
  const SmShare::Kernel& f = profiled.kernel(0);
  const SmShare::Kernel& g = plain.kernel(0);
  EXPECT_GT(profiled.speed(0, f.issue, f.memory, 1.0), 8.0 / 1.3);
  EXPECT_EQ(g.memory_part, 1.0);
  EXPECT_LT(plain.speed(0, g.issue, g.memory, 1.0), profiled.speed(0, f.issue, f.memory, 1.0));
}

// The default config with the H200's memory side (sim/configs/h200.json, cuda_tracer/mem_latency.sh).
Config h200_memory() {
  Config c;
  c.gpu.sm_dram_bytes_per_s = 122000000000;
  c.gpu.dram_bytes_per_s = 4520000000000;
  c.gpu.dram_latency_ns = 390;
  return c;
}

// The L1 data pipe is shared by all CTAs of an SM, oldest or not. The H200's GEMV of PyTorch's linear
// (cuBLAS gemmSN, 4 CTAs per SM, 63% of the pipe's peak) ran 36% longer beside cuDNN's implicit-GEMM
// convolution (67% of the pipe) on the whole GPU, though its CTAs were the older ones and the issue slots
// favour them (sm_share_torch_h200.jsonl: linear_fc6 0.119 ms alone, 0.155 beside conv3x3_14). With the pipe
// its loads queue behind the convolution's: the memory part of its own cycle stretches as the pipe's load
// grows (here from 0.69 to 1.3 of its peak); without the pipe (no l1_wavefronts), it hardly slows.
TEST(SmShare, ThePipeSlowsAnOlderGemvBesideAConvolution) {
  const Config c = h200_memory();
  const KernelProfile gemv{0.3875, 3.865, 1.13, 4.975, 2365440, 6.346, 0.6275};
  const KernelProfile conv{0.6852, 1.535, 0.67, 0.2, 1832992, 8.034, 0.6657};
  trace::Trace t = compute_kernel(132 * 4, 99400);
  add_kernel(t, std::vector<std::vector<uint64_t>>(132 * 2, std::vector<uint64_t>{}),
             trace::AccessKind::kRead, 97700);
  const auto beside = [&](KernelProfile g, KernelProfile v) {
    const SmShare share(t, {153757824, 4002304}, {g, v}, c.gpu);
    const SmShare::Kernel &a = share.kernel(0), &b = share.kernel(1);
    // The GEMV's CTAs issue first: they get the slots their own load asks for.
    EXPECT_NEAR(share.speed(0, 4 * a.issue, 4 * a.memory, 1.0, 4 * a.pipe), 1.0, 1e-9);
    return share.speed(0, 4 * a.issue, 4 * a.memory + 2 * b.memory, 1.0, 4 * a.pipe + 2 * b.pipe);
  };
  EXPECT_LT(beside(gemv, conv), 1 / 1.15);
  KernelProfile g0 = gemv, c0 = conv;
  g0.l1_wavefronts = c0.l1_wavefronts = 0;
  EXPECT_GT(beside(g0, c0), 1 / 1.05);
}

// The DRAM slows before its ceiling, as an SM does. Three points of the H200's memory curve (132 SMs, warps
// that only load: cuda_tracer/recordings/mem_latency_h200.jsonl): 8 warps per SM with 2, 4 and 8 loads of
// 512 bytes each in flight deliver 2.42, 3.63 and 4.39 TB/s; the SMs want 2.73, 5.70 and 9.12 TB/s, so a
// hard ceiling at 4.52 gives 2.73, 4.52 and 4.52 (13%, 25% and 3% over). With the exponent 3 the SMs wanting
// x times the ceiling get (1 + x^3)^(-1/3) of what they want: 2.56, 3.83 and 4.35.
TEST(SmShare, TheDramSlowsBeforeItsCeiling) {
  Config c = h200_memory();
  const SmShare hard(c.gpu);
  c.gpu.dram_saturation_exponent = 3;
  const SmShare soft(c.gpu);
  const double in_flight[] = {1081344, 2162688, 4325376}, measured[] = {2415.7, 3627.4, 4390.8};
  for (int i = 0; i < 3; ++i) {
    const double h = hard.uniform_draw(in_flight[i] / 132, 132),
                 s = soft.uniform_draw(in_flight[i] / 132, 132);
    EXPECT_LE(h, 4520 * (1 + 1e-9));
    EXPECT_NEAR(s / measured[i], 1, 0.06) << i;
    EXPECT_LT(std::abs(s / measured[i] - 1), std::abs(h / measured[i] - 1)) << i;
  }
  EXPECT_NEAR(hard.uniform_draw(in_flight[1] / 132, 132), 4520, 1e-6);
  // The factor is what they get over what they want: 2^(-1/3) at the ceiling, and what they get never
  // exceeds it.
  EXPECT_NEAR(soft.dram_factor(4520), std::pow(2.0, -1.0 / 3), 1e-12);
  EXPECT_EQ(hard.dram_factor(4520), 1.0);
  for (const double x : {0.5, 1.0, 2.0, 8.0}) EXPECT_LT(x * 4520 * soft.dram_factor(x * 4520), 4520);
}

// A warp waiting on memory is not waiting to issue. The H200's ReLU (its profile: 8 CTAs per SM, the issue
// slots busy 87% of cycles, its warps waiting on memory 56% of their own cycle) runs a CTA 1.74x faster
// with one CTA per SM than with eight (the whole GPU, 25,088 CTAs: 0.1607 ms against 0.0349 ms with 1/8 of
// the CTAs at a time). With eight, the SM is issue-bound and the memory waits hide behind the other warps'
// instructions; alone, the CTA takes its own cycle. Adding an issue part and a memory part, each slowed by
// its own contention, gives 1.26x: the memory part would never speed up, as its memory load hardly changes.
TEST(SmShare, AWarpWaitingOnMemoryIsNotWaitingToIssue) {
  const Config c = h200_memory();
  const uint64_t bytes = 33684096;
  const KernelProfile relu{0.867, 13.09, 5.045, 5.66, 200704};
  const trace::Trace t = compute_kernel(25088, 34900);
  const SmShare share(t, {bytes}, {relu}, c.gpu);
  const SmShare::Kernel& k = share.kernel(0);
  EXPECT_NEAR(k.memory_part, 5.66 / (13.09 / 0.867 - 5.045), 1e-9);
  const double eight = share.speed(0, 8 * k.issue, 8 * k.memory, 1.0);
  const double one = share.speed(0, k.issue, k.memory, 1.0);
  EXPECT_NEAR(eight, 1.0, 1e-6);
  EXPECT_GT(one, 1.74 * 0.9);
  EXPECT_LT(one, 1.74 * 1.1);
  // With eight CTAs the memory side barely matters: the DRAM at half speed slows them by far less than the
  // memory part would, because the issue slots, not the warps' own cycles, bound them.
  const double slow_memory = share.speed(0, 8 * k.issue, 8 * k.memory, 0.5);
  EXPECT_GT(slow_memory, 1 / (1 - k.memory_part + 2 * k.memory_part) * 1.2);
  EXPECT_LT(slow_memory, 1.0);
}

// With load counts, a profiled kernel's memory load is the bytes its CTAs keep in flight. The H200's copy
// (its profile: every warp waits on DRAM; 2,097,216 loads moving 2.17 GB, about 1 KiB each) keeps 8 KiB
// per CTA in flight; alone on an SM a CTA then draws what the GPU measured (8 SMs with one CTA each: 2 GiB
// in 14.44 ms, 18.6 GB/s per CTA), where counting waiting warps gave it two thirds of that. The same
// copy's CTAs in its resident run want far more than the DRAM gives (1056 CTAs in 0.646 ms: 3.36 TB/s of
// the 4.52 that reads alone reach), so a byte of its traffic costs the DRAM 4.52 / 3.36 of a byte.
TEST(SmShare, LoadCountsGiveTheBytesAKernelKeepsInFlight) {
  const Config c = h200_memory();
  const uint64_t bytes = 2168638208;
  const KernelProfile copy{0.0798, 15.48, 0.18, 188.235, 2097216};
  const SmShare::Demand d = SmShare::demand(copy, 256, 2048, bytes, c.gpu);
  EXPECT_TRUE(d.in_flight);
  EXPECT_NEAR(d.memory, 8 * 1034.0 / (122 * 390), 0.01);
  trace::Trace t = compute_kernel(1056, 646000);
  const SmShare share(t, {bytes}, {copy}, c.gpu);
  const SmShare::Kernel& k = share.kernel(0);
  const double alone = share.sm_draw(k.memory);  // bytes per ns, one CTA on its SM
  EXPECT_GT(alone, 18.6 * 0.85);
  EXPECT_LT(alone, 18.6 * 1.15);
  EXPECT_NEAR(double(k.memory_cost) / double(k.memory), 4.52 / (double(bytes) / 646000 / 1000), 0.01);
  // The DRAM slows the CTAs of the resident run to speed 1 with the cost counted; without the load count
  // the model falls back to waiting warps at gpu.full_sm_memory_load, with no cost.
  const double dram = share.dram_factor(132 * share.sm_cost(8 * k.memory, 8 * k.memory_cost));
  EXPECT_NEAR(share.speed(0, 8 * k.issue, 8 * k.memory, dram), 1.0, 1e-9);
  const SmShare counted_not(t, {bytes}, {KernelProfile{0.0798, 15.48, 0.18, 188.235}}, c.gpu);
  EXPECT_EQ(counted_not.kernel(0).memory_cost, counted_not.kernel(0).memory);
  EXPECT_LT(counted_not.sm_draw(counted_not.kernel(0).memory), alone);
}

// A warp that issues several loads before it uses the first one's data waits with all of them in flight
// (KernelProfile::loads_in_flight, from its SASS: cuda_tracer/ncu_sass.py). PyTorch's vectorised add
// issues four float4 loads, then adds: on 8 SMs, where no DRAM limit holds it, its CTAs draw four times
// the bytes per ns of a kernel alike in every other figure that uses each load before the next, and end
// sooner (on the H200 the add takes 0.095 ms on 8 SMs: results/sm_sharing.md).
TEST(SmShare, LoadsInFlightTogetherDrawMoreBandwidthWhereNoDramLimitHolds) {
  const Config c = h200_memory();
  const uint64_t bytes = 61232000;
  const KernelProfile one{0.0524, 12.95, 18.675, 205.39, 100352},
      four{0.0524, 12.95, 18.675, 205.39, 100352, 4};
  const SmShare::Demand d1 = SmShare::demand(one, 128, 2048, bytes, c.gpu),
                        d4 = SmShare::demand(four, 128, 2048, bytes, c.gpu);
  EXPECT_NEAR(d4.memory, 4 * d1.memory, 1e-9);
  EXPECT_EQ(d4.issue, d1.issue);
  EXPECT_EQ(d4.memory_part, d1.memory_part);
  trace::Trace t = compute_kernel(6272, 18080);
  t.kernels[0].block = {128, 1, 1};
  auto on_8_sms = [&](const KernelProfile& p) {
    Workload w = Workload::build(t, "t");
    w.kernel_dram_bytes = {bytes};
    w.kernel_profile = {p};
    Config e = c;
    e.gpu.sm_count = 8;
    return kernel_ns(simulate(w, e, true).stats);
  };
  EXPECT_LT(double(on_8_sms(four)), 0.9 * double(on_8_sms(one)));
}

// gpu.cta_time_variance_ns: the CTAs of one kernel take slightly different times, drawn per CTA from the
// seed, so a many-wave kernel's last CTAs end apart and a one-CTA grid of another stream, queued behind it,
// starts before the kernel ends (as on the GPU: cuda_tracer/recordings/dispatch_h200.jsonl's probe
// pattern); with every CTA alike it waits for the whole last wave. Runs are reproducible.
TEST(SmShare, CtaTimesSpreadSoAQueuedGridFindsASlotBeforeTheLastWaveEnds) {
  trace::Trace t = compute_kernel(132 * 8 * 20, 10000 * 20);  // 20 full waves of 10 us CTAs
  add_kernel(t, std::vector<std::vector<uint64_t>>(1, std::vector<uint64_t>{}), trace::AccessKind::kRead,
             1000);
  t.kernels[1].stream = 1;
  t.ops[1].stream = 1;
  Config c;
  const Stats alike = run(t, c);
  c.gpu.cta_time_variance_ns = 50;
  const Stats spread = run(t, c), again = run(t, c);
  EXPECT_GE(alike.kernels[1].start_ns, alike.kernels[0].end_ns);
  EXPECT_LT(spread.kernels[1].start_ns, spread.kernels[0].end_ns);
  // The kernel's time barely moves (its CTAs' mean duration is the same).
  EXPECT_NEAR(double(kernel_ns(spread)), double(kernel_ns(alike)), 0.05 * double(kernel_ns(alike)));
  EXPECT_EQ(spread.kernels[0].end_ns, again.kernels[0].end_ns);
  EXPECT_EQ(spread.kernels[1].start_ns, again.kernels[1].start_ns);
}

// gpu.issue_by_age: an SM's issue slots go to its older CTAs first. Eight CTAs started together on an SM,
// each able to fill the SM's issue slots alone (the H200's FMA kernel: one CTA per SM takes 1.09x as long
// as eight), end one after another, the first after about a sixth of the wave (on the H200: 237 of 1307
// us, cuda_tracer/recordings/dispatch_fma_pair_h200.jsonl), so a one-CTA grid of another stream queued
// behind them starts then (194 us); shared equally, they end together and the grid waits for the whole
// wave. The wave takes its recorded time either way: the CTAs' reference duration counts on the last CTAs
// of a wave running with few others (SmShare::age_stretch).
TEST(SmShare, OlderCtasIssueFirstSoAWaveFreesItsFirstSlotEarly) {
  trace::Trace t = compute_kernel(132 * 8, 1307000);
  add_kernel(t, std::vector<std::vector<uint64_t>>(1, std::vector<uint64_t>{}), trace::AccessKind::kRead,
             1000);
  t.kernels[1].stream = 1;
  t.ops[1].stream = 1;
  Config c;
  c.gpu.full_sm_issue_load = 8 * 1.374;  // 2 warps per sub-partition, issuing every 1.46 cycles alone
  const Stats equal = run(t, c);
  c.gpu.issue_by_age = 1;
  const Stats aged = run(t, c), again = run(t, c);
  EXPECT_GE(equal.kernels[1].start_ns, equal.kernels[0].end_ns);
  EXPECT_LT(aged.kernels[1].start_ns - aged.kernels[0].start_ns, kernel_ns(equal) / 4);
  EXPECT_NEAR(double(kernel_ns(aged)), 1307000.0, 0.01 * 1307000.0);
  EXPECT_EQ(kernel_ns(equal), 1307000);
  EXPECT_EQ(aged.kernels[0].end_ns, again.kernels[0].end_ns);
}

// With CTA times spread, a kernel's partial last wave goes to the first slots its full waves free, so the
// SMs that take several of its CTAs end it; a CTA's reference duration counts on that, and the kernel on its
// own recording GPU takes about its recorded time (one full wave of 8 CTAs per SM and 124, 400 or 900 more:
// 100 us; 94, 106 and 100 us, where a last wave spread evenly over the SMs gave 111, 121 and 106 us).
TEST(SmShare, WithCtaTimesSpreadAKernelStillTakesItsResidentTime) {
  for (const uint32_t rest : {124u, 400u, 900u}) {
    const trace::Trace t = compute_kernel(132 * 8 + rest, 100000);
    Config c;
    c.gpu.cta_time_variance_ns = 50;
    const int64_t ns = kernel_ns(run(t, c));
    EXPECT_GT(ns, 100000 * 93 / 100) << rest;
    EXPECT_LT(ns, 100000 * 107 / 100) << rest;
  }
}

// The model with profiles (no fitted parameter: each kernel's loads are its profile's) against the same
// model without them, at sim/configs/h200.json's loads (their fit without profiles), on the cases no fit
// reads: the profiled model's mean error is the lower, and either model beats CTA slots as processors.
TEST(SmShare, ProfilesBeatOccupancyLoadsAndSlotsAsProcessorsOnHeldOutCases) {
  const std::string src = testing::source_dir();
  const std::string rec = src + "/cuda_tracer/recordings/";
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
    const std::vector<double> pct = summary(src + "/sim/configs/h200.json", row);
    EXPECT_LT(pct[0], pct[2]) << row;  // mean: profiled model < no profiles
    EXPECT_LT(pct[2], pct[4]) << row;  // no profiles < slots
  }
}

// Recording lines as the torch harness writes them: an op's shape (one kernel), its time alone, a pair.
nlohmann::json torch_shape(const std::string& op, uint32_t grid, uint32_t threads, int regs, double us) {
  return {{"probe", "sm_share_torch"},
          {"op", op},
          {"mode", "shape"},
          {"dram_bytes", 0},
          {"kernels",
           {{{"name", "k"},
             {"grid", {grid, 1, 1}},
             {"block", {threads, 1, 1}},
             {"regs", regs},
             {"smem", 0},
             {"us", us}}}}};
}
nlohmann::json torch_alone(const std::string& op, uint32_t sms, double ms) {
  return {{"probe", "sm_share_torch"}, {"op", op}, {"mode", "alone"}, {"sms", sms}, {"ms", {{"median", ms}}}};
}

// Runs `uvmsim sm-sharing` on these recording lines under the config and returns the cells of the report's
// case row that starts with `prefix` (empty if there is none).
std::vector<std::string> report_row(const std::string& name, const std::vector<nlohmann::json>& lines,
                                    const std::string& config, const std::string& prefix) {
  const std::string rec = ::testing::TempDir() + "/" + name + ".jsonl";
  const std::string report = ::testing::TempDir() + "/" + name + ".md";
  {
    std::ofstream out(rec);
    for (const nlohmann::json& l : lines) out << l.dump() << "\n";
  }
  const testing::Result r =
      testing::sh("sm-sharing --recording " + rec + " --config " + config + " --report " + report);
  EXPECT_EQ(r.status, 0) << r.output;
  std::ifstream in(report);
  std::vector<std::string> cells;  // | case | group | SMs | cap | stream | half | measured | simulated | ...
  for (std::string row; std::getline(in, row);)
    if (row.rfind(prefix, 0) == 0)
      for (size_t a = 0, b; (b = row.find('|', a + 1)) != std::string::npos; a = b)
        cells.push_back(row.substr(a + 2, b - a - 3));
  return cells;
}

// The simulated span of the short op of a torch pair: a long op (16 CTAs per SM of the whole GPU, 100 us)
// on the first stream and a short one (one wave, 10 us) on the second, every CTA alike (waves end
// together, the issue slots shared equally); `second_start_ms`, where given, is when the recording
// says the host started the second stream.
double short_op_span(const std::string& name, const std::optional<double>& second_start_ms) {
  nlohmann::json cfg = nlohmann::json::parse(std::ifstream(testing::source_dir() + "/sim/configs/h200.json"));
  cfg["gpu"]["cta_time_variance_ns"] = 0;
  cfg["gpu"]["issue_by_age"] = 0;
  const std::string config = ::testing::TempDir() + "/" + name + ".json";
  std::ofstream(config) << cfg.dump(1);
  nlohmann::json pair = {{"probe", "sm_share_torch"},
                         {"op", "long+short"},
                         {"mode", "pair"},
                         {"sms", 132},
                         {"first_ms", {{"median", 0.135}}},
                         {"second_ms", {{"median", 0.040}}}};
  if (second_start_ms) pair["second_start_ms"] = {{"median", *second_start_ms}};
  const std::vector<std::string> row =
      report_row(name,
                 {torch_shape("long", 132 * 16, 256, 16, 100), torch_shape("short", 132, 256, 16, 10),
                  torch_alone("long", 132, 0.130), torch_alone("short", 132, 0.020), pair},
                 config, "| long+short | torch op pair | 132 | 0 | short |");
  EXPECT_EQ(row.size(), 11u);
  return row.size() == 11 ? std::stod(row[7]) : 0;
}

// A torch pair is timed from each stream's start event, and the host records the second stream's only once
// it has launched the first stream's op: that op's launch gaps as its whole-GPU run shows them (130 us
// measured against about 101.5 simulated). The short op, whose CTAs find no room beside the long one's
// eight per SM, then waits for the long one's last wave to end (at about 103 us) from 28.5 us, not from 0:
// its span, with its own 8.5 us of gaps, is about 91 us (120 us were it timed from the first launch).
TEST(SmShare, ATorchPairsSecondStreamStartsWhenTheHostHasLaunchedTheFirst) {
  const double simulated = short_op_span("torch_pair", std::nullopt);
  EXPECT_GT(simulated, 0.085);
  EXPECT_LT(simulated, 0.098);
}

// Where the recording says when the host started the second stream (its start event, second_start_ms from
// the first stream's: on the H200 about 50 us, the host's Python launching the first op), the pair is
// simulated from there: the short op above, started at 60 us, waits for the long one's last wave and runs
// its own kernel and gaps, ending at about 120 us: a span of about 60 us, where the launch-gap bound
// gives 91.
TEST(SmShare, ATorchPairsSecondStreamStartsWhereTheRecordingSays) {
  const double simulated = short_op_span("torch_pair_start", 0.060);
  EXPECT_GT(simulated, 0.053);
  EXPECT_LT(simulated, 0.066);
}

// A torch op named like a layer kernel (the probe's relu and PyTorch's) keeps its own cases: neither's
// times are mixed into the other's (each case here shows its own measured time, and the kernel's whole-GPU
// time is its own 0.035 ms, not a median of both recordings' runs).
TEST(SmShare, ATorchOpNamedLikeAKernelKeepsItsOwnCases) {
  const auto kernel = [](uint32_t sms, double ms) -> nlohmann::json {
    return {
        {"probe", "sm_share"}, {"kernel", "relu"}, {"mode", "alone"},       {"grid", 25088}, {"threads", 256},
        {"regs", 16},          {"static_smem", 0}, {"dram_bytes", 0},       {"sms", sms},    {"cap", 0},
        {"ctas_per_sm", 8},    {"smem_pad", 0},    {"ms", {{"median", ms}}}};
  };
  const std::vector<nlohmann::json> lines = {
      kernel(132, 0.035), kernel(8, 0.394), torch_shape("relu", 6272, 128, 28, 12.0),
      torch_alone("relu", 132, 0.0239), torch_alone("relu", 8, 0.0804)};
  const std::string config = testing::source_dir() + "/sim/configs/h200.json";
  const std::vector<std::string> kernel_row =
      report_row("same_name", lines, config, "| relu | kernel | 8 | 0 |");
  const std::vector<std::string> op_row =
      report_row("same_name", lines, config, "| relu | torch op | 8 | 0 |");
  ASSERT_EQ(kernel_row.size(), 11u);
  ASSERT_EQ(op_row.size(), 11u);
  EXPECT_EQ(kernel_row[6], "0.3940");
  EXPECT_EQ(op_row[6], "0.0804");
}

// The DRAM's saturation exponent is taken from the GPU's memory curve, not from the kernels: on the H200's
// curve --fit takes 3 (of 0 and 1 to 8 in quarters), and the report gives the curve's error at each whole
// exponent. A curve file without the probe's lines is one error naming it.
TEST(SmShare, TheFitTakesTheDramExponentFromTheMemoryCurve) {
  const std::string src = testing::source_dir();
  const std::string rec = src + "/cuda_tracer/recordings/";
  // One tiny case, so that the fit of the loads has little to simulate.
  const std::string one = ::testing::TempDir() + "/curve_case.jsonl";
  std::ofstream(one) << nlohmann::json(torch_shape("k", 132, 256, 16, 10)).dump() << "\n"
                     << nlohmann::json(torch_alone("k", 132, 0.02)).dump() << "\n";
  const std::string out = ::testing::TempDir() + "/curve_fit.json";
  const testing::Result r = testing::sh("sm-sharing --recording " + one + " --memory-curve " + rec +
                                        "mem_latency_h200.jsonl --config " + src +
                                        "/sim/configs/h200.json --fit --iterations 2 --out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("| 3 (the config's) | 84 | 9.8% |"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("| 0 | 84 | 11.2% |"), std::string::npos) << r.output;
  EXPECT_EQ(nlohmann::json::parse(std::ifstream(out))["gpu"]["dram_saturation_exponent"], 3.0);

  const testing::Result bad = testing::sh("sm-sharing --recording " + one + " --memory-curve " + one +
                                          " --config " + src + "/sim/configs/h200.json");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find(one + ": no mem_latency_probe lines"), std::string::npos) << bad.output;
}

TEST(SmShare, ABadRecordingIsOneErrorNamingTheFile) {
  const testing::Result r = testing::sh("sm-sharing --recording /nonexistent.jsonl --config " +
                                        testing::source_dir() + "/sim/configs/h200.json");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("/nonexistent.jsonl"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace uvmsim
