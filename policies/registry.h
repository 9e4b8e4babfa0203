// Self-registration of policies by name. A policy file defines its class and one static Registrar; adding
// a policy touches no other file. Contract: names are unique within a kind; every parameter a policy reads
// is declared with a default and a description, and a value for an undeclared parameter is an error.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace uvmsim {

struct ParamSpec {
  std::string name;
  double default_value;
  std::string description;
};

// Parameter values of one policy, resolved against its declared specs.
class PolicyParams {
 public:
  PolicyParams() = default;
  PolicyParams(const std::string& policy, const std::vector<ParamSpec>& specs,
               const std::map<std::string, double>& given);
  double get(const std::string& name) const;

 private:
  std::string policy_;
  std::map<std::string, double> values_;
};

template <typename Interface, typename... Args>
class Registry {
 public:
  using Factory = std::function<std::unique_ptr<Interface>(const PolicyParams&, Args...)>;
  struct Entry {
    std::string name;
    std::string description;
    std::vector<ParamSpec> params;
    Factory make;
    std::vector<std::string> reads;  // config keys the policy reads (the driver's module parameters)
  };
  static Registry& instance() {
    static Registry r;
    return r;
  }
  void add(Entry e) {
    if (entries_.count(e.name)) throw std::logic_error("policy registered twice: " + e.name);
    entries_.emplace(e.name, std::move(e));
  }
  const Entry* find(const std::string& name) const {
    auto it = entries_.find(name);
    return it == entries_.end() ? nullptr : &it->second;
  }
  const std::map<std::string, Entry>& entries() const { return entries_; }
  std::vector<std::string> names() const {
    std::vector<std::string> n;
    for (auto& [k, v] : entries_) n.push_back(k);
    return n;
  }

 private:
  std::map<std::string, Entry> entries_;
};

template <typename Interface, typename... Args>
struct Registrar {
  explicit Registrar(typename Registry<Interface, Args...>::Entry e) {
    Registry<Interface, Args...>::instance().add(std::move(e));
  }
};

}  // namespace uvmsim
