// How CTAs sharing an SM slow each other (sim/MODEL.md, "SMs shared by their CTAs"). Each running CTA
// puts an issue load and a memory load on its SM (from its kernel's profile where one was taken, Demand;
// else the same for every kernel at its occupancy); an SM delivers a soft-saturating share of each, and the
// GPU's DRAM bandwidth bounds what all SMs draw together. A CTA's speed is its progress rate relative to
// the kernel's reference: its whole-GPU resident run, which the trace times. A warp's own cycle (what it
// takes per instruction without waiting for other warps to issue) splits into a memory part (profiled: the
// share its warps wait on memory; else its DRAM bytes at its share of bandwidth, at most all of it), slowed
// by memory contention, and the rest; the SM's issue slots then bound all its warps together, so a CTA's
// time per instruction is the soft maximum of its own cycle and its SM's issue load, sqrt(own^2 + L^2):
// while an SM is issue-bound, its warps' memory waits are hidden behind others' issue. Loads pass the SM's
// L1 data pipe, which all its CTAs share (Demand::pipe): the more its load, the longer the memory part. So
// the model is
// given only each kernel's resident time,
// launch shape, DRAM bytes and, where taken, a profile of that run; fewer SMs, a CTA limit per SM and
// co-running kernels are predictions.
//
// Loads are fixed-point sums (kLoadOne = 1.0), so adding and removing CTAs in any order gives the same sum.
#pragma once

#include <cstdint>
#include <vector>

#include "sim/config/config.h"
#include "sim/workload/workload.h"
#include "traces/trace.h"

namespace uvmsim {

class SmShare {
 public:
  static constexpr uint64_t kLoadOne = uint64_t{1} << 24;

  struct Kernel {
    uint64_t issue = 0;      // a CTA's issue load: Demand::issue, else gpu.full_sm_issue_load / (CTAs per SM)
    uint64_t memory = 0;     // a CTA's memory load: Demand::memory, else gpu.full_sm_memory_load / (same)
    uint64_t memory_cost = 0;  // memory * the DRAM cost of a byte of its traffic (>= 1: see Demand)
    uint64_t pipe = 0;         // a CTA's load on its SM's L1 data pipe: Demand::pipe, else 0 (not measured)
    double issue_ref = 1;      // sqrt(1 + L^2 + P^2) at the reference composition
    double memory_ref = 1;   // sqrt(1 + M^2) at the reference composition, divided by its DRAM factor
    double memory_part = 0;  // share of the reference time spent on DRAM traffic, in [0, 1]
    int64_t cta_ns = 0;      // a CTA's duration at the reference composition
  };

  // A CTA's loads as its kernel's profile gives them. A warp alone issues once every `own` cycles: the
  // cycles per issued instruction of the resident run (warps / issue share) less those it waited only for
  // other warps (not selected, a busy pipe, dispatch). So a CTA of w warps, w / 4 on each sub-partition,
  // takes issue = (w / 4) / own of its SM's issue slots. Its warps wait on memory for memory_part =
  // memory stalls / own of their time: the part of its time that memory contention slows.
  // Its memory load is the bytes it keeps in flight, in units of what an SM keeps in flight at its
  // bandwidth and the idle latency (gpu.sm_dram_bytes_per_s * gpu.dram_latency_ns; the SM then draws
  // load / sqrt(1 + load^2) of its bandwidth). A waiting warp has the loads it issued since it last
  // waited in flight (KernelProfile::loads_in_flight, from its SASS: 1 in a load-use loop, 4 in PyTorch's
  // vectorised add, which loads two float4s of each input before adding), each with one load's DRAM
  // traffic: the kernel's DRAM bytes over its global loads (loads that hit in the caches move less). So a
  // CTA keeps w * memory_part * loads in flight * bytes per load in flight (Little's law: a copy whose
  // warps each move 1 KiB per load and always wait keeps 8 KiB per CTA in flight; an element-wise kernel
  // whose warps wait on one 128-byte load half of their time, little). Without load counts, the load is
  // gpu.full_sm_memory_load for a full SM of warps waiting on memory, scaled to its w * memory_part.
  // threads_per_sm: of the GPU the profile was taken on (the trace's header, like the reference).
  // The SM's L1 data pipe (its load/store unit: global, local and shared memory wavefronts) is a third
  // resource its CTAs share: a CTA asking `issue` of the issue slots asks pipe = issue * l1_wavefronts /
  // issue_active of the pipe's peak (the wavefronts its instructions took in the resident run, per issued
  // instruction). Like the issue slots it bounds the SM's warps together, so a CTA's time per instruction
  // is sqrt(own^2 + L^2 + P^2); it is shared by all alike, not oldest first. A GEMV beside an implicit-GEMM
  // convolution (60% and 67% of the pipe each) slows though it is older and the slots favour it.
  struct Demand {
    double issue = 0, memory = 0, memory_part = 0, pipe = 0;
    bool in_flight = false;  // memory counts bytes in flight (the profile counted loads)
  };
  static Demand demand(const KernelProfile& p, uint32_t threads, uint32_t threads_per_sm, uint64_t dram_bytes,
                       const GpuConfig& g);
  // dram_bytes: per kernel, its DRAM traffic (0: unknown, never memory-bound); profiles: per kernel, its
  // profile where one was taken (missing or unknown: every kernel alike at its occupancy).
  // With gpu.issue_by_age a kernel's last wave takes longer by age_stretch, which the CTAs' reference
  // duration counts on, so a kernel still takes its resident time on its recording GPU.
  SmShare(const trace::Trace& t, const std::vector<uint64_t>& dram_bytes,
          const std::vector<KernelProfile>& profiles, const GpuConfig& g);
  // The memory side alone, without kernels (the memory curve: uniform_draw).
  explicit SmShare(const GpuConfig& g);
  const Kernel& kernel(uint32_t k) const { return kernels_[k]; }
  // Speed of a CTA of kernel k on an SM whose running CTAs sum to these loads, with the GPU's DRAM factor.
  double speed(uint32_t k, uint64_t issue_load, uint64_t memory_load, double dram_factor,
               uint64_t pipe_load = 0) const;
  // Bytes per ns an SM with this memory load draws.
  double sm_draw(uint64_t memory_load) const;
  // Bytes per ns of DRAM capacity an SM with these loads takes: its draw, each byte weighted by its
  // kernel's DRAM cost (Kernel::memory_cost over Kernel::memory).
  double sm_cost(uint64_t memory_load, uint64_t memory_cost) const;
  // The GPU's DRAM factor when the SMs take this many bytes per ns of its capacity in all: what they get
  // over what they want, (1 + x^p)^(-1/p) at x times the capacity (gpu.dram_saturation_exponent p; with 0
  // a hard ceiling, 1 below it).
  double dram_factor(double draw) const;
  // Bytes per ns the DRAM delivers to `sms` SMs that each keep this many bytes in flight (a microbenchmark
  // whose warps only load: cuda_tracer/mem_latency.sh).
  double uniform_draw(double in_flight_per_sm, uint32_t sms) const;
  // Issue slots oldest first (gpu.issue_by_age): an SM delivers U(L) = L / sqrt(1 + L^2) of its slots to a
  // load L; a CTA of issue load `own` whose older CTAs on the SM sum to `older` gets U(older + own) -
  // U(older) of them, a share s of what it asks, and runs as it would with equal shares at the load L with
  // U(L) / L = s. Returns that L.
  static double age_load(double older, double own);
  // One wave of m CTAs of issue load l started together on an SM, oldest first: its time over its time
  // with equal shares (more than 1: its last CTAs run with few others, at a lower U).
  static double age_stretch(double l, uint64_t m);

 private:
  double sm_bytes_per_ns_, dram_bytes_per_ns_, sm_in_flight_, saturation_;
  std::vector<Kernel> kernels_;
};

}  // namespace uvmsim
