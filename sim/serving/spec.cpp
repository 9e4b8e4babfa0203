#include "sim/serving/spec.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "traces/files.h"

namespace uvmsim {

const char* to_string(ArrivalKind k) {
  switch (k) {
    case ArrivalKind::kClosed:
      return "closed";
    case ArrivalKind::kPoisson:
      return "poisson";
    case ArrivalKind::kGamma:
      return "gamma";
    case ArrivalKind::kTrace:
      return "trace";
  }
  return "?";
}

namespace {

using nlohmann::json;

// Reads one JSON object's keys, each once, and refuses any key it was not asked for.
class Fields {
 public:
  Fields(const json& j, std::string path, const std::string& source)
      : j_(j), path_(std::move(path)), src_(source) {
    if (!j.is_object()) fail(path_.empty() ? "the spec" : path_, "must be a JSON object");
  }
  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw SpecError(src_ + ": " + key + ": " + what);
  }
  std::string key(const std::string& k) const { return path_.empty() ? k : path_ + "." + k; }
  bool has(const std::string& k) const { return j_.contains(k); }
  const json& at(const std::string& k) {
    seen_.insert(k);
    return j_.at(k);
  }
  double number(const std::string& k, double lo, double hi, bool integer = false) {
    if (!has(k)) fail(key(k), "missing");
    const json& v = at(k);
    if (!v.is_number()) fail(key(k), "must be a number, not " + v.dump());
    const double x = v.get<double>();
    if (!std::isfinite(x) || x < lo || x > hi)
      fail(key(k), v.dump() + " is outside [" + fmt(lo) + ", " + fmt(hi) + "]");
    if (integer && x != std::floor(x)) fail(key(k), v.dump() + " must be a whole number");
    return x;
  }
  double number_or(const std::string& k, double dflt, double lo, double hi, bool integer = false) {
    return has(k) ? number(k, lo, hi, integer) : dflt;
  }
  std::string text(const std::string& k) {
    if (!has(k)) fail(key(k), "missing");
    const json& v = at(k);
    if (!v.is_string() || v.get<std::string>().empty()) fail(key(k), "must be a non-empty string");
    return v.get<std::string>();
  }
  std::string choice(const std::string& k, const std::vector<std::string>& allowed, const std::string& dflt) {
    if (!has(k)) {
      if (dflt.empty()) fail(key(k), "missing");
      return dflt;
    }
    const std::string v = text(k);
    for (const auto& a : allowed)
      if (a == v) return v;
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    fail(key(k), "\"" + v + "\" is not one of " + list);
  }
  bool flag(const std::string& k, bool dflt) {
    if (!has(k)) return dflt;
    const json& v = at(k);
    if (!v.is_boolean()) fail(key(k), "must be true or false, not " + v.dump());
    return v.get<bool>();
  }
  // Every key of the object was read.
  void done() const {
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (!seen_.count(it.key())) fail(key(it.key()), "unknown key");
  }

 private:
  static std::string fmt(double x) {
    std::ostringstream os;
    os << x;
    return os.str();
  }
  const json& j_;
  std::string path_;
  const std::string& src_;
  std::set<std::string> seen_;
};

constexpr double kMaxMs = 1e9;  // about 11.6 days of simulated time

ArrivalSpec parse_arrivals(Fields& tenant, const std::string& source) {
  if (!tenant.has("arrivals")) tenant.fail(tenant.key("arrivals"), "missing");
  Fields f(tenant.at("arrivals"), tenant.key("arrivals"), source);
  ArrivalSpec a;
  const std::string kind = f.choice("process", {"closed", "poisson", "gamma", "trace"}, "");
  if (kind == "closed") {
    a.kind = ArrivalKind::kClosed;
    a.in_flight = uint32_t(f.number("in_flight", 1, 1 << 20, true));
    a.think_ns = int64_t(std::llround(f.number_or("think_ms", 0, 0, kMaxMs) * 1e6));
  } else if (kind == "poisson" || kind == "gamma") {
    a.kind = kind == "poisson" ? ArrivalKind::kPoisson : ArrivalKind::kGamma;
    a.rate_per_s = f.number("rate_per_s", 0, 1e9);
    if (a.rate_per_s <= 0) f.fail(f.key("rate_per_s"), "must be above 0");
    if (a.kind == ArrivalKind::kGamma) {
      a.cv = f.number("cv", 0, 100);
      if (a.cv <= 0) f.fail(f.key("cv"), "must be above 0");
    }
  } else {
    a.kind = ArrivalKind::kTrace;
    a.trace = f.text("trace");
    a.trace_tenant = uint32_t(f.number_or("tenant", 0, 0, 1 << 20, true));
  }
  f.done();
  return a;
}

}  // namespace

ServeSpec parse_serve_spec(const std::string& json_text, const std::string& source) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw SpecError(source + ": not valid JSON (" + e.what() + ")");
  }
  Fields f(j, "", source);
  ServeSpec s;
  s.seed = uint64_t(f.number_or("seed", 1, 0, 9007199254740991.0, true));
  const bool by_requests = f.has("requests"), by_time = f.has("duration_ms");
  if (by_requests && by_time) f.fail("duration_ms", "give either requests or duration_ms, not both");
  if (by_requests) s.requests = uint64_t(f.number("requests", 1, 1e9, true));
  if (by_time) {
    s.duration_ns = int64_t(std::llround(f.number("duration_ms", 0, kMaxMs) * 1e6));
    if (s.duration_ns <= 0) f.fail("duration_ms", "must be above 0");
  }
  s.warmup_requests = uint64_t(f.number_or("warmup_requests", 0, 0, 1e9, true));
  s.warmup_ns = int64_t(std::llround(f.number_or("warmup_ms", 0, 0, kMaxMs) * 1e6));
  s.slowdown = f.flag("slowdown", true);
  if (!f.has("tenants")) f.fail("tenants", "missing");
  const json& ts = f.at("tenants");
  if (!ts.is_array() || ts.empty()) f.fail("tenants", "must be a non-empty list");
  std::set<std::string> names;
  for (size_t i = 0; i < ts.size(); ++i) {
    Fields t(ts[i], "tenants[" + std::to_string(i) + "]", source);
    ServeTenantSpec x;
    x.model = t.text("model");
    x.name = t.has("name") ? t.text("name") : x.model + "#" + std::to_string(i);
    if (x.name.find_first_of(",\"\n\r") != std::string::npos)
      t.fail(t.key("name"), "\"" + x.name + "\" holds a comma, quote or line break (requests.csv names tenants)");
    if (!names.insert(x.name).second) t.fail(t.key("name"), "\"" + x.name + "\" names two tenants");
    if (!t.has("batch_sizes")) t.fail(t.key("batch_sizes"), "missing");
    const json& bs = t.at("batch_sizes");
    if (!bs.is_array() || bs.empty()) t.fail(t.key("batch_sizes"), "must be a non-empty list");
    for (const json& b : bs) {
      if (!b.is_number_integer() || b.get<int64_t>() < 1 || b.get<int64_t>() > 4096)
        t.fail(t.key("batch_sizes"), b.dump() + " is not a batch size (a whole number from 1)");
      const uint32_t v = uint32_t(b.get<int64_t>());
      if (!x.batch_sizes.empty() && v <= x.batch_sizes.back())
        t.fail(t.key("batch_sizes"), "must be ascending and distinct");
      x.batch_sizes.push_back(v);
    }
    x.slo_ms = t.number_or("slo_ms", 0, 0, kMaxMs);
    x.own_process = t.choice("process", {"shared", "own"}, "shared") == "own";
    x.sms = uint32_t(t.number_or("sms", 0, 0, 1 << 16, true));
    x.cold = t.flag("cold", false);
    x.arrivals = parse_arrivals(t, source);
    if (t.has("batching")) {
      Fields b(t.at("batching"), t.key("batching"), source);
      x.batching = b.text("name");
      if (b.has("params")) {
        const json& p = b.at("params");
        if (!p.is_object()) b.fail(b.key("params"), "must be a JSON object");
        for (auto it = p.begin(); it != p.end(); ++it) {
          if (!it.value().is_number()) b.fail(b.key("params." + it.key()), "must be a number");
          x.batching_params[it.key()] = it.value().get<double>();
        }
      }
      b.done();
    }
    t.done();
    s.tenants.push_back(std::move(x));
  }
  bool all_trace = true;
  for (const auto& t : s.tenants) all_trace &= t.arrivals.kind == ArrivalKind::kTrace;
  if (!by_requests && !by_time && !all_trace)
    f.fail("requests",
           "missing: give requests (counted per tenant) or duration_ms, or the run would never end (only "
           "arrivals from a trace end by themselves)");
  f.done();
  return s;
}

ServeSpec load_serve_spec(const std::string& path) {
  const std::vector<uint8_t> bytes = files::read_regular_file(path, uint64_t{64} << 20);
  return parse_serve_spec(std::string(bytes.begin(), bytes.end()), path);
}

}  // namespace uvmsim
