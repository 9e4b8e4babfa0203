#include "sim/cli/run.h"

#include "sim/version.h"

namespace uvmsim {

RunResult simulate(const Workload& w, const Config& c, bool check, std::ostream* batch_log,
                   ProgressReporter* progress, std::vector<BatchRecord>* batches, Timeline* timeline) {
  Simulator sim(w, c);
  if (batch_log)
    *batch_log
        << "# time_ns faults unique_pages va_blocks bytes duration_ns utlbs kernel low_page high_page\n";
  sim.set_batch_log(batch_log);
  sim.set_batch_records(batches);
  if (timeline) sim.set_timeline(timeline);
  sim.set_progress(progress);
  sim.run();
  RunResult r{sim.stats(), {}};
  if (check) {
    r.audit = sim.audit();
    if (!r.audit.empty()) {
      std::string msg = "conservation audit failed:";
      for (auto& a : r.audit) msg += "\n  " + a;
      throw SimError(msg);
    }
  }
  return r;
}

nlohmann::json result_json(const Workload& w, const Config& c, const Stats& s) {
  nlohmann::json j;
  j["program"] = {{"name", "uvmsim"}, {"version", kVersion}};
  j["calibrated"] = c.calibrated;  // false: a config from public specifications (sim/configs/README.md)
  j["trace"] = {{"hash", w.hash},
                {"producer", trace::to_string(w.trace.header.producer)},
                {"command", w.trace.header.command}};
  j["config"] = to_json(c);
  j["stats"] = stats_to_json(s);
  return j;
}

}  // namespace uvmsim
