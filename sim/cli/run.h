// Running one simulation and writing its results: stats.json (resolved config, trace hash, program
// version, statistics) and config.json, written atomically so that a partial result never looks complete.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "sim/config/config.h"
#include "sim/simulator.h"
#include "sim/stats/timeline.h"
#include "sim/workload/workload.h"

namespace uvmsim {

struct RunResult {
  Stats stats;
  std::vector<std::string> audit;  // empty: the conservation audit passed (or was not asked for)
};

// Simulates; with `check`, runs the audit at the end and throws SimError naming every problem.
// A `progress` reporter, if given, shows the run moving on a terminal.
// `batch_log`, if given, gets a header line and one line per fault batch (README, `uvmsim run --batch-log`);
// `batches`, if given, receives every fault batch (validation).
// `timeline`, if given, records the run (sim/stats/timeline.h; not with `batches`).
RunResult simulate(const Workload& w, const Config& c, bool check, std::ostream* batch_log = nullptr,
                   ProgressReporter* progress = nullptr, std::vector<BatchRecord>* batches = nullptr,
                   Timeline* timeline = nullptr);
nlohmann::json result_json(const Workload& w, const Config& c, const Stats& s);

}  // namespace uvmsim
