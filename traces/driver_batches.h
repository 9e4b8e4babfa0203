// The fault batches a recording's driver events show (DRVE, traces/FORMAT.md): per run of the program, the
// batches the driver serviced, each with the fault entries it reported (every instance, duplicates
// included), the distinct pages and 2 MiB VA blocks they name, the uTLBs they came from, and its duration:
// its replay's GPU time minus its earliest entry's GPU time (the entries' CPU times are when the driver
// serviced them, not when they arrived). Validation compares these with the simulator's batches.
#pragma once

#include <cstdint>
#include <vector>

#include "traces/trace.h"

namespace uvmsim::trace {

struct DriverBatch {
  uint32_t id = 0;            // the driver's batch id
  uint32_t kernel = kNoKernel;  // the kernel most of its entries were taken under
  uint64_t entries = 0, pages = 0, blocks = 0;
  uint64_t utlbs = 0;  // distinct (GPC, MMU client) pairs its entries came from: the uTLBs that faulted
  int64_t first_gpu_ns = 0;
  int64_t replay_gpu_ns = -1;  // -1: no replay event (the run lost it)
  int64_t duration_ns() const { return replay_gpu_ns >= 0 ? replay_gpu_ns - first_gpu_ns : -1; }
};

struct DriverRunBatches {
  std::vector<DriverBatch> batches;  // in the order the driver numbered them
  bool entries_complete = true;      // the driver dropped no fault entry
  bool replays_complete = true;      // and no replay
};

// Per run of the trace (Trace::driver_runs), its batches.
std::vector<DriverRunBatches> driver_batches(const Trace& t);

// The q-quantile (0..1) of a sample, by the nearest rank below (of two, the median is the lower); 0 for
// none.
double quantile(std::vector<double> v, double q);

}  // namespace uvmsim::trace
