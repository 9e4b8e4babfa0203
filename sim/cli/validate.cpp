#include "sim/cli/validate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <ostream>
#include <stdexcept>

#include "sim/cli/run.h"
#include "sim/config/embedded_configs.h"
#include "sim/stats/stats.h"
#include "traces/coverage.h"
#include "traces/driver_batches.h"

namespace uvmsim {

using trace::ObservedKind;
using trace::TransferCause;

double Quantity::error() const {
  if (points || absolute()) return simulated - observed;
  return (simulated - observed) / observed;
}

uint64_t Validation::scored() const {
  uint64_t n = 0;
  for (const Quantity& q : quantities) n += q.scored;
  return n;
}

uint64_t Validation::skipped() const { return quantities.size() - scored(); }

std::vector<std::string> recording_settings(const trace::Trace& t) {
  const trace::Header& h = t.header;
  std::vector<std::string> s;
  auto set = [&](const std::string& key, int64_t v) { s.push_back(key + "=" + std::to_string(v)); };
  if (h.sm_count) set("gpu.sm_count", h.sm_count);
  if (h.device_memory_bytes) set("gpu.memory_bytes", int64_t(h.device_memory_bytes));
  set("gpu.max_threads_per_sm", h.max_threads_per_sm);
  set("gpu.max_ctas_per_sm", h.max_ctas_per_sm);
  set("gpu.regs_per_sm", h.regs_per_sm);
  set("gpu.smem_per_sm_bytes", h.smem_per_sm_bytes);
  // The driver's module parameters that the model has a key for (uvm-driver.md names them).
  static const std::map<std::string, std::string> keys = {
      {"uvm_perf_fault_batch_count", "driver.fault_batch_count"},
      {"uvm_perf_fault_replay_update_put_ratio", "driver.fault_replay_update_put_ratio"},
      {"uvm_perf_fault_max_batches_per_service", "driver.fault_max_batches_per_service"},
      {"uvm_perf_fault_max_throttle_per_service", "driver.fault_max_throttle_per_service"},
      {"uvm_perf_fault_coalesce", "driver.fault_coalesce"},
  };
  // The prefetcher's and thrashing detection's parameters, set when the recording had them enabled (the
  // policy that replaces a disabled one has no such parameters).
  static const std::map<std::string, std::string> prefetch = {
      {"uvm_perf_prefetch_threshold", "policies.prefetch.params.threshold"},
      {"uvm_perf_prefetch_min_faults", "policies.prefetch.params.min_faults"},
  };
  static const std::map<std::string, std::string> thrashing = {
      {"uvm_perf_thrashing_threshold", "policies.thrashing.params.threshold"},
      {"uvm_perf_thrashing_pin_threshold", "policies.thrashing.params.pin_threshold"},
      {"uvm_perf_thrashing_lapse_usec", "policies.thrashing.params.lapse_usec"},
      {"uvm_perf_thrashing_nap", "policies.thrashing.params.nap"},
      {"uvm_perf_thrashing_epoch", "policies.thrashing.params.epoch"},
      {"uvm_perf_thrashing_pin", "policies.thrashing.params.pin"},
      {"uvm_perf_thrashing_max_resets", "policies.thrashing.params.max_resets"},
  };
  auto enabled = [&](const char* param) {
    auto it = std::find_if(h.driver_params.begin(), h.driver_params.end(),
                           [&](const auto& kv) { return kv.first == param; });
    return it == h.driver_params.end() || it->second != 0;
  };
  const bool prefetch_on = enabled("uvm_perf_prefetch_enable"),
             thrashing_on = enabled("uvm_perf_thrashing_enable");
  static const char* const kReplay[] = {"block", "batch", "batch_flush", "once"};
  for (const auto& [name, value] : h.driver_params) {
    if (name == "uvm_perf_prefetch_enable")
      s.push_back(std::string("policies.prefetch.name=") + (value ? "driver_tree" : "none"));
    if (name == "uvm_perf_thrashing_enable")
      s.push_back(std::string("policies.thrashing.name=") + (value ? "driver" : "none"));
    if (name == "uvm_perf_fault_replay_policy" && value >= 0 && value <= 3)
      s.push_back(std::string("policies.replay.name=") + kReplay[value]);
  }
  for (const auto& [name, value] : h.driver_params) {
    if (auto it = keys.find(name); it != keys.end()) set(it->second, value);
    if (auto it = prefetch.find(name); it != prefetch.end() && prefetch_on) set(it->second, value);
    if (auto it = thrashing.find(name); it != thrashing.end() && thrashing_on) set(it->second, value);
  }
  return s;
}

Config recording_gpu_config(const trace::Trace& t, std::string* name) {
  const std::string& gpu = t.header.device_name;
  const char* want = gpu.find("H200") != std::string::npos   ? "h200"
                     : gpu.find("H100") != std::string::npos ? "h100"
                                                             : nullptr;
  Config c;
  *name = "defaults";
  for (const EmbeddedConfig& e : embedded_configs())
    if (want && std::string(e.name) == want) {
      apply_json(c, nlohmann::json::parse(e.json), std::string("sim/configs/") + e.name + ".json");
      check_config(c);
      *name = std::string("sim/configs/") + e.name + ".json (compiled in: the trace's GPU, " + gpu + ")";
    }
  return c;
}

Config with_recording(Config c, const trace::Trace& t) {
  for (const std::string& s : recording_settings(t)) apply_override(c, s);
  return c;
}

namespace {

// The share of a counter stream's expected page moves that its records hold (trace/coverage.h), or a
// negative value when the trace has no counter pass or expects no moves of the stream.
double completeness(const trace::Trace& t, const trace::CounterCoverage& coverage, ObservedKind stream) {
  for (const trace::Completeness& c : t.completeness)
    if (c.stream == stream) return coverage.of(stream).share();
  return -1.0;
}

std::string percent(double share) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f%%", 100 * share);
  return b;
}

// A figure of each run of a sample (each run's batches): the median run's, and the least and the most.
struct Spread {
  double median = 0, lo = 0, hi = 0;
};
Spread spread(std::vector<double> per_run) {
  if (per_run.empty()) return {};
  std::sort(per_run.begin(), per_run.end());
  return {trace::quantile(per_run, 0.5), per_run.front(), per_run.back()};
}

// The fault batches against the driver's (the trace's events runs), per trace and per kernel.
void add_batch_quantities(const trace::Trace& t, const std::vector<BatchRecord>& sim, Validation& v) {
  const std::vector<trace::DriverRunBatches> runs = trace::driver_batches(t);
  if (runs.empty()) return;
  bool entries_complete = true, replays_complete = true;
  for (const auto& r : runs) entries_complete &= r.entries_complete, replays_complete &= r.replays_complete;
  // Per run: a figure of its batches (those of kernel `k`, or all of them with kAll, which no kernel index
  // nor trace::kNoKernel equals).
  const uint32_t kAll = UINT32_MAX - 1;
  auto of_runs = [&](uint32_t k, auto figure) {
    std::vector<double> per_run;
    for (const auto& r : runs) {
      std::vector<const trace::DriverBatch*> bs;
      for (const auto& b : r.batches)
        if (k == kAll || b.kernel == k) bs.push_back(&b);
      per_run.push_back(figure(bs));
    }
    return spread(per_run);
  };
  auto sim_of = [&](uint32_t k) {
    std::vector<const BatchRecord*> bs;
    for (const auto& b : sim)
      if (k == kAll || b.kernel == k) bs.push_back(&b);
    return bs;
  };
  auto quantile_of = [](const auto& bs, auto field, double q) {
    std::vector<double> x;
    for (const auto* b : bs) x.push_back(double(field(*b)));
    return trace::quantile(x, q);
  };
  auto total_of = [](const auto& bs, auto field) {
    double n = 0;
    for (const auto* b : bs) n += double(field(*b));
    return n;
  };
  const auto sim_all = sim_of(kAll);
  const std::string lost = entries_complete ? "" : "the driver dropped fault entries (events incomplete)";
  auto add = [&](const char* key, const char* label, const char* unit, Spread o, double simulated,
                 const std::string& skipped) {
    Quantity q;
    q.key = key, q.label = label, q.unit = unit;
    q.observed = o.median, q.observed_min = o.lo, q.observed_max = o.hi, q.simulated = simulated;
    q.skipped = skipped;
    q.scored = skipped.empty();
    v.quantities.push_back(std::move(q));
  };
  auto count = [](const auto& bs) { return double(bs.size()); };
  auto entries = [](const auto& b) { return b.entries; };
  auto pages = [](const auto& b) { return b.pages; };
  auto blocks = [](const auto& b) { return b.blocks; };
  auto utlbs = [](const auto& b) { return b.utlbs; };
  auto driver_ms = [](const trace::DriverBatch& b) { return double(b.duration_ns()) / 1e6; };
  add("batches", "fault batches (driver: median run, its events passes)", "count", of_runs(kAll, count),
      double(sim_all.size()), lost);
  // A quantile of a per-batch figure: the driver's per run against the simulator's.
  auto add_quantile = [&](const char* key, const char* label, auto field, double q) {
    add(key, label, "count", of_runs(kAll, [&](const auto& bs) { return quantile_of(bs, field, q); }),
        quantile_of(sim_all, field, q), lost);
  };
  add("entries_total", "fault entries over the run, summed (duplicates included)", "count",
      of_runs(kAll, [&](const auto& bs) { return total_of(bs, entries); }), total_of(sim_all, entries), lost);
  add_quantile("entries_per_batch_p50", "fault entries per batch, median (duplicates included)", entries,
               0.5);
  add_quantile("entries_per_batch_p90", "fault entries per batch, p90", entries, 0.9);
  add_quantile("pages_per_batch_p50", "distinct pages per batch, median", pages, 0.5);
  add_quantile("blocks_per_batch_p50", "2 MiB VA blocks per batch, median", blocks, 0.5);
  add_quantile("utlbs_per_batch_p50", "uTLBs with an entry per batch, median", utlbs, 0.5);
  std::vector<double> sim_ms;
  for (const auto* b : sim_all)
    if (b->replay_ns >= 0) sim_ms.push_back(double(b->replay_ns - b->first_arrival_ns) / 1e6);
  add("batch_ms_p50", "batch duration, median (replay minus earliest entry's arrival)", "ms",
      of_runs(kAll,
              [&](const auto& bs) {
                std::vector<double> x;
                for (const auto* b : bs)
                  if (b->duration_ns() >= 0) x.push_back(driver_ms(*b));
                return trace::quantile(x, 0.5);
              }),
      trace::quantile(sim_ms, 0.5),
      !lost.empty()      ? lost
      : replays_complete ? ""
                         : "the driver dropped replays");
  for (KernelValidation& kv : v.kernels) {
    const uint32_t k = uint32_t(kv.index);
    kv.observed_batches = of_runs(k, count).median;
    kv.observed_entries_median =
        of_runs(k, [&](const auto& bs) { return quantile_of(bs, entries, 0.5); }).median;
    const auto mine = sim_of(k);
    kv.simulated_batches = double(mine.size());
    kv.simulated_entries_median = quantile_of(mine, entries, 0.5);
  }
}

}  // namespace

Validation validate(const Workload& w, const Config& c, const std::string& trace_name,
                    std::ostream* batch_log) {
  const trace::Trace& t = w.trace;
  Validation v;
  v.trace = trace_name;
  v.trace_hash = w.hash;
  v.applied = recording_settings(t);
  std::vector<int64_t> obs_start(t.kernels.size(), -1), obs_end(t.kernels.size(), -1);
  uint64_t htod = 0, htod_fault = 0, htod_prefetch = 0, dtoh = 0, cpu_faults = 0;
  std::vector<std::pair<int64_t, int64_t>> htod_copies;  // data phase of each HtoD record
  for (const trace::ObservedEvent& e : t.observed) {
    switch (e.kind) {
      case ObservedKind::kKernelExec:
        if (e.value < t.kernels.size()) obs_start[e.value] = e.start_ns, obs_end[e.value] = e.end_ns;
        break;
      case ObservedKind::kHtoD:
        htod += e.value;
        htod_copies.emplace_back(e.start_ns, e.end_ns);
        if (e.flags == uint8_t(TransferCause::kPrefetch) || e.flags == uint8_t(TransferCause::kCoherence))
          htod_fault += e.value;
        if (e.flags == uint8_t(TransferCause::kPrefetch)) htod_prefetch += e.value;
        break;
      case ObservedKind::kDtoH:
        dtoh += e.value;
        break;
      default:
        break;
    }
  }
  // CPU faults of touch-backs: those after the first kernel began (before it, the CPU's first touches of
  // fresh managed memory fault too, which the model costs per page but does not count as faults).
  const int64_t first_kernel = t.kernels.empty() ? 0 : *std::min_element(obs_start.begin(), obs_start.end());
  for (const trace::ObservedEvent& e : t.observed)
    if (e.kind == ObservedKind::kCpuFault && e.start_ns >= first_kernel) ++cpu_faults;
  uint64_t timed = 0;
  for (size_t k = 0; k < t.kernels.size(); ++k) timed += obs_end[k] >= obs_start[k] && obs_start[k] >= 0;
  if (t.kernels.empty() || timed < t.kernels.size())
    throw std::invalid_argument(
        trace_name + ": no observed time for " + std::to_string(t.kernels.size() - timed) + " of " +
        std::to_string(t.kernels.size()) +
        " kernels (validate needs a recording with its timing pass, not a generated trace)");

  // Groups of HtoD copies with no gap over kCopyGroupGapNs: the copies of one fault batch run back to back.
  std::sort(htod_copies.begin(), htod_copies.end());
  CopyGroups observed_copies;
  for (const auto& [start, end] : htod_copies) observed_copies.add(start, end);

  std::vector<BatchRecord> sim_batches;
  const RunResult r = simulate(w, c, false, batch_log, nullptr, &sim_batches);
  const Stats& s = r.stats;

  // Kernel times and paging overhead.
  int64_t o_first = INT64_MAX, o_last = INT64_MIN, s_first = INT64_MAX, s_last = INT64_MIN;
  double o_sum = 0, s_sum = 0, o_ovh = 0, s_ovh = 0, err_sum = 0;
  for (size_t k = 0; k < t.kernels.size(); ++k) {
    KernelValidation kv;
    kv.index = k;
    kv.name = t.kernels[k].name.substr(0, t.kernels[k].name.find('('));
    kv.resident_ns = int64_t(t.kernels[k].resident_ns);
    kv.observed_ns = obs_end[k] - obs_start[k];
    kv.simulated_ns = s.kernels[k].end_ns - s.kernels[k].start_ns;
    o_first = std::min(o_first, obs_start[k]), o_last = std::max(o_last, obs_end[k]);
    s_first = std::min(s_first, s.kernels[k].start_ns), s_last = std::max(s_last, s.kernels[k].end_ns);
    o_sum += double(kv.observed_ns), s_sum += double(kv.simulated_ns);
    o_ovh += double(kv.observed_overhead_ns()), s_ovh += double(kv.simulated_overhead_ns());
    kv.scored = kv.observed_overhead_ns() >= kKernelOverheadFloorNs;
    if (kv.scored) {
      const double e = std::abs(double(kv.simulated_overhead_ns() - kv.observed_overhead_ns())) /
                       double(kv.observed_overhead_ns());
      ++v.kernels_scored;
      err_sum += e;
      v.kernel_overhead_worst_error = std::max(v.kernel_overhead_worst_error, e);
    }
    v.kernels.push_back(std::move(kv));
  }
  if (v.kernels_scored) v.kernel_overhead_mean_error = err_sum / double(v.kernels_scored);

  auto add = [&](std::string key, std::string label, std::string unit, double obs, double sim,
                 std::string skipped, bool points = false) {
    Quantity q;
    q.key = std::move(key), q.label = std::move(label), q.unit = std::move(unit);
    q.observed = obs, q.simulated = sim, q.points = points;
    q.skipped = std::move(skipped);
    q.scored = q.skipped.empty();
    v.quantities.push_back(std::move(q));
  };
  add("e2e_ms", "end to end (first kernel start to last kernel end)", "ms", double(o_last - o_first) / 1e6,
      double(s_last - s_first) / 1e6, "");
  add("kernel_ms", "kernel time under demand paging, summed", "ms", o_sum / 1e6, s_sum / 1e6, "");
  add("paging_overhead_ms", "paging overhead (demand paging minus resident), summed", "ms", o_ovh / 1e6,
      s_ovh / 1e6, o_ovh >= 1e5 ? "" : "observed overhead under 0.1 ms");

  const trace::CounterCoverage& coverage = w.counter_coverage;
  const double ch = completeness(t, coverage, ObservedKind::kHtoD),
               cd = completeness(t, coverage, ObservedKind::kDtoH);
  auto incomplete = [&](double share, const char* stream) -> std::string {
    if (share < 0) return std::string("no ") + stream + " expected or no counter pass";
    if (share < kCompleteShare)
      return std::string(stream) + " stream incomplete (" + percent(share) +
             " of the expected page moves recorded)";
    return "";
  };
  const double mib = 1 << 20;
  const std::string htod_why = incomplete(ch, "HtoD");
  add("htod_mib", "bytes migrated HtoD", "MiB", double(htod) / mib, double(htod_bytes(s)) / mib, htod_why);
  add("dtoh_mib", "bytes migrated DtoH", "MiB", double(dtoh) / mib, double(dtoh_bytes(s)) / mib,
      incomplete(cd, "DtoH"));
  std::string why = htod_why;
  if (why.empty() && htod_copies.empty()) why = "no HtoD copies observed";
  add("htod_copies", "HtoD migration copies (counter-pass records)", "count", double(observed_copies.copies),
      double(s.htod_copies), why);
  add("htod_copy_groups", "groups of HtoD copies, no gap over 5 us (~ batches)", "count",
      double(observed_copies.groups), double(s.htod_copy_groups), why);
  why = htod_why;
  if (why.empty() && htod_fault == 0) why = "no fault-driven HtoD observed";
  add("prefetch_share_pct", "prefetch share of fault-driven HtoD bytes", "%",
      htod_fault ? 100.0 * double(htod_prefetch) / double(htod_fault) : 0.0, prefetch_share_pct(s), why,
      true);
  why = incomplete(cd, "DtoH");
  if (why.empty() && cpu_faults == 0 && s.cpu_faults == 0) why = "no CPU faults";
  add("cpu_faults", "CPU faults after the first kernel (touch-backs)", "count", double(cpu_faults),
      double(s.cpu_faults), why);
  add_batch_quantities(t, sim_batches, v);
  return v;
}

nlohmann::json validation_json(const Validation& v) {
  nlohmann::json j;
  j["trace"] = v.trace;
  j["trace_hash"] = v.trace_hash;
  j["settings_from_recording"] = v.applied;
  j["scored"] = v.scored();
  j["skipped"] = v.skipped();
  auto& q = j["quantities"] = nlohmann::json::array();
  for (const Quantity& x : v.quantities) {
    nlohmann::json e = {{"key", x.key},           {"label", x.label},         {"unit", x.unit},
                        {"observed", x.observed}, {"simulated", x.simulated}, {"scored", x.scored}};
    if (!std::isnan(x.observed_min)) e["observed_runs"] = {{"min", x.observed_min}, {"max", x.observed_max}};
    if (x.scored)
      e[x.points ? "error_points" : x.absolute() ? "error_absolute" : "error"] = x.error();
    else
      e["skipped"] = x.skipped;
    q.push_back(e);
  }
  j["kernel_overhead"] = {{"scored_kernels", v.kernels_scored},
                          {"floor_ns", kKernelOverheadFloorNs},
                          {"mean_abs_error", v.kernel_overhead_mean_error},
                          {"worst_abs_error", v.kernel_overhead_worst_error}};
  auto& ks = j["kernels"] = nlohmann::json::array();
  for (const KernelValidation& k : v.kernels) {
    nlohmann::json e = {{"index", k.index},
                        {"name", k.name},
                        {"resident_ns", k.resident_ns},
                        {"observed_ns", k.observed_ns},
                        {"simulated_ns", k.simulated_ns},
                        {"scored", k.scored}};
    if (k.observed_batches >= 0)
      e["batches"] = {{"observed", k.observed_batches},
                      {"simulated", k.simulated_batches},
                      {"observed_entries_p50", k.observed_entries_median},
                      {"simulated_entries_p50", k.simulated_entries_median}};
    ks.push_back(e);
  }
  return j;
}

void print_validation(const Validation& v, std::ostream& os) {
  char line[512];
  os << v.trace << " (content hash " << v.trace_hash << ")\n";
  std::snprintf(line, sizeof line, "%-58s %6s %12s %12s %9s\n", "quantity", "unit", "observed", "simulated",
                "error");
  os << line;
  for (const Quantity& q : v.quantities) {
    if (q.scored) {
      char err[32];
      if (q.points)
        std::snprintf(err, sizeof err, "%+.1f pt", q.error());
      else if (q.absolute())  // observed 0: the difference, in the quantity's unit
        std::snprintf(err, sizeof err, "%+.4g abs", q.error());
      else
        std::snprintf(err, sizeof err, "%+.1f%%", 100 * q.error());
      std::snprintf(line, sizeof line, "%-58s %6s %12.3f %12.3f %9s", q.label.c_str(), q.unit.c_str(),
                    q.observed, q.simulated, err);
      os << line;
      if (!std::isnan(q.observed_min))
        std::snprintf(line, sizeof line, "  (runs %.4g to %.4g)\n", q.observed_min, q.observed_max);
      else
        std::snprintf(line, sizeof line, "\n");
    } else {
      std::snprintf(line, sizeof line, "%-58s %6s %12.3f %12.3f  skipped: %s\n", q.label.c_str(),
                    q.unit.c_str(), q.observed, q.simulated, q.skipped.c_str());
    }
    os << line;
  }
  std::snprintf(
      line, sizeof line,
      "per-kernel paging overhead: %llu kernels with at least %.0f us observed, mean |error| %.1f%%, "
      "worst %.1f%%\n",
      (unsigned long long)v.kernels_scored, double(kKernelOverheadFloorNs) / 1e3,
      100 * v.kernel_overhead_mean_error, 100 * v.kernel_overhead_worst_error);
  os << line;
  os << v.scored() << " quantities scored, " << v.skipped() << " skipped as incomplete or absent\n";
}

}  // namespace uvmsim
