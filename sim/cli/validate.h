// Validation of the simulator against a recorded trace (`uvmsim validate`): the trace is simulated under
// the recording's GPU and driver parameters (its header) and compared with what the H100 did: kernel
// times under demand paging (timing pass), each kernel's paging overhead (demand-paging time minus its
// resident time), bytes migrated where the counter pass recorded a stream completely, the prefetcher's
// share of fault-driven HtoD bytes, CPU faults; and where the recording has events passes (the driver's own
// events, traces/driver_batches.h), the fault batches: their count, fault entries (every instance the driver
// fetched) and distinct pages per batch, VA blocks per batch and a batch's duration (its replay minus its
// earliest entry's arrival), per trace and per kernel. Quantities a recording cannot support are listed as
// skipped with the reason, never scored.
#pragma once

#include <cmath>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/config/config.h"
#include "sim/workload/workload.h"

namespace uvmsim {

// A stream is complete when its records hold at least this share of the page moves the trace implies
// (traces/coverage.h: recorded bytes alone can be padded by prefetched pages no one touched).
constexpr double kCompleteShare = 0.98;
// Kernels whose observed paging overhead is below this are not scored one by one (their overhead is
// within the run-to-run noise of their resident time); they stay in the sums.
constexpr int64_t kKernelOverheadFloorNs = 20000;

struct Quantity {
  std::string key;    // stable name: e2e_ms, kernel_ms, paging_overhead_ms, htod_mib, dtoh_mib, ...
  std::string label;  // for the table
  std::string unit;   // ms, MiB, %, count
  bool scored = false;
  std::string skipped;  // why not, when not scored
  double observed = 0, simulated = 0;
  // Where the recording ran the program several times (its events passes), `observed` is the median run's
  // and these the least and the most of the runs; NaN otherwise.
  double observed_min = std::nan(""), observed_max = std::nan("");
  bool points = false;  // error in points (shares) rather than relative
  // Observed 0: a relative error is undefined, so the error is absolute (in the quantity's unit).
  bool absolute() const { return !points && observed == 0; }
  double error() const;  // (simulated - observed) / observed; simulated - observed for points or absolute
};

struct KernelValidation {
  uint64_t index = 0;
  std::string name;
  int64_t resident_ns = 0, observed_ns = 0, simulated_ns = 0;
  int64_t observed_overhead_ns() const { return observed_ns - resident_ns; }
  int64_t simulated_overhead_ns() const { return simulated_ns - resident_ns; }
  bool scored = false;  // observed overhead at least kKernelOverheadFloorNs
  // Fault batches whose entries came mostly from this kernel: the driver's (median over the recording's
  // events runs; -1 without them) and the simulator's, with their median fault entries per batch.
  double observed_batches = -1, simulated_batches = 0;
  double observed_entries_median = 0, simulated_entries_median = 0;
};

struct Validation {
  std::string trace, trace_hash;
  std::vector<std::string> applied;  // recording_settings of the trace (what with_recording applies)
  std::vector<Quantity> quantities;
  std::vector<KernelValidation> kernels;
  // Per-kernel paging overhead over the scored kernels: mean and worst |relative error|.
  uint64_t kernels_scored = 0;
  double kernel_overhead_mean_error = 0, kernel_overhead_worst_error = 0;
  uint64_t scored() const;
  uint64_t skipped() const;
};

// The settings `validate` takes from a recorded trace's header (GPU limits, driver module parameters),
// as "key=value" overrides.
std::vector<std::string> recording_settings(const trace::Trace& t);
// `c` with those settings applied.
Config with_recording(Config c, const trace::Trace& t);
// The config of the GPU a trace was recorded on (sim/configs/h200.json for an H200, h100.json for an H100,
// compiled in), and its name in `name`; the built-in defaults ("defaults") for any other.
Config recording_gpu_config(const trace::Trace& t, std::string* name);

// Throws std::invalid_argument when the trace holds no observation (a generated trace, or a recording
// without its timing pass). `batch_log`, if given, gets the simulated batches as `uvmsim run --batch-log`
// writes them.
Validation validate(const Workload& w, const Config& c, const std::string& trace_name,
                    std::ostream* batch_log = nullptr);

nlohmann::json validation_json(const Validation& v);
void print_validation(const Validation& v, std::ostream& os);

}  // namespace uvmsim
