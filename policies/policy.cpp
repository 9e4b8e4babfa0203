#include "policies/policy.h"

#include <cmath>
#include <sstream>

namespace uvmsim {

namespace {

std::string number(double v) {
  std::ostringstream os;
  os.precision(15);
  os << v;
  return os.str();
}

}  // namespace

PolicyParams::PolicyParams(const std::string& key_prefix, const std::vector<ParamSpec>& specs,
                           const std::map<std::string, double>& given)
    : key_prefix_(key_prefix) {
  for (auto& s : specs) values_[s.name] = s.default_value;
  for (auto& [k, v] : given) {
    const ParamSpec* spec = nullptr;
    for (auto& s : specs)
      if (s.name == k) spec = &s;
    std::string key = "config key '" + key_prefix + k + "'";
    if (!spec) {
      std::string known;
      for (auto& s : specs) known += (known.empty() ? "" : ", ") + s.name;
      throw std::invalid_argument(
          key + ": the policy has no such parameter (it has: " + (known.empty() ? "none" : known) + ")");
    }
    if (!std::isfinite(v)) throw std::invalid_argument(key + ": not a finite number");
    if (spec->type == ParamType::kInt && v != std::floor(v))
      throw std::invalid_argument(key + ": expected an integer, got " + number(v));
    if (v < spec->min || v > spec->max)
      throw std::invalid_argument(key + ": value " + number(v) + " outside [" + number(spec->min) + ", " +
                                  number(spec->max) + "]");
    values_[k] = v;
  }
}

double PolicyParams::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end())
    throw std::logic_error("a policy read its undeclared parameter " + key_prefix_ + name);
  return it->second;
}

std::string KindInfo::names() const {
  std::string s;
  for (auto& [n, p] : policies) s += (s.empty() ? "" : ", ") + n;
  return s;
}

PolicyCatalog& PolicyCatalog::instance() {
  static PolicyCatalog c;
  return c;
}

void PolicyCatalog::add(const std::string& kind, const std::string& kind_description,
                        const std::string& default_policy, PolicyInfo p) {
  KindInfo& k = kinds_[kind];
  k.name = kind;
  k.description = kind_description;
  k.default_policy = default_policy;
  k.policies[p.name] = std::move(p);
}

const KindInfo* PolicyCatalog::find(const std::string& kind) const {
  auto it = kinds_.find(kind);
  return it == kinds_.end() ? nullptr : &it->second;
}

}  // namespace uvmsim
