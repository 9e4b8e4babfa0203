#include "sim/cli/calibrate.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "sim/cli/nelder_mead.h"
#include "sim/cli/run.h"
#include "sim/cli/validate.h"
#include "traces/files.h"
#include "traces/trace_io.h"
#include "workloads/micro.h"

namespace uvmsim {

using json = nlohmann::json;

std::vector<MeasuredRow> load_measurements(const std::string& path) {
  const std::vector<uint8_t> text = files::read_regular_file(path, 64 << 20);
  json j;
  try {
    j = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    throw std::runtime_error(path + ": invalid JSON: " + e.what());
  }
  std::vector<MeasuredRow> rows;
  for (auto& r : j.at("rows")) {
    MeasuredRow m;
    m.name = r.at("name");
    if (!r.contains("bytes")) throw std::runtime_error(path + ": row '" + m.name + "': no bytes");
    for (const auto& [k, v] : r.items()) {
      try {
        (void)set_micro_setting(m.micro, k, v);  // the row's other keys are its measurement's
      } catch (const std::invalid_argument& e) {
        throw std::runtime_error(path + ": row '" + m.name + "': " + k + ": " + e.what());
      }
    }
    m.measure = r.at("measure");
    m.value = r.at("value");
    m.unit = r.value("unit", "ms");
    m.rel_tolerance = r.value("rel_tolerance", 0.0);
    m.abs_tolerance = r.value("abs_tolerance", 0.0);
    m.fit = r.value("fit", true);
    m.weight = r.value("weight", 1.0);
    if (!(m.weight > 0) || !std::isfinite(m.weight))
      throw std::runtime_error(path + ": row '" + m.name + "': weight must be a positive number");
    const double resident_ms = r.value("resident_ms", 0.0);
    if (!(resident_ms >= 0) || !std::isfinite(resident_ms) || resident_ms > 1e6)
      throw std::runtime_error(path + ": row '" + m.name +
                               "': resident_ms must be a non-negative number of ms");
    if (resident_ms > 0) m.micro.resident_ns = uint64_t(std::llround(resident_ms * 1e6));
    rows.push_back(m);
  }
  return rows;
}

namespace {

// A trace's times, and where it has the driver's own events, its batch structure: the count of batches and
// the median fault entries per batch (issue 21: costs refitted so that batches are reproduced together
// with the times; slower servicing forms fewer, larger batches). VA blocks per batch are not fitted: their
// medians are 1 or 2 on most traces, so one block more is a 69% error that a cost's small step flips.
const char* const kTraceMeasures[] = {"paging_overhead_ms", "prefetch_share_pct", "batches",
                                      "entries_per_batch_p50"};

}  // namespace

std::vector<MeasuredRow> trace_rows(const std::string& path) {
  const Workload w = Workload::load(path);
  const Validation v = validate(w, with_recording(Config{}, w.trace), path);
  std::string name = path.substr(path.find_last_of('/') + 1);
  name = name.substr(0, name.rfind(".uvmt"));
  std::vector<MeasuredRow> rows;
  for (const char* key : kTraceMeasures)
    for (const Quantity& q : v.quantities)
      if (q.key == key && q.scored && q.observed > 0) {
        MeasuredRow r;
        r.name = name + ": " + q.label;
        r.measure = key;
        r.value = q.observed;
        r.unit = q.unit;
        r.trace = path;
        r.weight = kTraceRowWeight;
        rows.push_back(r);
      }
  return rows;
}

namespace {

double measure(const MeasuredRow& r, const trace::Trace& t, const Stats& s) {
  auto span = [](int64_t a, int64_t b) { return double(b - a) / 1e6; };
  if (r.measure == "first_touch") return span(s.kernels[0].start_ns, s.kernels[0].end_ns);
  if (r.measure == "resident") return span(s.kernels[1].start_ns, s.kernels[1].end_ns);
  if (r.measure == "prefetch_share") return prefetch_share_pct(s);
  for (size_t i = t.ops.size(); i-- > 0;) {
    if (r.measure == "touch_back" && t.ops[i].kind == trace::OpKind::kHostAccess)
      return span(s.ops[i].start_ns, s.ops[i].end_ns);
    if (r.measure == "prefetch" && t.ops[i].kind == trace::OpKind::kPrefetch)
      return span(s.ops[i].start_ns, s.ops[i].end_ns);
  }
  throw std::runtime_error("measurement row '" + r.name + "': unknown measure '" + r.measure + "'");
}

// The distinct workloads of the rows (rows measuring the same micro-workload or the same recorded trace
// share one, and one simulation per evaluation).
struct Prepared {
  std::vector<std::unique_ptr<Workload>> workloads;
  std::vector<std::string> trace;  // per workload: the recorded trace's path (measured as `uvmsim validate`
                                   // does), or empty for a micro-workload
  std::vector<size_t> of_row;      // per row: its workload
};

Prepared prepare(const std::vector<MeasuredRow>& rows) {
  Prepared p;
  std::map<std::string, size_t> seen;
  for (auto& r : rows) {
    const std::string key = !r.trace.empty() ? "trace " + r.trace : micro_key(r.micro);
    auto [it, fresh] = seen.emplace(key, p.workloads.size());
    p.of_row.push_back(it->second);
    if (!fresh) continue;
    p.trace.push_back(r.trace);
    if (!r.trace.empty()) {
      p.workloads.push_back(std::make_unique<Workload>(Workload::load(r.trace)));
      continue;
    }
    p.workloads.push_back(std::make_unique<Workload>(Workload::build(generate_micro(r.micro), "generated")));
  }
  return p;
}

std::vector<double> run_rows(const std::vector<MeasuredRow>& rows, const Prepared& p, const Config& c,
                             int jobs) {
  const size_t nw = p.workloads.size();
  std::vector<Stats> stats(nw);
  std::vector<Validation> validations(nw);
  unsigned n = unsigned(std::max(1, jobs));
  std::vector<std::thread> th;
  for (unsigned k = 0; k < n; ++k)
    th.emplace_back([&, k]() {
      for (size_t w = k; w < nw; w += n) {
        const Workload& wl = *p.workloads[w];
        if (!p.trace[w].empty())
          validations[w] = validate(wl, with_recording(c, wl.trace), p.trace[w]);
        else
          stats[w] = simulate(wl, c, false).stats;
      }
    });
  for (auto& t : th) t.join();
  std::vector<double> out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const size_t w = p.of_row[i];
    if (p.trace[w].empty()) {
      out[i] = measure(rows[i], p.workloads[w]->trace, stats[w]);
      continue;
    }
    for (const Quantity& q : validations[w].quantities)  // a recorded trace: what `uvmsim validate` simulates
      if (q.key == rows[i].measure) out[i] = q.simulated;
  }
  return out;
}

// Each fitted key with its lower and upper bound.
struct Knob {
  std::string key;
  double lo, hi;
};
// Bandwidths are bounded by PCIe 5.0 x16 practical throughput (about 55 GB/s per direction).
const std::vector<Knob>& knobs() {
  static const std::vector<Knob> k = {
      {"driver.batch_fixed_ns", 1000, 500000},
      {"driver.fault_ns", 10, 20000},
      {"driver.duplicate_fault_ns", 1, 20000},
      {"driver.va_block_ns", 100, 200000},
      {"driver.migrate_block_ns", 10, 200000},
      {"driver.page_ns", 10, 20000},
      {"driver.cpu_unmap_page_ns", 1, 20000},
      {"driver.replay_ns", 100, 200000},
      {"driver.isr_latency_ns", 100, 200000},
      {"pcie.htod_bytes_per_s", 5e9, 55e9},
      {"pcie.dtoh_bytes_per_s", 5e9, 55e9},
      {"pcie.copy_setup_ns", 10, 50000},
      {"pcie.copy_ns", 10, 50000},
      {"driver.prefetch_op_block_ns", 100, 200000},
      {"host.cpu_fault_ns", 1000, 1000000},
      {"host.cpu_fault_page_ns", 10, 20000},
      {"driver.pte_ns", 1, 20000},
      {"gpu.fault_latency_ns", 100, 20000},
      {"gpu.zero_fill_bytes_per_s", 1e9, 1e12},
      {"driver.block_populate_ns", 1, 500000},
  };
  return k;
}

// `hold[i]`: knob i keeps the base config's value (calibrate --hold: a cost measured, not fitted).
Config with_params(const Config& base, const std::vector<double>& logv, const std::vector<bool>& hold) {
  Config c = base;
  for (size_t i = 0; i < knobs().size(); ++i) {
    if (hold[i]) continue;
    double v = std::exp(std::clamp(logv[i], std::log(knobs()[i].lo), std::log(knobs()[i].hi)));
    apply_override(c, knobs()[i].key + "=" + std::to_string(int64_t(std::llround(v))));
  }
  return c;
}

std::vector<double> current_params(const Config& c) {
  json j = to_json(c);
  std::vector<double> v;
  for (auto& k : knobs()) {
    auto dot = k.key.find('.');
    double x = j[k.key.substr(0, dot)][k.key.substr(dot + 1)].get<double>();
    v.push_back(std::log(std::clamp(x, k.lo, k.hi)));
  }
  return v;
}

double loss(const std::vector<MeasuredRow>& rows, const std::vector<double>& sim, int skip) {
  double l = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    if (!rows[i].fit || int(i) == skip) continue;
    double e = std::log(std::max(sim[i], 1e-9) / rows[i].value);
    l += rows[i].weight * e * e;
  }
  return l;
}

// Nelder-Mead over log parameters; deterministic. A key whose first steps (x e^0.4 and x e^-0.4, within its
// bounds) leave the loss exactly as it was is one the rows do not depend on (the simulator is
// deterministic): it is held at its starting value and named in `held`, not left to drift with the simplex (a
// micro-workload has no duplicate faults, so `driver.duplicate_fault_ns` moved freely in earlier fits while
// the model traces depend on it).
std::vector<double> fit(const std::vector<MeasuredRow>& rows, const Prepared& p, const Config& base, int skip,
                        int iterations, int jobs, const std::vector<bool>& hold, double* best_loss,
                        std::vector<std::string>* held = nullptr) {
  const std::vector<double> start = current_params(base);
  auto f_full = [&](const std::vector<double>& v) {
    return loss(rows, run_rows(rows, p, with_params(base, v, hold), jobs), skip);
  };
  const double f0 = f_full(start);
  std::vector<size_t> free;  // knobs the loss depends on
  std::vector<double> step;  // each free knob's first step: up, or down where up changes nothing (a bound)
  for (size_t i = 0; i < start.size(); ++i) {
    if (hold[i]) continue;
    bool depends = false;
    for (double s : {0.4, -0.4}) {
      std::vector<double> v = start;
      v[i] += s;
      if (f_full(v) != f0) {
        free.push_back(i);
        step.push_back(s);
        depends = true;
        break;
      }
    }
    if (!depends && held) held->push_back(knobs()[i].key);
  }
  auto full = [&](const std::vector<double>& reduced) {
    std::vector<double> v = start;
    for (size_t d = 0; d < free.size(); ++d) v[free[d]] = reduced[d];
    return v;
  };
  const size_t n = free.size();
  if (n == 0) {
    if (best_loss) *best_loss = f0;
    return start;
  }
  std::vector<double> x0(n);
  for (size_t d = 0; d < n; ++d) x0[d] = start[free[d]];
  auto f = [&](const std::vector<double>& reduced) { return f_full(full(reduced)); };
  return full(nelder_mead(f, x0, step, iterations, best_loss));
}

}  // namespace

std::vector<std::string> calibrated_keys() {
  std::vector<std::string> k;
  for (auto& x : knobs()) k.push_back(x.key);
  return k;
}

std::vector<double> simulate_rows(const std::vector<MeasuredRow>& rows, const Config& c, int jobs) {
  return run_rows(rows, prepare(rows), c, jobs);
}

// The check set is never fitted: a trace whose content hash traces/corpus/split.json lists is refused,
// wherever the file lies. `split`: the file to use; empty: the split.json of the trace's folder or of one of
// the two above it (none found: nothing is held out).
void refuse_check_set(const std::string& trace_path, const std::string& split) {
  namespace fs = std::filesystem;
  std::string file = split;
  if (file.empty()) {
    fs::path d = fs::absolute(fs::path(trace_path)).parent_path();
    for (int up = 0; up < 3 && file.empty(); ++up, d = d.parent_path())
      if (fs::is_regular_file(d / "split.json")) file = (d / "split.json").string();
  }
  if (file.empty()) return;
  nlohmann::json j;
  try {
    const std::vector<uint8_t> bytes = files::read_regular_file(file);
    j = nlohmann::json::parse(bytes.begin(), bytes.end());
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(file + ": " + e.what());
  }
  std::string hash;
  trace::read_trace(trace_path, &hash);
  if (!j.contains("check") || !j["check"].is_array()) throw std::invalid_argument(file + ": no 'check' list");
  for (const auto& c : j["check"])
    if (c.value("hash", "") == hash)
      throw std::invalid_argument(trace_path + ": in the check set (" + file + ": " + c.value("trace", "?") +
                                  "), which calibration never reads");
}

int run_calibrate(const CalibrateArgs& a) {
  if (!a.out.empty()) files::check_output_file(a.out, "--out");  // before hours of fitting
  if (!a.report.empty()) files::check_output_file(a.report, "--report");
  auto rows = load_measurements(a.measurements);
  for (const std::string& t : a.traces) refuse_check_set(t, a.split);
  for (const std::string& t : a.traces) {
    auto more = trace_rows(t);
    rows.insert(rows.end(), more.begin(), more.end());
  }
  Config base = load_config(a.config, {});
  std::vector<bool> hold(knobs().size(), false);
  for (const std::string& k : a.hold) {
    auto it = std::find_if(knobs().begin(), knobs().end(), [&](const Knob& x) { return x.key == k; });
    if (it == knobs().end()) throw std::invalid_argument("--hold '" + k + "': not a calibrated key");
    hold[size_t(it - knobs().begin())] = true;
  }
  Prepared p = prepare(rows);
  // Cartesian product of the grid's values.
  std::vector<std::pair<std::string, std::vector<std::string>>> axes;
  for (auto& g : a.grid) {
    auto eq = g.find('=');
    if (eq == std::string::npos) throw std::invalid_argument("--grid '" + g + "': expected key=v1,v2,...");
    std::vector<std::string> vals;
    std::stringstream ss(g.substr(eq + 1));
    for (std::string v; std::getline(ss, v, ',');) vals.push_back(v);
    axes.emplace_back(g.substr(0, eq), vals);
  }
  std::vector<std::vector<std::string>> points{{}};
  for (auto& [key, vals] : axes) {
    std::vector<std::vector<std::string>> next;
    for (auto& pt : points)
      for (auto& v : vals) {
        auto q = pt;
        q.push_back(key + "=" + v);
        next.push_back(q);
      }
    points = next;
  }
  double l = 1e300;
  Config fitted = base;
  for (auto& pt : points) {
    Config b = base;
    for (auto& o : pt) apply_override(b, o);
    double lp = 0;
    std::vector<std::string> held;
    Config f = with_params(b, fit(rows, p, b, -1, a.iterations, a.jobs, hold, &lp, &held), hold);
    std::string name;
    for (auto& o : pt) name += o + " ";
    if (!held.empty() && &pt == &points.front()) {
      std::string keys;
      for (const std::string& k : held) keys += (keys.empty() ? "" : ", ") + k;
      std::fprintf(stderr, "held at the starting value (no row depends on it): %s\n", keys.c_str());
    }
    if (!pt.empty()) std::fprintf(stderr, "grid %sloss %.5f\n", name.c_str(), lp);
    if (lp < l) {
      l = lp;
      fitted = f;
    }
  }
  auto sim = run_rows(rows, p, fitted, a.jobs);
  std::vector<double> loo(rows.size(), std::nan(""));
  if (a.leave_one_out)
    for (size_t i = 0; i < rows.size(); ++i) {
      if (!rows[i].fit) continue;
      Config ci =
          with_params(fitted, fit(rows, p, fitted, int(i), a.iterations / 2, a.jobs, hold, nullptr), hold);
      loo[i] = run_rows(rows, p, ci, a.jobs)[i];
      std::fprintf(stderr, "left out %-34s predicted %.3f %s (measured %.3f)\n", rows[i].name.c_str(), loo[i],
                   rows[i].unit.c_str(), rows[i].value);
    }
  // Error: relative for times, in points for percentages.
  auto error = [&](size_t i, double sim_value) {
    char b[64];
    if (rows[i].unit == "%")
      std::snprintf(b, sizeof b, "%+.1f pt", sim_value - rows[i].value);
    else
      std::snprintf(b, sizeof b, "%+.1f%%", (sim_value - rows[i].value) / rows[i].value * 100);
    return std::string(b);
  };
  std::ostringstream md;
  md << "| row | unit | measured | simulated | error | left out of the fit: simulated | error |\n";
  md << "| --- | --- | ---: | ---: | ---: | ---: | ---: |\n";
  char buf[512];
  for (size_t i = 0; i < rows.size(); ++i) {
    std::snprintf(buf, sizeof buf, "| %s | %s | %.3f | %.3f | %s |", rows[i].name.c_str(),
                  rows[i].unit.c_str(), rows[i].value, sim[i], error(i, sim[i]).c_str());
    md << buf;
    if (!rows[i].fit) {
      md << " (checked, not fitted) | |\n";
    } else if (std::isnan(loo[i])) {
      md << " (not run) | |\n";
    } else {
      std::snprintf(buf, sizeof buf, " %.3f | %s |\n", loo[i], error(i, loo[i]).c_str());
      md << buf;
    }
  }
  std::printf("%s", md.str().c_str());
  std::printf("loss %.5f\n", l);
  if (!a.report.empty()) files::write_file_atomic(a.report, md.str(), "--report");
  if (!a.out.empty()) files::write_file_atomic(a.out, to_json(fitted).dump(2) + "\n", "--out");
  return 0;
}

}  // namespace uvmsim
