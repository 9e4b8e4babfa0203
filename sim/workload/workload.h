// A trace prepared for simulation, once, and shared read-only by every configuration that replays it:
// virtual pages translated to a dense page space (allocations of one process and kind that share a 2 MiB
// block share its VA block at their real offsets, as the driver's do; every other allocation starts its own
// 2 MiB VA blocks at its offset within a block), each CTA's accesses as time-ordered points.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "traces/coverage.h"
#include "traces/trace.h"

namespace uvmsim {

struct DenseRange {
  uint32_t page = 0;
  uint32_t count = 0;
  uint8_t kind = 0;
};

// One moment of a CTA's run at which it touches a range of dense pages: at the range's t_begin, and again
// at its t_end when it stays in use (so that a page evicted in between faults again). The range is held in
// the point itself: the CTA's hot loop reads one array in order.
struct AccessPoint {
  uint32_t page = 0;
  uint32_t count = 0;
  uint16_t t = 0;
  uint8_t kind = 0;
};

// What a profile of a kernel's whole-GPU resident run measured per SM sub-partition (a quarter of an SM;
// Nsight Compute, cuda_tracer/ncu_profile.py), for the SM-sharing model.
struct KernelProfile {
  double issue_active = 0;       // share of active cycles the sub-partition issued an instruction
  double warps_active = 0;       // warps resident on it, per active cycle
  double contention_stalls = 0;  // cycles per issued instruction a warp waited only for others to issue
  double memory_stalls = 0;      // cycles per issued instruction a warp waited on memory (loads, store drain)
  double global_loads = 0;       // warp-level global load instructions of the whole run (0: not measured)
  double loads_in_flight = 1;    // global loads a waiting warp has in flight (cuda_tracer/ncu_sass.py)
  double l1_wavefronts = 0;      // share of its SM's L1 data pipe it used, per active cycle (0: not measured)
  bool known() const { return issue_active > 0 && warps_active > 0; }
};

struct Workload {
  trace::Trace trace;
  std::string hash;
  uint32_t pages = 0;   // dense pages, padding included
  uint32_t blocks = 0;  // 2 MiB VA blocks
  uint32_t processes = 1;
  std::vector<uint8_t> page_valid;    // 1: the page belongs to an allocation
  std::vector<uint32_t> alloc_first;  // dense page of each allocation's first page
  std::vector<uint32_t> alloc_pages;
  // Every CTA's points, built once per stored CTA: launches of a kernel's template share them. The trace's
  // own CTAs and ranges are released once these are built (`trace` keeps everything else).
  std::vector<AccessPoint> points;
  std::vector<uint64_t> cta_points;     // CTA i's points: [cta_points[i], cta_points[i+1])
  std::vector<DenseRange> op_pages;     // pages an op covers (host access, prefetch, advise, memset)
  // Per kernel, its DRAM traffic in a resident run as the trace shows it: the distinct pages its CTAs
  // touch (each read or written once; what the caches absorb is not known). The SM-sharing model's
  // memory side (sim/gpu/sm_share.h).
  std::vector<uint64_t> kernel_dram_bytes;
  // Per kernel, the pages its CTAs touch: footprint_runs[kernel_runs[k].first, kernel_runs[k].second), runs
  // [first, last] of dense pages in order (launches of a template share its runs). The gpu's resident-kernel
  // shortcut checks them (engine.resident_shortcut).
  std::vector<std::pair<uint32_t, uint32_t>> footprint_runs;
  std::vector<std::pair<uint64_t, uint64_t>> kernel_runs;
  // Per kernel, what a profile of its resident run measured, where one was taken (empty or not known():
  // every kernel loads an SM alike at its occupancy; sim/gpu/sm_share.h).
  std::vector<KernelProfile> kernel_profile;
  uint64_t footprint_pages = 0;         // distinct pages touched by kernels and host ops
  uint64_t footprint_blocks = 0;        // 2 MiB VA blocks holding such a page: the chunks that hold it all
  // How complete the recorded counter streams are (validation), computed while the trace's accesses are
  // still held; empty when the trace records no completeness.
  trace::CounterCoverage counter_coverage;

  // Allocations may span at most this many dense pages (1 TiB): the page state costs a few bytes a page.
  static constexpr uint64_t kMaxPages = uint64_t{1} << 28;
  static Workload build(trace::Trace t, std::string hash);
  // Reads a .uvmt file (trace_io's checks and errors) and builds it, hashed by its content.
  static Workload load(const std::string& path);
};

// CTAs of a kernel one SM holds at once under the given limits (at least 1).
uint32_t ctas_per_sm(const trace::Kernel& k, uint32_t max_threads, uint32_t max_ctas, uint32_t regs,
                     uint32_t smem);

}  // namespace uvmsim
