// The sweep spec (JSON, every error naming the key):
//   "serve": a serving spec (path), "trace": a trace (path), or "generate": a micro-workload's settings
//     (`uvmsim generate --pattern`'s: {"pattern", "bytes" (64MiB or a number), "threads_per_cta", "sharers",
//     "page_stride", "run_pages", "host_init", "write", "prefetch", "touch_back", "seed", "resident_ns"}):
//     what each point runs (a serving sweep with a "mix" axis may leave "serve" out);
//   "config": the base config (path; default: the built-in one), "set": {"key": value, ...} over it;
//   "axes": {"NAME": [values...], ...}: the points are their cross product (names in sorted order, the
//     last varying fastest); and/or "points": [{"NAME": value, ...}, ...]: points listed one by one;
//   a NAME is a config key by its dotted path (gpu.memory_fraction, policies.sm_allocation.name,
//     policies.batching.params.fault_ns, seed) or, for a serving sweep, "spec." and a dotted path into the
//     serving spec (spec.seed, spec.requests, spec.tenants.0.arrivals.rate_per_s; numbers index arrays),
//     or, for a generated sweep, "generate." and a setting (generate.bytes, generate.pattern);
//   two NAMEs take files: "mix", a serving spec (path) that the point serves in place of "serve" (its spec.
//     axes apply to it), and "policy_set", a policy set (path, as policies/sets/*.json: {"name",
//     "policies": {KIND: {"name", "params"}}}) whose every policy the point selects before its other axes.
// Each trace, spec and policy set is read once and shared by every point, each generated trace made once, and
// a serving point's kernel templates are generated once per set of tenants (TemplateCache) and shared
// read-only. A serving point's folder holds its requests.csv beside its stats.json.
#include "sim/cli/sweep.h"

#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "sim/cli/run.h"
#include "sim/cli/serve.h"
#include "sim/engine/progress.h"
#include "sim/version.h"
#include "traces/files.h"
#include "workloads/micro.h"

#ifdef UVMSIM_MPI
#include <mpi.h>
#endif

namespace uvmsim {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

#ifdef UVMSIM_MPI
constexpr int kTagResult = 1, kTagWork = 2;  // rank -> 0: a result (or the first ask); 0 -> rank: a point
#endif

struct Point {
  std::vector<std::pair<std::string, json>> axes;  // in the spec's axis order
  // Resolved once, before any point runs (resolve): its config, its serving spec, and its key.
  Config config;
  std::string serve_text;
  json generate;  // a generated sweep's settings, its generate. axes applied
  std::string key;
};

// A spec error naming the key.
[[noreturn]] void bad(const std::string& spec, const std::string& key, const std::string& what) {
  throw std::runtime_error(spec + ": sweep key '" + key + "': " + what);
}

uint64_t fnv1a(const std::string& s, uint64_t h = 1469598103934665603ull) {
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

std::string hex(uint64_t v) {
  char b[17];
  std::snprintf(b, sizeof b, "%016llx", (unsigned long long)v);
  return b;
}

// A value as a --set override's text.
std::string set_text(const json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

// Sets the dotted path in a JSON document (numbers index arrays); the path must exist up to its last part.
void set_path(json& doc, const std::string& path, const json& v, const std::string& spec, const std::string& name) {
  json* at = &doc;
  std::stringstream ss(path);
  std::string part;
  std::vector<std::string> parts;
  while (std::getline(ss, part, '.')) parts.push_back(part);
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    const bool last = i + 1 == parts.size();
    if (at->is_array()) {
      size_t idx = 0;
      try {
        idx = std::stoul(p);
      } catch (const std::exception&) {
        bad(spec, name, "'" + p + "' does not index an array");
      }
      if (idx >= at->size()) bad(spec, name, "index " + p + " is past the array's " + std::to_string(at->size()));
      at = &(*at)[idx];
    } else if (at->is_object()) {
      if (!last && !at->contains(p)) bad(spec, name, "the serving spec has no '" + p + "'");
      at = &(*at)[p];
    } else {
      bad(spec, name, "'" + p + "' is below a value that is neither an object nor an array");
    }
    if (last) *at = v;
  }
}

struct Context {
  std::string spec_path;
  bool serving = false;
  std::string serve_text;  // the serving spec as read ("serve"; empty when a mix axis gives it)
  std::map<std::string, std::string> mixes;                     // the mix axis's specs as read, by path
  std::map<std::string, std::vector<std::string>> policy_sets;  // the policy_set axis's sets as overrides
  mutable TemplateCache templates;
  json generate;  // "generate": the micro-workload's settings (null: not a generated sweep)
  // Generated traces, made once each (by micro_key of their settings) and shared read-only.
  mutable std::mutex generated_m;
  mutable std::map<std::string, std::shared_ptr<const Workload>> generated;
  const Workload* workload = nullptr;  // the trace, read once
  std::string config_path;
  std::vector<std::string> sets;  // the spec's "set", as overrides
};

std::string point_key(const Context& ctx, const Point& p);

// A micro-workload's settings as `uvmsim generate --pattern` takes them; errors name generate.KEY.
MicroSpec micro_spec(const json& g, const std::string& spec) {
  MicroSpec m;
  for (const auto& [k, v] : g.items()) {
    bool known = false;
    try {
      known = set_micro_setting(m, k, v);
    } catch (const std::invalid_argument& e) {
      bad(spec, "generate." + k, e.what());
    }
    if (!known)
      bad(spec, "generate." + k, std::string("unknown setting (known: ") + kMicroSettingNames + ")");
  }
  return m;
}

// A generated sweep's trace for these settings, made once.
std::shared_ptr<const Workload> generated(const Context& ctx, const json& settings) {
  const MicroSpec spec = micro_spec(settings, ctx.spec_path);
  std::lock_guard<std::mutex> g(ctx.generated_m);
  std::shared_ptr<const Workload>& w = ctx.generated[micro_key(spec)];  // "64MiB" and 67108864 alike
  if (!w) w = std::make_shared<const Workload>(Workload::build(generate_micro(spec), "generated"));
  return w;
}

// The point's config (the base, `set`, then its config axes), its serving spec (with its spec. axes), its
// key.
void resolve(const Context& ctx, Point& p) {
  std::vector<std::string> sets = ctx.sets;
  std::string serve_text = ctx.serve_text;
  // The mix and the policy set first, whatever their place among the axes: the others refine them.
  for (const auto& [name, v] : p.axes) {
    if (name == "mix") {  // (run_sweep refuses a mix axis beside a trace or generator settings)
      serve_text = ctx.mixes.at(v.get<std::string>());
    } else if (name == "policy_set") {
      const auto& s = ctx.policy_sets.at(v.get<std::string>());
      sets.insert(sets.end(), s.begin(), s.end());
    }
  }
  if (ctx.serving && serve_text.empty())
    bad(ctx.spec_path, "serve", "a point has neither \"serve\" nor a mix");
  json spec_doc;
  if (ctx.serving) spec_doc = json::parse(serve_text);
  p.generate = ctx.generate;
  for (const auto& [name, v] : p.axes) {
    if (name == "mix" || name == "policy_set") continue;
    if (name.rfind("generate.", 0) == 0) {
      if (ctx.generate.is_null())
        bad(ctx.spec_path, name, "a generate. axis needs a generated sweep (\"generate\")");
      p.generate[name.substr(9)] = v;
      continue;
    }
    if (name.rfind("spec.", 0) == 0) {
      if (!ctx.serving) bad(ctx.spec_path, name, "a spec. axis needs a serving sweep (\"serve\")");
      set_path(spec_doc, name.substr(5), v, ctx.spec_path, name);
    } else {
      sets.push_back(name + "=" + set_text(v));
    }
  }
  p.config = load_config(ctx.config_path, sets);
  if (ctx.serving) p.serve_text = spec_doc.dump();
  if (!p.generate.is_null()) (void)micro_spec(p.generate, ctx.spec_path);  // a bad setting fails now
  p.key = point_key(ctx, p);
}

// Reads the files a "mix" or "policy_set" axis value names, once each (errors name the key).
void read_axis_files(Context& ctx, const std::string& name, const json& v, const std::string& key) {
  if (name != "mix" && name != "policy_set") return;
  if (!v.is_string()) bad(ctx.spec_path, key, "expected a path");
  const std::string path = v.get<std::string>();
  if (name == "mix") {
    if (ctx.mixes.count(path)) return;
    const std::vector<uint8_t> t = files::read_regular_file(path, uint64_t{1} << 26);
    std::string text(t.begin(), t.end());
    (void)parse_serve_spec(text, path);  // its errors now
    ctx.mixes[path] = std::move(text);
    return;
  }
  if (ctx.policy_sets.count(path)) return;
  const std::vector<uint8_t> b = files::read_regular_file(path, uint64_t{1} << 24);
  const json set = json::parse(b.begin(), b.end(), nullptr, false);
  if (set.is_discarded() || !set.is_object() || !set.contains("policies") || !set["policies"].is_object())
    bad(ctx.spec_path, key,
        path + ": not a policy set (an object with \"policies\": {KIND: {\"name\", \"params\"}})");
  std::vector<std::string> sets;
  for (const auto& [kind, choice] : set["policies"].items()) {
    if (!choice.is_object() || !choice.contains("name") || !choice["name"].is_string())
      bad(ctx.spec_path, key, path + ": policies." + kind + ": expected {\"name\", \"params\"}");
    sets.push_back("policies." + kind + ".name=" + choice["name"].get<std::string>());
    if (choice.contains("params")) {
      if (!choice["params"].is_object())
        bad(ctx.spec_path, key, path + ": policies." + kind + ".params: expected an object");
      for (const auto& [k, pv] : choice["params"].items())
        sets.push_back("policies." + kind + ".params." + k + "=" + set_text(pv));
    }
  }
  ctx.policy_sets[path] = std::move(sets);
}

// This build of the program: its version and a hash of its executable, so that a sweep's points name the
// build that made them and another build does not resume them.
const std::string& build_id() {
  static const std::string id = [] {
    std::string h = "unknown";
    try {
      const std::vector<uint8_t> b = files::read_regular_file("/proc/self/exe", uint64_t{1} << 32);
      h = hex(fnv1a(std::string(b.begin(), b.end())));
    } catch (const std::exception&) {
    }
    return std::string(kVersion) + "+" + h;
  }();
  return id;
}

std::string point_key(const Context& ctx, const Point& p) {
  const std::string input = ctx.serving             ? p.serve_text
                            : !p.generate.is_null() ? "generate " + p.generate.dump()
                                                    : ctx.workload->hash;
  return hex(fnv1a(to_json(p.config).dump() + "\n" + input + "\n" + build_id()));
}

// The metrics of a point's stats.json, in a fixed order.
std::vector<std::pair<std::string, std::string>> metrics(const json& j) {
  std::vector<std::pair<std::string, std::string>> m;
  const json& s = j["stats"];
  const auto num = [](const json& v) { return v.is_number() ? v.dump() : std::string(); };
  m.push_back({"sim_time_ms", s.contains("sim_time_ns") ? json(s["sim_time_ns"].get<double>() / 1e6).dump() : ""});
  for (const char* k : {"batches", "faults_fetched", "chunks_evicted", "pages_evicted", "ctas_beside_other_kernels"})
    m.push_back({k, s.contains(k) ? num(s[k]) : ""});
  if (s.contains("faults_per_batch")) m.push_back({"faults_per_batch", num(s["faults_per_batch"]["mean"])});
  for (const char* k : {"bytes_htod", "bytes_dtoh"}) {
    double sum = 0;
    if (s.contains(k))
      for (const auto& [c, v] : s[k].items())
        if (v.is_number()) sum += v.get<double>();
    m.push_back({k, json(sum).dump()});
  }
  if (j.contains("tenants"))
    for (const json& t : j["tenants"]) {
      const std::string n = t.value("name", "?");
      for (const char* q : {"mean", "p50", "p99"})
        m.push_back({n + "." + q + "_ms", num(t["latency_ms"][q])});
      m.push_back({n + ".throughput_per_s", num(t["throughput_per_s"])});
      m.push_back({n + ".slo_attainment", num(t["slo_attainment"])});
    }
  return m;
}

std::string csv(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

// Executes SQL on the database; throws naming the file.
void sql(sqlite3* db, const std::string& q, const std::string& file) {
  char* err = nullptr;
  if (sqlite3_exec(db, q.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    const std::string e = err ? err : "unknown error";
    sqlite3_free(err);
    throw std::runtime_error(file + ": " + e);
  }
}

std::string quote_id(const std::string& s) {
  std::string o = "\"";
  for (char c : s) o += c == '"' ? std::string("\"\"") : std::string(1, c);
  return o + "\"";
}

// The same rows as results.csv in a SQLite database, table `points` (status, key, the axes, the metrics,
// error; metrics as numbers), built beside it under a temporary name and renamed into place.
void write_db(const fs::path& path, const std::vector<std::string>& columns,
              const std::vector<std::vector<std::string>>& rows, size_t numeric_from, size_t numeric_to) {
  const std::string tmp = path.string() + ".uvmsim-tmp";
  fs::remove(tmp);
  sqlite3* db = nullptr;
  if (sqlite3_open(tmp.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error(tmp + ": cannot create the database");
  }
  try {
    std::string create = "CREATE TABLE points (";
    for (size_t i = 0; i < columns.size(); ++i)
      create += (i ? ", " : "") + quote_id(columns[i]) +
                (i >= numeric_from && i < numeric_to ? " REAL" : " TEXT") +
                (columns[i] == "key" ? " PRIMARY KEY" : "");
    sql(db, create + ")", tmp);
    sql(db, "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF", tmp);  // a temporary, renamed when done
    sql(db, "BEGIN", tmp);
    std::string insert = "INSERT INTO points VALUES (";
    for (size_t i = 0; i < columns.size(); ++i) insert += i ? ", ?" : "?";
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, (insert + ")").c_str(), -1, &st, nullptr) != SQLITE_OK)
      throw std::runtime_error(tmp + ": " + sqlite3_errmsg(db));
    for (const auto& row : rows) {
      sqlite3_reset(st);
      for (size_t i = 0; i < row.size(); ++i) {
        if (row[i].empty()) {
          sqlite3_bind_null(st, int(i + 1));
        } else if (i >= numeric_from && i < numeric_to) {
          sqlite3_bind_double(st, int(i + 1), std::stod(row[i]));
        } else {
          sqlite3_bind_text(st, int(i + 1), row[i].c_str(), -1, SQLITE_TRANSIENT);
        }
      }
      if (sqlite3_step(st) != SQLITE_DONE) {
        const std::string e = sqlite3_errmsg(db);
        sqlite3_finalize(st);
        throw std::runtime_error(tmp + ": " + e);
      }
    }
    sqlite3_finalize(st);
    sql(db, "COMMIT", tmp);
  } catch (...) {
    sqlite3_close(db);
    fs::remove(tmp);
    throw;
  }
  sqlite3_close(db);
  fs::rename(tmp, path);
}

// What one point made: its stats.json (with the point's key and axes) and, for a serving point, its
// requests.csv; or the error.
struct PointResult {
  json stats;
  std::string requests_csv;
  std::string error;
};

PointResult run_point(const Context& ctx, const Point& p) {
  PointResult r;
  try {
    if (ctx.serving) {
      const ServeSpec s = parse_serve_spec(p.serve_text, ctx.spec_path);
      const ServeResult res = serve(s, p.config, nullptr, nullptr, &ctx.templates);
      r.stats = serve_json(s, p.config, res);
      std::ostringstream os;
      write_requests_csv(s, res.requests, os);
      r.requests_csv = os.str();
    } else {
      std::shared_ptr<const Workload> made;
      if (!p.generate.is_null()) made = generated(ctx, p.generate);
      const Workload& w = made ? *made : *ctx.workload;
      r.stats = result_json(w, p.config, simulate(w, p.config, false).stats);
    }
    json axes = json::object();
    for (const auto& [n, v] : p.axes) axes[n] = v;
    r.stats["sweep_point"] = {{"key", p.key}, {"axes", axes}};
  } catch (const std::exception& e) {
    r.error = e.what();
    r.stats = nullptr;
  }
  return r;
}

}  // namespace

int run_sweep(const SweepArgs& a) {
  const std::vector<uint8_t> bytes = files::read_regular_file(a.spec, uint64_t{1} << 26);
  const json spec = json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (spec.is_discarded() || !spec.is_object()) throw std::runtime_error(a.spec + ": not a JSON object");
  for (const auto& [k, v] : spec.items())
    if (k != "serve" && k != "trace" && k != "generate" && k != "config" && k != "set" && k != "axes" &&
        k != "points")
      bad(a.spec, k, "unknown key (known: serve, trace, generate, config, set, axes, points)");
  Context ctx;
  ctx.spec_path = a.spec;
  bool mix_axis = spec.contains("axes") && spec["axes"].is_object() && spec["axes"].contains("mix");
  if (spec.contains("points") && spec["points"].is_array())
    for (const json& o : spec["points"]) mix_axis = mix_axis || (o.is_object() && o.contains("mix"));
  const int inputs =
      int(spec.contains("serve")) + int(spec.contains("trace")) + int(spec.contains("generate"));
  if (inputs > 1) bad(a.spec, "serve", "give one of serve, trace and generate");
  if (inputs == 0 && !mix_axis) bad(a.spec, "serve", "give serve, trace or generate (or a mix axis)");
  if (mix_axis && inputs == 1 && !spec.contains("serve"))
    bad(a.spec, "axes.mix", "a mix axis needs a serving sweep");
  ctx.serving = !spec.contains("trace") && !spec.contains("generate");
  if (spec.contains("generate")) {
    if (!spec["generate"].is_object()) bad(a.spec, "generate", "expected an object of generate settings");
    ctx.generate = spec["generate"];
    (void)micro_spec(ctx.generate, a.spec);
  }
  std::unique_ptr<Workload> workload;
  if (spec.contains("serve")) {
    if (!spec["serve"].is_string()) bad(a.spec, "serve", "expected a path");
    const std::vector<uint8_t> t = files::read_regular_file(spec["serve"].get<std::string>(), uint64_t{1} << 26);
    ctx.serve_text.assign(t.begin(), t.end());
    (void)parse_serve_spec(ctx.serve_text, spec["serve"].get<std::string>());  // its errors now
  } else if (spec.contains("trace")) {
    if (!spec["trace"].is_string()) bad(a.spec, "trace", "expected a path");
    workload = std::make_unique<Workload>(Workload::load(spec["trace"].get<std::string>()));
    ctx.workload = workload.get();
  }
  if (spec.contains("config")) {
    if (!spec["config"].is_string()) bad(a.spec, "config", "expected a path");
    ctx.config_path = spec["config"];
  }
  if (spec.contains("set")) {
    if (!spec["set"].is_object()) bad(a.spec, "set", "expected an object of config keys");
    for (const auto& [k, v] : spec["set"].items()) ctx.sets.push_back(k + "=" + set_text(v));
  }
  // The points: the axes' cross product, then the listed ones.
  std::vector<Point> points;
  if (spec.contains("axes")) {
    if (!spec["axes"].is_object() || spec["axes"].empty()) bad(a.spec, "axes", "expected an object of lists");
    std::vector<std::pair<std::string, json>> axes;
    for (const auto& [k, v] : spec["axes"].items()) {
      if (!v.is_array() || v.empty()) bad(a.spec, "axes." + k, "expected a non-empty list of values");
      for (size_t i = 0; i < v.size(); ++i)
        read_axis_files(ctx, k, v[i], "axes." + k + "." + std::to_string(i));
      axes.push_back({k, v});
    }
    std::vector<size_t> at(axes.size(), 0);
    while (true) {
      Point p;
      for (size_t i = 0; i < axes.size(); ++i) p.axes.push_back({axes[i].first, axes[i].second[at[i]]});
      points.push_back(std::move(p));
      size_t i = axes.size();
      while (i > 0 && ++at[i - 1] == axes[i - 1].second.size()) at[--i] = 0;
      if (i == 0) break;
    }
  }
  if (spec.contains("points")) {
    if (!spec["points"].is_array()) bad(a.spec, "points", "expected a list of objects");
    for (size_t i = 0; i < spec["points"].size(); ++i) {
      const json& o = spec["points"][i];
      if (!o.is_object()) bad(a.spec, "points." + std::to_string(i), "expected an object");
      Point p;
      for (const auto& [k, v] : o.items()) {
        read_axis_files(ctx, k, v, "points." + std::to_string(i) + "." + k);
        p.axes.push_back({k, v});
      }
      points.push_back(std::move(p));
    }
  }
  if (points.empty()) bad(a.spec, "axes", "no points: give axes or points");
  // Every point resolved before any runs: a bad axis value fails now, naming its key.
  std::vector<std::string> axis_names;
  for (Point& p : points) {
    for (const auto& [n, v] : p.axes)
      if (std::find(axis_names.begin(), axis_names.end(), n) == axis_names.end()) axis_names.push_back(n);
    try {
      resolve(ctx, p);
    } catch (const std::exception& e) {
      throw std::runtime_error(a.spec + ": a point's settings: " + e.what());
    }
  }
#ifdef UVMSIM_MPI
  // Under mpirun with more than one rank: rank 0 keeps the folder, the others run points it hands out.
  const char* world = std::getenv("OMPI_COMM_WORLD_SIZE");
  const bool mpi = world && std::atoi(world) > 1;
  int mpi_rank = 0, mpi_size = 1;
  if (mpi) {
    MPI_Init(nullptr, nullptr);
    MPI_Comm_rank(MPI_COMM_WORLD, &mpi_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &mpi_size);
  }
  struct Finalize {
    bool on;
    ~Finalize() {
      if (on) MPI_Finalize();
    }
  } finalize{mpi};
  if (mpi && mpi_rank != 0) {
    std::string msg;  // empty: the first ask
    while (true) {
      MPI_Send(msg.data(), int(msg.size()), MPI_CHAR, 0, kTagResult, MPI_COMM_WORLD);
      long long idx = -1;
      MPI_Recv(&idx, 1, MPI_LONG_LONG, 0, kTagWork, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      if (idx < 0) return 0;
      const PointResult r = run_point(ctx, points[size_t(idx)]);
      msg = (r.error.empty() ? "0" : "1") + std::to_string(idx) + "\n" +
            (r.error.empty() ? json({{"stats", r.stats}, {"requests_csv", r.requests_csv}}).dump() : r.error);
    }
  }
#endif
  const auto rank0 = [&]() -> int {
    const fs::path out(a.out);
    if (fs::exists(out) && !fs::is_directory(out)) throw files::FileError(a.out + ": --out is not a folder");
    // The folder's build: another build's points would not be this build's results.
    const fs::path marker = out / "sweep.json";
    if (fs::exists(marker)) {
      const std::vector<uint8_t> b = files::read_regular_file(marker.string());
      const json m = json::parse(b.begin(), b.end(), nullptr, false);
      const std::string was = m.is_object() ? m.value("build", "") : "";
      if (was != build_id())
        throw std::runtime_error(a.out + ": swept by another build of uvmsim (" +
                                 (was.empty() ? "unreadable" : was) + ", this one is " + build_id() +
                                 "): it cannot resume there; use another --out");
    }
    fs::create_directories(out / "points");
    {
      files::AtomicFile f(marker.string(), "sweep.json");
      f.stream() << json({{"build", build_id()}, {"spec", a.spec}}).dump(2) << "\n";
      f.commit();
    }

    std::mutex m;
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> done;  // key -> metrics
    std::map<std::string, std::string> failed;                                     // key -> error
    std::vector<size_t> todo;
    for (size_t i = 0; i < points.size(); ++i) {
      const fs::path d = out / "points" / points[i].key;
      if (fs::exists(d / "stats.json")) {
        const std::vector<uint8_t> b = files::read_regular_file((d / "stats.json").string());
        done[points[i].key] = metrics(json::parse(b.begin(), b.end()));
      } else {
        todo.push_back(i);
      }
    }
    std::string on = std::to_string(a.jobs) + " threads";
#ifdef UVMSIM_MPI
    if (mpi) on = std::to_string(mpi_size - 1) + " MPI ranks";
#endif
    if (!a.quiet)
      std::fprintf(stderr, "sweep: %zu points, %zu done before, %zu to run on %s\n", points.size(),
                   points.size() - todo.size(), todo.size(), on.c_str());
    const auto write_results = [&] {  // under m
      std::vector<std::string> metric_names;
      for (const auto& [k, ms] : done)
        for (const auto& [n, v] : ms)
          if (std::find(metric_names.begin(), metric_names.end(), n) == metric_names.end())
            metric_names.push_back(n);
      std::vector<std::string> columns = {"status", "key"};
      columns.insert(columns.end(), axis_names.begin(), axis_names.end());
      columns.insert(columns.end(), metric_names.begin(), metric_names.end());
      columns.push_back("error");
      std::vector<std::vector<std::string>> rows;
      for (const Point& p : points) {
        const bool ok = done.count(p.key) > 0, bad_point = failed.count(p.key) > 0;
        if (!ok && !bad_point) continue;
        std::vector<std::string> row = {ok ? "done" : "failed", p.key};
        for (const auto& n : axis_names) {
          std::string v;
          for (const auto& [an, av] : p.axes)
            if (an == n) v = set_text(av);
          row.push_back(v);
        }
        std::map<std::string, std::string> mv;
        if (ok)
          for (const auto& [n, v] : done[p.key]) mv[n] = v;
        for (const auto& n : metric_names) row.push_back(mv.count(n) ? mv[n] : "");
        row.push_back(bad_point ? failed[p.key] : "");
        rows.push_back(std::move(row));
      }
      files::AtomicFile f((out / "results.csv").string(), "results.csv");
      for (size_t i = 0; i < columns.size(); ++i) f.stream() << (i ? "," : "") << csv(columns[i]);
      f.stream() << "\n";
      for (const auto& row : rows) {
        for (size_t i = 0; i < row.size(); ++i) f.stream() << (i ? "," : "") << csv(row[i]);
        f.stream() << "\n";
      }
      f.commit();
      const size_t first_metric = 2 + axis_names.size();
      write_db(out / "results.db", columns, rows, first_metric, first_metric + metric_names.size());
    };
    ProgressReporter bar;
    auto last_rows = std::chrono::steady_clock::now();
    const auto start = std::chrono::steady_clock::now();
    std::atomic<size_t> finished{0};
    // A point's result into its folder and the rows (under m).
    const auto record = [&](const Point& p, const PointResult& r) {
      const std::string& error = r.error;
      const fs::path d = out / "points" / p.key;
      fs::create_directories(d);
      if (error.empty()) {
        if (ctx.serving) {  // before stats.json, which marks the point done
          files::AtomicFile f((d / "requests.csv").string(), "requests.csv");
          f.stream() << r.requests_csv;
          f.commit();
        }
        files::AtomicFile f((d / "stats.json").string(), "stats.json");
        f.stream() << r.stats.dump(2) << "\n";
        f.commit();
        done[p.key] = metrics(r.stats);
      } else {
        files::AtomicFile f((d / "error.txt").string(), "error.txt");
        f.stream() << error << "\n";
        f.commit();
        failed[p.key] = error;
      }
      // The rows at most once a second while points finish, and at the end: each point's own files are the
      // record (a resumed sweep rebuilds the rows from them), and rewriting every row after every short point
      // would serialise the threads on it.
      const auto now = std::chrono::steady_clock::now();
      if (now - last_rows >= std::chrono::seconds(1)) {
        write_results();
        last_rows = now;
      }
      const size_t n = ++finished;
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (a.quiet) {
      } else if (bar.active()) {  // a terminal: one bar rewritten in place; failures still get a line of
                                  // their own
        const size_t width = 30, filled = width * n / std::max<size_t>(1, todo.size());
        char line[160];
        std::snprintf(line, sizeof line, "sweep [%s%s] %zu/%zu points, %.2f/s, about %.0f s left",
                      std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(), n,
                      todo.size(), double(n) / s, s / double(n) * double(todo.size() - n));
        if (!error.empty()) std::fprintf(stderr, "\rsweep: %s FAILED: %s\n", p.key.c_str(), error.c_str());
        bar.update(line);
      } else {  // a log: plain lines
        std::fprintf(stderr, "sweep: %zu/%zu %s %s  (%.2f points/s, about %.0f s left)\n", n, todo.size(),
                     p.key.c_str(), error.empty() ? "done" : ("FAILED: " + error).c_str(), double(n) / s,
                     s / double(n) * double(todo.size() - n));
      }
    };
#ifdef UVMSIM_MPI
    if (mpi) {
      // Rank 0 hands out points one at a time as ranks ask (dynamic balance) and writes what they send back.
      int active = mpi_size - 1;
      size_t given = 0;
      while (active > 0) {
        MPI_Status st;
        MPI_Probe(MPI_ANY_SOURCE, kTagResult, MPI_COMM_WORLD, &st);
        int n = 0;
        MPI_Get_count(&st, MPI_CHAR, &n);
        std::string msg(size_t(n), '\0');
        MPI_Recv(msg.data(), n, MPI_CHAR, st.MPI_SOURCE, kTagResult, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (!msg.empty()) {
          const size_t nl = msg.find('\n');
          const size_t idx = std::stoul(msg.substr(1, nl - 1));
          const std::string payload = msg.substr(nl + 1);
          std::lock_guard<std::mutex> g(m);
          PointResult r;
          if (msg[0] == '0') {
            const json got = json::parse(payload);
            r.stats = got["stats"];
            r.requests_csv = got["requests_csv"].get<std::string>();
          } else {
            r.error = payload;
          }
          record(points.at(idx), r);
        }
        long long next_point = given < todo.size() ? (long long)todo[given++] : -1;
        if (next_point < 0) --active;
        MPI_Send(&next_point, 1, MPI_LONG_LONG, st.MPI_SOURCE, kTagWork, MPI_COMM_WORLD);
      }
    } else
#endif
    {
      std::atomic<size_t> next{0};
      const auto worker = [&] {
        for (size_t i; (i = next.fetch_add(1)) < todo.size();) {
          const Point& p = points[todo[i]];
          const PointResult r = run_point(ctx, p);
          std::lock_guard<std::mutex> g(m);
          record(p, r);
        }
      };
      std::vector<std::thread> threads;
      for (unsigned t = 0; t < std::max(1u, a.jobs); ++t) threads.emplace_back(worker);
      for (auto& t : threads) t.join();
    }
    bar.finish();
    {
      std::lock_guard<std::mutex> g(m);
      write_results();
    }
    return int(failed.size());
  };
#ifdef UVMSIM_MPI
  if (mpi) {
    // An error on rank 0 stops every rank (one message, a non-zero exit; no rank waits forever).
    try {
      return rank0();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "uvmsim: error: %s\n", e.what());
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  }
#endif
  return rank0();
}

}  // namespace uvmsim
