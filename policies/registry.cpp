#include "policies/registry.h"

namespace uvmsim {

PolicyParams::PolicyParams(const std::string& policy, const std::vector<ParamSpec>& specs,
                           const std::map<std::string, double>& given)
    : policy_(policy) {
  for (auto& s : specs) values_[s.name] = s.default_value;
  for (auto& [k, v] : given) {
    if (!values_.count(k)) throw std::invalid_argument("policy '" + policy + "' has no parameter '" + k + "'");
    values_[k] = v;
  }
}

double PolicyParams::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw std::logic_error("policy '" + policy_ + "' read undeclared parameter " + name);
  return it->second;
}

}  // namespace uvmsim
