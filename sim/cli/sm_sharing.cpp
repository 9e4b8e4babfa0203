#include "sim/cli/sm_sharing.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "sim/cli/nelder_mead.h"
#include "sim/cli/run.h"
#include "sim/config/config.h"
#include "sim/gpu/sm_share.h"
#include "traces/files.h"

namespace uvmsim {

namespace {

using json = nlohmann::json;

// A kernel as the resident pass knows it: its launch shape, DRAM bytes, whole-GPU time and, where one
// was given, a profile of that run.
struct ShapeKernel {
  uint32_t grid = 1, threads = 1, regs = 0, smem = 0;
  uint64_t bytes = 0;
  double ms = 0;
  KernelProfile profile;
};

// The probe's kernels as it launches them (sm_share_probe.cu): layer kernels between stamp kernels (one
// thread writing the global timer) launched a few microseconds apart (the launch cost): stamp, kernel, stamp
// on the first stream, then on the second. They set the order in which the GPU takes the kernels. A stamp's
// own run is what dispatch_probe measured on the H200 (cuda_tracer/recordings/dispatch_h200.jsonl, the
// probe_pattern case): 1.8 us from the second stream's first stamp's start to its kernel's first CTA
// (median of 9), less the dependent launch (1.54 us from a grid's end to the next kernel's start, the
// config's gpu.launch_latency_ns). (Its stamps case, 3.12 us from one stamp's start to the next's, is
// bound by the host launching them about 3 us apart, kLaunchGapNs; it gave 1.58 us until 2026-12-04.)
constexpr double kStampMs = 0.00026;
constexpr int64_t kLaunchGapNs = 3000;

// One measured case: streams of kernels launched together on `sms` SMs with at most `cap` CTAs per SM.
struct Case {
  std::string name, group;  // group: "kernel", "kernel pair", "torch op", "torch op pair"
  std::vector<std::vector<ShapeKernel>> streams;
  std::vector<std::string> ops;  // per stream: the kernel or op measured
  uint32_t sms = 132, cap = 0;
  std::vector<double> measured;  // per stream, ms
  bool from_first_cta = true;    // timed from the stream's first CTA (stamps), else from the launch (events)
  std::vector<const Case*> alone;  // torch: per stream, its op's whole-GPU case (the launch gaps it shows)
  // torch pairs: when the host started the second stream, from the first stream's start event (where the
  // recording says: second_start_ms)
  std::optional<double> second_start_ms;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The fit half: every other kernel or op in the order the recordings first name them (the probes' own
// order: fma, copy, conv, relu, ...; then the torch ops).
bool in_fit_half(const std::vector<std::string>& names, const std::string& n) {
  const size_t i = size_t(std::find(names.begin(), names.end(), n) - names.begin());
  return i % 2 == 0;
}

struct Data {
  std::vector<Case> cases;
  std::vector<std::string> kernels;  // every kernel or op name, in the order the recordings first name them
};

std::vector<json> read_lines(const std::string& path) {
  const std::vector<uint8_t> bytes = files::read_regular_file(path);
  std::istringstream in(std::string(bytes.begin(), bytes.end()));
  std::vector<json> rows;
  std::string line;
  for (size_t n = 1; std::getline(in, line); ++n) {
    if (line.empty()) continue;
    try {
      rows.push_back(json::parse(line));
    } catch (const json::exception& e) {
      throw std::runtime_error(path + ": line " + std::to_string(n) + ": " + e.what());
    }
  }
  return rows;
}

// Medians over runs of each (name, sms, cap) case's per-stream medians. A torch op and a layer kernel may
// share a name (relu, add): their cases are apart (Key::torch); the op takes the kernel's half.
Data load(const std::vector<std::string>& paths) {
  struct Key {
    std::string name;
    uint32_t sms, cap;
    bool torch = false;
    bool operator<(const Key& o) const {
      return std::tie(name, sms, cap, torch) < std::tie(o.name, o.sms, o.cap, o.torch);
    }
  };
  std::map<std::string, ShapeKernel> kernel;              // layer kernels by name, at cap 0
  std::map<Key, uint32_t> kernel_smem;                    // padded shared memory of each capped case
  std::map<std::string, std::vector<ShapeKernel>> torch;  // torch ops: their kernels
  std::map<Key, std::vector<std::vector<double>>> times;  // per stream, over runs
  std::map<Key, std::vector<double>> second_start;        // torch pairs: the second stream's, over runs
  std::map<Key, std::string> group;
  // Profiles of the resident runs and the DRAM bytes they measured (which stand for the recordings'
  // estimates: a torch op's tensors once).
  using Measured = std::pair<KernelProfile, uint64_t>;
  std::map<std::string, Measured> kernel_profile;                 // layer kernels
  std::map<std::pair<std::string, size_t>, Measured> op_profile;  // torch ops' kernels, by index
  Data d;
  auto named = [&](const std::string& n) {
    if (std::find(d.kernels.begin(), d.kernels.end(), n) == d.kernels.end()) d.kernels.push_back(n);
  };
  for (const std::string& path : paths)
    for (const json& r : read_lines(path)) {
      try {
        const std::string probe = r.at("probe");
        if (probe == "sm_share_profile") {
          const Measured f{
              {r.at("issue_active"), r.at("warps_active"), r.at("contention_stalls"), r.at("memory_stalls"),
               r.value("global_loads", 0.0), r.value("loads_in_flight", 1.0), r.value("l1_wavefronts", 0.0)},
              r.at("dram_bytes")};
          if (r.contains("kernel"))
            kernel_profile[r.at("kernel")] = f;
          else
            op_profile[{r.at("op"), r.at("index").get<size_t>()}] = f;
          continue;
        }
        const std::string mode = r.at("mode");
        if (probe == "sm_share_torch" && mode == "shape") {
          std::vector<ShapeKernel> ks;
          for (const json& k : r.at("kernels")) {
            ShapeKernel s;
            s.grid = k.at("grid")[0].get<uint32_t>() * k.at("grid")[1].get<uint32_t>() *
                     k.at("grid")[2].get<uint32_t>();
            s.threads = k.at("block")[0].get<uint32_t>() * k.at("block")[1].get<uint32_t>() *
                        k.at("block")[2].get<uint32_t>();
            s.regs = k.at("regs");
            s.smem = k.at("smem");
            s.ms = k.at("us").get<double>() / 1000;
            ks.push_back(s);
          }
          // The op's DRAM bytes (its tensors read and written once) go to its kernels by their time.
          double total = 0;
          for (auto& k : ks) total += k.ms;
          for (auto& k : ks) k.bytes = uint64_t(double(r.at("dram_bytes").get<uint64_t>()) * k.ms / total);
          torch[r.at("op")] = ks;
          named(r.at("op"));
          continue;
        }
        const bool layer = probe == "sm_share";
        const Key key{layer ? r.at("kernel") : r.at("op"), r.at("sms"),
                      layer ? r.at("cap").get<uint32_t>() : 0, !layer};
        std::vector<double> t;
        if (mode == "alone") {
          t = {r.at("ms").at("median").get<double>()};
        } else {
          t = {r.at("first_ms").at("median").get<double>(), r.at("second_ms").at("median").get<double>()};
          if (r.contains("second_start_ms"))
            second_start[key].push_back(r.at("second_start_ms").at("median").get<double>());
        }
        auto& v = times[key];
        v.resize(t.size());
        for (size_t i = 0; i < t.size(); ++i) v[i].push_back(t[i]);
        group[key] = std::string(layer ? "kernel" : "torch op") + (mode == "pair" ? " pair" : "");
        if (layer && mode == "alone") {
          kernel_smem[key] = r.at("static_smem").get<uint32_t>() + r.at("smem_pad").get<uint32_t>();
          named(key.name);
          if (key.cap == 0) {
            ShapeKernel& s = kernel[key.name];
            s.grid = r.at("grid");
            s.threads = r.at("threads");
            s.regs = r.at("regs");
            s.smem = r.at("static_smem");
            s.bytes = r.at("dram_bytes");
          }
        }
      } catch (const json::exception& e) {
        throw std::runtime_error(path + ": " + e.what());
      }
    }
  // The whole-GPU time of each kernel: its alone case on 132 SMs without a cap.
  for (auto& [name, k] : kernel) {
    auto it = times.find(Key{name, 132, 0, false});
    if (it == times.end())
      throw std::runtime_error("kernel " + name + " has no whole-GPU case (132 SMs, no cap)");
    k.ms = median(it->second[0]);
    if (auto f = kernel_profile.find(name); f != kernel_profile.end())
      std::tie(k.profile, k.bytes) = f->second;
  }
  for (auto& [op, ks] : torch)
    for (size_t i = 0; i < ks.size(); ++i)
      if (auto f = op_profile.find({op, i}); f != op_profile.end())
        std::tie(ks[i].profile, ks[i].bytes) = f->second;
  for (auto& [key, v] : times) {
    Case c;
    c.name = key.name;
    c.group = group[key];
    c.sms = key.sms;
    c.cap = key.cap;
    for (auto& runs : v) c.measured.push_back(median(runs));
    if (auto it = second_start.find(key); it != second_start.end()) c.second_start_ms = median(it->second);
    const bool pair = c.group.find("pair") != std::string::npos;
    const std::string a = pair ? key.name.substr(0, key.name.find('+')) : key.name;
    const std::string b = pair ? key.name.substr(key.name.find('+') + 1) : "";
    for (const std::string& op : pair ? std::vector<std::string>{a, b} : std::vector<std::string>{a}) {
      c.ops.push_back(op);
      if (c.group.rfind("kernel", 0) == 0) {
        if (!kernel.count(op)) throw std::runtime_error("case " + key.name + ": unknown kernel " + op);
        c.streams.push_back({kernel[op]});
      } else {
        if (!torch.count(op))
          throw std::runtime_error("case " + key.name + ": op " + op + " has no shape line");
        c.streams.push_back(torch[op]);
        c.from_first_cta = false;
      }
    }
    d.cases.push_back(c);
  }
  // Torch ops are timed by events around their launches: each stream's launch gaps are those its op shows
  // alone on the whole GPU (measured minus simulated there).
  for (Case& c : d.cases)
    if (!c.from_first_cta)
      for (const std::string& op : c.ops)
        for (const Case& o : d.cases)
          if (o.name == op && o.sms == 132 && o.group == "torch op") c.alone.push_back(&o);
  return d;
}

// Per stream, the simulated time in ms; profiled: the kernels' profiles are given to the model.
// host_start_ns: per stream, when the host starts it (torch pairs: after the earlier streams' ops).
// own_ms: layer kernels' own resident times by name (settle_own_times), in place of their spans.
std::vector<double> simulate_case(const Case& k, const Config& base, bool profiled,
                                  const std::vector<int64_t>& host_start_ns,
                                  const std::map<std::string, double>& own_ms) {
  trace::Trace t;
  t.header.device_name = "NVIDIA H200";
  t.header.sm_count = 132;
  t.header.max_threads_per_sm = uint32_t(base.gpu.max_threads_per_sm);
  t.header.max_ctas_per_sm = uint32_t(base.gpu.max_ctas_per_sm);
  t.header.regs_per_sm = uint32_t(base.gpu.regs_per_sm);
  t.header.smem_per_sm_bytes = uint32_t(base.gpu.smem_per_sm_bytes);
  t.tenants.push_back({"t#0", "t", 1, 0});
  std::vector<uint64_t> bytes;
  std::vector<KernelProfile> profiles;
  // Layer kernels are timed as the probe times them: between the stamps just before and after them on
  // their stream. A stamp needs a free CTA slot like any kernel, so the one after a kernel can wait
  // behind another stream's grid dispatched meanwhile (the GPU dispatches grids in the order they came).
  const ShapeKernel stamp{1, 1, 16, 0, 0, kStampMs, {}};
  for (uint32_t s = 0; s < k.streams.size(); ++s) {
    std::vector<ShapeKernel> run = k.streams[s];
    if (k.from_first_cta) {
      run.insert(run.begin(), stamp);
      run.push_back(stamp);
    }
    for (size_t j = 0; j < run.size(); ++j) {
      const ShapeKernel& sk = run[j];
      trace::Kernel kn;
      kn.name = k.ops[s];
      kn.stream = s;
      kn.grid = {sk.grid, 1, 1};
      kn.block = {sk.threads, 1, 1};
      kn.regs_per_thread = sk.regs;
      kn.smem_bytes = sk.smem;
      const auto own = k.from_first_cta && j > 0 && j + 1 < run.size() ? own_ms.find(k.ops[s]) : own_ms.end();
      kn.resident_ns = uint64_t(std::llround((own != own_ms.end() ? own->second : sk.ms) * 1e6));
      kn.cta_begin = t.ctas.size();
      kn.cta_count = sk.grid;
      t.ctas.resize(t.ctas.size() + sk.grid);
      trace::Op o;
      o.kind = trace::OpKind::kKernel;
      o.stream = s;
      o.a = t.kernels.size();
      t.kernels.push_back(kn);
      if (k.from_first_cta) o.host_gap_ns = kLaunchGapNs;
      if (j == 0 && s < host_start_ns.size()) o.host_gap_ns += host_start_ns[s];
      t.ops.push_back(o);
      bytes.push_back(sk.bytes);
      profiles.push_back(profiled ? sk.profile : KernelProfile{});
    }
  }
  Workload w = Workload::build(std::move(t), "sm-sharing");
  w.kernel_dram_bytes = bytes;
  w.kernel_profile = profiles;
  Config c = base;
  c.gpu.sm_count = k.sms;
  if (k.cap) c.gpu.max_ctas_per_sm = k.cap;
  const Stats st = simulate(w, c, true).stats;
  std::vector<double> out;
  size_t first = 0;
  for (uint32_t s = 0; s < k.streams.size(); ++s) {
    const size_t last = first + k.streams[s].size() + (k.from_first_cta ? 1 : -1);
    if (k.from_first_cta)  // from the first stamp's start to the second's
      out.push_back(double(st.kernels[last].start_ns - st.kernels[first].start_ns) / 1e6);
    else  // from the stream's start event, which the host records when it starts the stream
      out.push_back(double(st.kernels[last].end_ns - (s < host_start_ns.size() ? host_start_ns[s] : 0)) /
                    1e6);
    first = last + 1;
  }
  return out;
}

std::vector<std::vector<double>> simulate_all(const std::vector<const Case*>& cases, const Config& c,
                                              bool profiled, int jobs,
                                              const std::vector<std::vector<int64_t>>& host_start_ns,
                                              const std::map<std::string, double>& own_ms) {
  std::vector<std::vector<double>> out(cases.size());
  std::atomic<size_t> next{0};
  std::vector<std::string> errors(size_t(std::max(1, jobs)));
  auto work = [&](size_t j) {
    try {
      for (size_t i; (i = next++) < cases.size();)
        out[i] = simulate_case(*cases[i], c, profiled,
                               host_start_ns.empty() ? std::vector<int64_t>{} : host_start_ns[i], own_ms);
    } catch (const std::exception& e) {
      errors[j] = e.what();
    }
  };
  std::vector<std::thread> th;
  for (size_t j = 1; j < errors.size(); ++j) th.emplace_back(work, j);
  work(0);
  for (auto& t : th) t.join();
  for (auto& e : errors)
    if (!e.empty()) throw std::runtime_error(e);
  return out;
}

// Torch cases add their op's launch gaps (measured minus simulated alone on the whole GPU).
std::vector<double> predicted(const Case& k, const std::vector<double>& sim,
                              const std::map<const Case*, std::vector<double>>& whole) {
  std::vector<double> p = sim;
  for (size_t s = 0; s < k.alone.size(); ++s) p[s] += k.alone[s]->measured[0] - whole.at(k.alone[s])[0];
  return p;
}

struct Knob {
  const char* key;
  double lo, hi;
};
// The fit moves the two loads only: the bandwidths an SM and the GPU can draw are the config's, measured
// by a microbenchmark of their own (cuda_tracer/mem_latency.sh), not fitted to the kernels.
const Knob kKnobs[] = {{"gpu.full_sm_issue_load", 0.01, 100}, {"gpu.full_sm_memory_load", 0.01, 100}};

Config with_knobs(const Config& base, const std::vector<double>& logv) {
  Config c = base;
  for (size_t i = 0; i < logv.size(); ++i) {
    const double v = std::exp(std::clamp(logv[i], std::log(kKnobs[i].lo), std::log(kKnobs[i].hi)));
    char b[64];
    std::snprintf(b, sizeof b, "%.4g", v);
    apply_override(c, std::string(kKnobs[i].key) + "=" + b);
  }
  return c;
}

std::vector<double> knobs_of(const Config& c) {
  const double v[] = {c.gpu.full_sm_issue_load, c.gpu.full_sm_memory_load};
  std::vector<double> out;
  for (double x : v) out.push_back(std::log(x));
  return out;
}

struct Scored {
  const Case* c;
  size_t stream;
  double measured, simulated;
  bool fit_half, reference;  // reference: the whole-GPU alone case the model is given
  double error() const { return (simulated - measured) / measured; }
};

// The probe times a layer kernel from the stamp before it to the stamp after it, a span that holds the
// launch gaps and stamps around the kernel; the model is given a kernel's own resident time, as a trace's
// kernel timing gives it, and simulates the stamps itself. So a layer kernel's own time is the one whose
// simulated whole-GPU span is the measured span: start from the span and take off what the simulation adds
// around the kernel, until the two agree within a nanosecond per microsecond (the span follows the own time
// one for one, nearly: a few rounds). Each model (config, profiles or not) settles its own.
std::map<std::string, double> settle_own_times(const Data& d, const Config& c, bool profiled, int jobs) {
  std::vector<const Case*> refs;
  std::map<std::string, double> own;
  for (const Case& k : d.cases)
    if (k.from_first_cta && k.streams.size() == 1 && k.sms == 132 && k.cap == 0) {
      refs.push_back(&k);
      own[k.ops[0]] = k.measured[0];
    }
  for (int round = 0; round < 8; ++round) {
    const auto sim = simulate_all(refs, c, profiled, jobs, {}, own);
    bool settled = true;
    for (size_t i = 0; i < refs.size(); ++i) {
      const double over = sim[i][0] - refs[i]->measured[0];
      if (std::abs(over) > 1e-3 * refs[i]->measured[0]) settled = false;
      double& o = own[refs[i]->ops[0]];
      o = std::max(o - over, o / 2);
    }
    if (settled) break;
  }
  return own;
}

std::vector<Scored> score(const Data& d, const std::vector<std::string>& names, const Config& c,
                          bool profiled, int jobs) {
  const std::map<std::string, double> own = settle_own_times(d, c, profiled, jobs);
  // The torch ops' whole-GPU runs first: their launch gaps (measured minus simulated). In a torch pair the
  // host starts the second stream (records its start event, launches its op) when the recording says it
  // did (second_start_ms); where it does not say, once it has launched the first stream's op, which takes
  // that op's launch gaps (a lower bound: the host's Python takes longer).
  std::vector<const Case*> refs;
  for (const Case& k : d.cases)
    for (const Case* a : k.alone)
      if (std::find(refs.begin(), refs.end(), a) == refs.end()) refs.push_back(a);
  const auto ref_sim = simulate_all(refs, c, profiled, jobs, {}, own);
  std::map<const Case*, std::vector<double>> whole;
  for (size_t i = 0; i < refs.size(); ++i) whole[refs[i]] = ref_sim[i];
  // Then every other case (a whole-GPU run starts at 0 either way).
  std::vector<const Case*> rest;
  std::vector<std::vector<int64_t>> host_start;
  for (const Case& k : d.cases) {
    if (whole.count(&k)) continue;
    rest.push_back(&k);
    std::vector<int64_t>& starts = host_start.emplace_back();
    int64_t at = 0;
    for (const Case* a : k.alone) {
      starts.push_back(at);
      at += std::max<int64_t>(0, std::llround((a->measured[0] - whole.at(a)[0]) * 1e6));
    }
    if (k.second_start_ms && starts.size() == 2) starts[1] = std::llround(*k.second_start_ms * 1e6);
  }
  const auto rest_sim = simulate_all(rest, c, profiled, jobs, host_start, own);
  std::map<const Case*, std::vector<double>> sim = whole;
  for (size_t i = 0; i < rest.size(); ++i) sim[rest[i]] = rest_sim[i];
  std::vector<Scored> out;
  for (const Case& k : d.cases) {
    const std::vector<double> p = predicted(k, sim.at(&k), whole);
    const bool alone = k.streams.size() == 1;
    for (size_t s = 0; s < p.size(); ++s)
      out.push_back({&k, s, k.measured[s], p[s], alone && in_fit_half(names, k.ops[s]),
                     alone && k.sms == 132 && k.cap == 0});
  }
  return out;
}

double fit_loss(const std::vector<Scored>& s) {
  double l = 0;
  for (const Scored& x : s)
    if (x.fit_half && !x.reference) {
      const double e = std::log(x.simulated / x.measured);
      l += e * e;
    }
  return l;
}

struct Summary {
  size_t n = 0;
  double mean = 0, worst = 0;
  std::string worst_case;
};

Summary summarize(const std::vector<Scored>& s, const std::function<bool(const Scored&)>& in) {
  Summary m;
  for (const Scored& x : s) {
    if (!in(x) || x.reference) continue;
    const double e = std::abs(x.error());
    ++m.n;
    m.mean += e;
    if (e > m.worst) {
      m.worst = e;
      char b[128];
      std::snprintf(b, sizeof b, "%s on %u SMs%s", x.c->ops[x.stream].c_str(), x.c->sms,
                    x.c->cap ? (", cap " + std::to_string(x.c->cap)).c_str() : "");
      m.worst_case = x.c->streams.size() > 1 ? x.c->name + ": " + b : b;
    }
  }
  if (m.n) m.mean /= double(m.n);
  return m;
}

}  // namespace

// The memory side on its own microbenchmark (cuda_tracer/mem_latency.sh): warps that only load, each
// keeping a known number of bytes in flight, on 132, 32 and 8 SMs. Its points and the model's bandwidth.
struct CurvePoint {
  uint32_t sms;
  double in_flight, gbps;
};

std::vector<CurvePoint> load_curve(const std::string& path) {
  std::vector<CurvePoint> pts;
  size_t n = 0;
  for (const json& r : read_lines(path)) {
    ++n;
    if (r.value("program", "") != "mem_latency_probe") continue;
    try {
      pts.push_back(
          {r.at("sms").get<uint32_t>(), r.at("inflight_bytes").get<double>(), r.at("gbps").get<double>()});
    } catch (const json::exception& e) {
      throw std::runtime_error(path + ": line " + std::to_string(n) + ": " + e.what());
    }
    if (pts.back().sms == 0 || !(pts.back().gbps > 0))
      throw std::runtime_error(path + ": line " + std::to_string(n) + ": sms and gbps must be positive");
  }
  if (pts.empty()) throw std::runtime_error(path + ": no mem_latency_probe lines");
  return pts;
}

struct CurveError {
  double mean = 0, worst = 0;
};

CurveError curve_error(const std::vector<CurvePoint>& pts, const GpuConfig& g) {
  const SmShare share(g);
  CurveError e;
  for (const CurvePoint& p : pts) {
    const double err = std::abs(share.uniform_draw(p.in_flight / p.sms, p.sms) / p.gbps - 1);
    e.mean += err / double(pts.size());
    e.worst = std::max(e.worst, err);
  }
  return e;
}

// Exponents the curve is tried at: 0 (a hard ceiling), then 1 to 8 in quarters.
std::vector<double> curve_exponents() {
  std::vector<double> v{0};
  for (int q = 4; q <= 32; ++q) v.push_back(q / 4.0);
  return v;
}

double best_exponent(const std::vector<CurvePoint>& pts, GpuConfig g) {
  double best = 0, least = 0;
  for (const double p : curve_exponents()) {
    g.dram_saturation_exponent = p;
    const double m = curve_error(pts, g).mean;
    if (p == 0 || m < least) best = p, least = m;
  }
  return best;
}

int run_sm_sharing(const SmSharingArgs& a) {
  if (!a.out.empty()) files::check_output_file(a.out, "--out");
  if (!a.report.empty()) files::check_output_file(a.report, "--report");
  const Data d = load(a.recordings);
  Config c = load_config(a.config, {});
  const std::vector<CurvePoint> curve =
      a.memory_curve.empty() ? std::vector<CurvePoint>{} : load_curve(a.memory_curve);
  if (a.fit && !curve.empty()) {
    c.gpu.dram_saturation_exponent = best_exponent(curve, c.gpu);
    std::fprintf(stderr, "DRAM saturation exponent from the memory curve: %.4g\n",
                 c.gpu.dram_saturation_exponent);
  }
  // Without profiles: every kernel the same loads at its occupancy, the config's parameters unfitted.
  const std::vector<Scored> s1 = score(d, d.kernels, c, false, a.jobs);
  if (a.fit) {
    double best = 0;
    auto f = [&](const std::vector<double>& v) {
      return fit_loss(score(d, d.kernels, with_knobs(c, v), true, a.jobs));
    };
    // The fit half pins the memory load loosely (profiles with load counts do not use it; it has no
    // kernel the DRAM holds back): the optimiser starts from the config's loads and from its memory load a
    // quarter and four times as large, and the lowest loss on the fit half wins.
    std::vector<double> x;
    for (const double scale : {1.0, 0.25, 4.0}) {
      std::vector<double> start = knobs_of(c);
      start[1] += std::log(scale);
      double loss = 0;
      std::vector<double> y = nelder_mead(f, start, {0.4, 0.4}, a.iterations, &loss);
      std::fprintf(stderr, "fit from memory load x%.2f: loss %.4f\n", scale, loss);
      if (x.empty() || loss < best) x = std::move(y), best = loss;
    }
    c = with_knobs(c, x);
    std::fprintf(stderr, "fitted: loss %.4f\n", best);
  }
  const std::vector<Scored> s = score(d, d.kernels, c, true, a.jobs);
  // CTA slots as whole processors (the engine before the SM-sharing model): loads too small to slow anyone.
  Config slots = c;
  slots.gpu.full_sm_issue_load = slots.gpu.full_sm_memory_load = 0.001;
  const std::vector<Scored> s0 = score(d, d.kernels, slots, false, a.jobs);

  std::ostringstream md;
  char buf[512];
  md << "# SMs shared by their CTAs: the model against the H200\n\n"
     << "Generated by `uvmsim sm-sharing" << (a.fit ? " --fit" : "");
  for (const auto& r : a.recordings) md << " --recording " << r;
  if (!a.memory_curve.empty()) md << " --memory-curve " << a.memory_curve;
  md << " --config " << a.config << " --iterations " << a.iterations
     << "`. Every case is simulated from its kernels' whole-GPU resident time, "
        "launch shape and what a profile of that run measured only (sim/gpu/sm_share.h): its DRAM bytes, its "
        "global load instructions and, per SM sub-partition, the share of cycles it issued, the warps "
        "resident, and the cycles per issued instruction its warps waited for one another and on memory "
        "(Nsight Compute, `cuda_tracer/ncu_profile.py`; a recording without profiles leaves every kernel the "
        "same loads at its occupancy, as the stamp kernels here). A profiled kernel's memory load is the "
        "bytes its CTAs keep in flight (its waiting warps, each with the loads it issued since it last "
        "waited, from its SASS: `cuda_tracer/ncu_sass.py`, at one load's DRAM bytes each), over what an SM "
        "keeps in flight at its bandwidth and the idle DRAM latency; one whose bytes in flight want more "
        "than the DRAM gives in its resident run costs the DRAM what it got there. A profiled kernel also "
        "loads "
        "its SMs' L1 data pipe (the share of its peak the resident run used, per issued instruction), which "
        "all CTAs of an SM share and which stretches their memory waits as its load grows. CTAs of one "
        "kernel take "
        "slightly different times (`gpu.cta_time_variance_ns`, measured), so the last CTAs of a kernel end "
        "apart. "
        "Fewer SMs (`gpu.sm_count`), a CTA limit per SM "
        "(`gpu.max_ctas_per_sm`) and two kernels at once are predictions. A warp's own cycle (its memory "
        "part stretched by memory contention) and its SM's issue load bound its CTA's time together "
        "(sqrt(own^2 + load^2)): while an SM is issue-bound, memory waits hide behind other warps' "
        "instructions. With `gpu.issue_by_age` the issue slots go to an SM's older CTAs first (as the "
        "H200's do: `cuda_tracer/recordings/dispatch_fma_pair_h200.jsonl`). Fit half: every other "
        "kernel or op in the order the recordings name them (fma, conv, stem, conv7, pool, then every other "
        "torch op; `--fit` reads only their alone cases); check half: the others; pairs: two "
        "kernels or ops launched together on two streams of one partition, never fitted. Layer kernels "
        "are timed as the probe times them, between one-thread stamp kernels (0.26 us each, "
        "`cuda_tracer/recordings/dispatch_h200.jsonl`) launched 3 us apart (the model "
        "is given a kernel's own time: the one with which its simulated whole-GPU span is the measured "
        "span): the GPU "
        "takes grids in the order they came, so a pair's first kernel ends its span only when the stamp "
        "after it finds a slot, behind the second kernel's CTAs (its span is about both kernels' time). "
        "Torch ops are timed by CUDA events from their launch, with the launch gaps each shows alone on the "
        "whole GPU (measured minus simulated); in a torch pair the host starts the second stream when the "
        "recording says it did (its start event, `second_start_ms`, about 50 us after the first's on the "
        "H200: the host's Python launching the first op), else once it has launched the first stream's op, "
        "which takes that op's launch gaps (a lower bound). "
        "Under a CTA cap the stamps count against the cap, in the model and on the GPU alike: the probe caps "
        "by padding shared memory so that the capped CTAs leave none of the 1 KiB the GPU reserves for every "
        "CTA, and a CTA without shared memory waits for room then (`cuda_tracer/dispatch.sh`).\n\n";
  std::snprintf(
      buf, sizeof buf,
      "Parameters: `gpu.full_sm_issue_load` %.4g, `gpu.full_sm_memory_load` %.4g (the loads of kernels "
      "without a profile, here the stamp kernels; a profile with load counts leaves a kernel no "
      "fitted parameter, so `--fit` finds a flat loss), `gpu.sm_dram_bytes_per_s` "
      "%.4g, `gpu.dram_bytes_per_s` %.4g, `gpu.dram_latency_ns` %lld, `gpu.dram_saturation_exponent` %.4g "
      "(measured, `cuda_tracer/mem_latency.sh`), `gpu.cta_time_variance_ns` %.4g (measured, "
      "`cuda_tracer/cta_time.sh`).\n\n",
      c.gpu.full_sm_issue_load, c.gpu.full_sm_memory_load, double(c.gpu.sm_dram_bytes_per_s),
      double(c.gpu.dram_bytes_per_s), static_cast<long long>(c.gpu.dram_latency_ns),
      c.gpu.dram_saturation_exponent, c.gpu.cta_time_variance_ns);
  md << buf;
  md << "Compared with the same model given no profiles (every kernel the same loads at its occupancy, "
        "the config's parameters as they are: "
     << a.config << ") and with CTA slots as whole processors (the engine before the SM-sharing model).\n\n";
  md << "| cases | n | mean abs error | worst | worst case | no profiles: mean | worst "
        "| slots as processors: mean | worst |\n"
     << "| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n";
  const std::pair<const char*, std::function<bool(const Scored&)>> sets[] = {
      {"fit half, alone", [](const Scored& x) { return x.c->streams.size() == 1 && x.fit_half; }},
      {"check half, alone", [](const Scored& x) { return x.c->streams.size() == 1 && !x.fit_half; }},
      {"pairs", [](const Scored& x) { return x.c->streams.size() > 1; }},
      {"check half and pairs", [](const Scored& x) { return !x.fit_half; }},
  };
  for (const auto& [label, in] : sets) {
    const Summary m = summarize(s, in), m0 = summarize(s0, in), m1 = summarize(s1, in);
    std::snprintf(buf, sizeof buf,
                  "| %s | %zu | %.1f%% | %.1f%% | %s | %.1f%% | %.1f%% | %.1f%% | %.1f%% |\n", label, m.n,
                  100 * m.mean, 100 * m.worst, m.worst_case.c_str(), 100 * m1.mean, 100 * m1.worst,
                  100 * m0.mean, 100 * m0.worst);
    md << buf;
  }
  md << "\n| case | group | SMs | cap | stream | half | measured ms | simulated ms | error | no profiles: "
        "error | slots: error |\n"
     << "| --- | --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |\n";
  for (size_t i = 0; i < s.size(); ++i) {
    const Scored& x = s[i];
    if (x.reference) continue;
    std::snprintf(buf, sizeof buf,
                  "| %s | %s | %u | %u | %s | %s | %.4f | %.4f | %+.1f%% | %+.1f%% | %+.1f%% |\n",
                  x.c->name.c_str(), x.c->group.c_str(), x.c->sms, x.c->cap, x.c->ops[x.stream].c_str(),
                  x.c->streams.size() > 1 ? "pair" : (x.fit_half ? "fit" : "check"), x.measured, x.simulated,
                  100 * x.error(), 100 * s1[i].error(), 100 * s0[i].error());
    md << buf;
  }
  if (!curve.empty()) {
    md << "\n## The memory side on its own microbenchmark\n\n"
       << "`" << a.memory_curve
       << "` (`cuda_tracer/mem_latency.sh`): warps that only load, each keeping a known number of bytes in "
          "flight, on 132, 32 and 8 SMs. The model's bandwidth for each point (every SM's draw at its bytes "
          "in flight, sim/gpu/sm_share.h, times the DRAM factor) against the measured, for DRAM saturation "
          "exponents around the config's (0: a hard ceiling; `--fit` takes the one with the least mean "
          "error). None of the kernels above is read here.\n\n"
       << "| `gpu.dram_saturation_exponent` | points | mean abs error | worst |\n| ---: | ---: | ---: | ---: "
          "|\n";
    GpuConfig g = c.gpu;
    for (const double p : curve_exponents()) {
      if (p != 0 && p != c.gpu.dram_saturation_exponent && std::fmod(p, 1.0) != 0) continue;
      g.dram_saturation_exponent = p;
      const CurveError e = curve_error(curve, g);
      std::snprintf(buf, sizeof buf, "| %.4g%s | %zu | %.1f%% | %.1f%% |\n", p,
                    p == c.gpu.dram_saturation_exponent ? " (the config's)" : "", curve.size(), 100 * e.mean,
                    100 * e.worst);
      md << buf;
    }
  }
  if (a.report.empty())
    std::fputs(md.str().c_str(), stdout);
  else
    files::write_file_atomic(a.report, md.str(), "--report");
  if (!a.out.empty()) files::write_file_atomic(a.out, to_json(c).dump(2) + "\n", "--out");
  for (const auto& [label, in] : sets) {
    const Summary m = summarize(s, in);
    std::fprintf(stderr, "%-22s n %3zu  mean %5.1f%%  worst %6.1f%% (%s)\n", label, m.n, 100 * m.mean,
                 100 * m.worst, m.worst_case.c_str());
  }
  return 0;
}

}  // namespace uvmsim
