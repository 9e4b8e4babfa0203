#include "sim/cli/compare.h"

#include <cmath>
#include <filesystem>
#include <iomanip>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <stdexcept>

#include "traces/files.h"

namespace uvmsim {
namespace {

// A run's stats.json, from its folder or the file itself.
nlohmann::json load_run(const std::string& path) {
  const std::string file = std::filesystem::is_directory(path) ? path + "/stats.json" : path;
  const std::vector<uint8_t> bytes = files::read_regular_file(file, uint64_t{1} << 32);
  nlohmann::json j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (j.is_discarded()) throw std::runtime_error(file + ": not JSON");
  if (!j.is_object() || !j.contains("stats") || !j["stats"].is_object() || !j.contains("program"))
    throw std::runtime_error(file + ": not a uvmsim stats.json (no \"stats\" or \"program\")");
  return j;
}

// Every number under `j`, by its dotted path. Arrays of per-kernel or per-op records and histogram bins are
// left out; serving tenants are keyed by name (tenants[alexnet#0].latency_ms.p99), as are other arrays of
// named objects; other arrays by index.
void flatten(const nlohmann::json& j, const std::string& at, std::map<std::string, double>& out) {
  if (j.is_number()) {
    out[at] = j.get<double>();
  } else if (j.is_boolean()) {
    out[at] = j.get<bool>() ? 1 : 0;
  } else if (j.is_object()) {
    for (const auto& [k, v] : j.items()) {
      if (k == "log2_bins" || k == "profile") continue;
      flatten(v, at.empty() ? k : at + "." + k, out);
    }
  } else if (j.is_array()) {
    if (at == "kernels" || at == "ops" || at.ends_with(".kernels") || at.ends_with(".ops")) return;
    for (size_t i = 0; i < j.size(); ++i) {
      const nlohmann::json& e = j[i];
      const std::string key =
          e.is_object() && e.contains("name") && e["name"].is_string() ? e["name"].get<std::string>()
                                                                        : std::to_string(i);
      flatten(e, at + "[" + key + "]", out);
    }
  }
}

// Every scalar (numbers, strings, booleans) and array under `j`, as text, by dotted path: for the config's
// differences.
void flatten_text(const nlohmann::json& j, const std::string& at, std::map<std::string, std::string>& out) {
  if (j.is_object()) {
    for (const auto& [k, v] : j.items()) flatten_text(v, at.empty() ? k : at + "." + k, out);
  } else {
    out[at] = j.dump();  // a scalar, or an array as a whole
  }
}

std::string number(double v) {
  std::ostringstream s;
  if (v == std::floor(v) && std::fabs(v) < 1e15)
    s << std::fixed << std::setprecision(0) << v;
  else
    s << std::setprecision(6) << v;
  return s.str();
}

}  // namespace

void compare_runs(const std::string& a, const std::string& b, std::ostream& out) {
  const nlohmann::json ja = load_run(a), jb = load_run(b);
  std::map<std::string, std::string> ca, cb;
  if (ja.contains("config")) flatten_text(ja["config"], "", ca);
  if (jb.contains("config")) flatten_text(jb["config"], "", cb);
  std::set<std::string> keys;
  for (const auto& [k, v] : ca) keys.insert(k);
  for (const auto& [k, v] : cb) keys.insert(k);
  std::vector<std::string> differ;
  for (const std::string& k : keys) {
    const auto x = ca.find(k), y = cb.find(k);
    const std::string va = x == ca.end() ? "(absent)" : x->second, vb = y == cb.end() ? "(absent)" : y->second;
    if (va != vb) differ.push_back("  " + k + ": " + va + " -> " + vb);
  }
  out << "A: " << a << "\nB: " << b << "\n";
  if (ja.contains("trace") && jb.contains("trace") && ja["trace"].value("hash", "") != jb["trace"].value("hash", ""))
    out << "the runs' traces differ (hash " << ja["trace"].value("hash", "?") << " against "
        << jb["trace"].value("hash", "?") << ")\n";
  out << "config keys that differ: " << differ.size() << "\n";
  for (const std::string& d : differ) out << d << "\n";

  std::map<std::string, double> sa, sb;
  flatten(ja["stats"], "", sa);
  flatten(jb["stats"], "", sb);
  if (ja.contains("tenants")) flatten(ja["tenants"], "tenants", sa);
  if (jb.contains("tenants")) flatten(jb["tenants"], "tenants", sb);
  std::set<std::string> names;
  for (const auto& [k, v] : sa) names.insert(k);
  for (const auto& [k, v] : sb) names.insert(k);
  size_t width = 9;
  for (const std::string& n : names) width = std::max(width, n.size());
  out << "\n" << std::left << std::setw(int(width)) << "statistic" << std::right << std::setw(16) << "A"
      << std::setw(16) << "B" << std::setw(10) << "B/A" << "\n";
  size_t same = 0;
  for (const std::string& n : names) {
    const auto x = sa.find(n), y = sb.find(n);
    const bool both = x != sa.end() && y != sb.end();
    if (both && x->second == y->second) {
      ++same;
      if (x->second == 0) continue;  // zero in both: nothing to see
    }
    std::string ratio = "-";
    if (both && x->second != 0) {
      std::ostringstream r;
      r << std::fixed << std::setprecision(3) << y->second / x->second;
      ratio = r.str();
    }
    out << std::left << std::setw(int(width)) << n << std::right << std::setw(16)
        << (x == sa.end() ? "(absent)" : number(x->second)) << std::setw(16)
        << (y == sb.end() ? "(absent)" : number(y->second)) << std::setw(10) << ratio << "\n";
  }
  out << "\n" << names.size() << " statistics, " << same << " equal in both (rows zero in both left out)\n";
}

}  // namespace uvmsim
