// Calibration to measured micro-workload timings and recorded traces: one parameter set for every row,
// fitted by minimising the weighted squared log error of the simulated against the measured values
// (Nelder-Mead in log space over the driver's cost parameters). Also reports each row's error when that
// row is left out of the fit.
#pragma once

#include <string>
#include <vector>

#include "sim/config/config.h"
#include "workloads/micro.h"

namespace uvmsim {

struct CalibrateArgs {
  std::string measurements, config, out, report;
  int iterations = 300;
  int jobs = 2;
  // Structural choices searched exhaustively, each "key=v1,v2,..."; the continuous fit runs per point.
  std::vector<std::string> grid;
  // Calibrated keys kept at the starting config's value: costs measured directly (scripts/driver_costs.py).
  std::vector<std::string> hold;
  bool leave_one_out = false;
  // Recorded traces fitted too: each gives a row for its summed paging overhead and one for its prefetch
  // share, where `uvmsim validate` scores them (simulated under the recording's parameters).
  std::vector<std::string> traces;
  // The check set (traces/corpus/split.json): a listed trace is refused. Empty: the split.json found in a
  // trace's folder or the two above it.
  std::string split;
};

struct MeasuredRow {
  std::string name;
  MicroSpec micro;  // the micro-workload measured: the row's settings by set_micro_setting's names, and its
                    // kernels' resident duration ("resident_ms", measured beside the row; else 0, which is
                    // micro_resident_ns())
  std::string measure;  // first_touch | resident | prefetch | touch_back (ms) | prefetch_share (%)
  double value = 0;
  std::string unit = "ms";
  double rel_tolerance = 0;  // > 0: within this fraction
  double abs_tolerance = 0;  // > 0: within this much, in the row's unit
  bool fit = true;           // used in the fit (resident rows only checked)
  std::string trace;         // a recorded trace: measure is a `uvmsim validate` quantity key
  double weight = 1;         // of the row's squared log error in the loss (JSON "weight", default 1)
};
// A recorded trace is one cold run; the measurement table's rows are medians of 5: a trace row weighs 1/5.
constexpr double kTraceRowWeight = 0.2;

std::vector<MeasuredRow> load_measurements(const std::string& path);
// The rows of a recorded trace: its scored paging overhead (ms) and prefetch share (%) and, where it holds
// the driver's events, its fault batches and median fault entries per batch.
std::vector<MeasuredRow> trace_rows(const std::string& path);
// Simulated value of every row under `c`, in ms.
std::vector<double> simulate_rows(const std::vector<MeasuredRow>& rows, const Config& c, int jobs = 1);
// The parameters the fit moves (config keys).
std::vector<std::string> calibrated_keys();
int run_calibrate(const CalibrateArgs& a);

}  // namespace uvmsim
