// The policy mechanism shared by every kind. A kind is an interface (policies/<kind>/<kind>_policy.h) with
// a traits struct naming it, its default policy and what a policy of it is built from (its Context: the
// narrow view the component that calls it hands over, never the simulator). A policy is one file: its class
// and one static Registrar giving its name, description and declared parameters. Adding a policy touches
// no other file; adding a kind touches its interface and the component that calls it.
//
// Contract: names are unique within a kind; every parameter a policy reads is declared with a type, unit,
// bounds, default and description; a value for an undeclared parameter, a fraction for an integer one or a
// value out of bounds is an error naming the config key (policies.<kind>.params.<name>).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace uvmsim {

enum class ParamType : uint8_t { kInt, kFloat };

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::kFloat;
  std::string unit;
  double min = 0, max = 0;
  double default_value = 0;
  std::string description;
};

// A policy's parameter values, resolved against its declared specs.
class PolicyParams {
 public:
  PolicyParams() = default;
  // Defaults, then `given`; throws std::invalid_argument naming `key_prefix + name` for an undeclared
  // parameter, a non-integer value of an integer one, or a value outside its bounds.
  PolicyParams(const std::string& key_prefix, const std::vector<ParamSpec>& specs,
               const std::map<std::string, double>& given);
  double get(const std::string& name) const;
  int64_t get_int(const std::string& name) const { return int64_t(get(name)); }
  const std::map<std::string, double>& values() const { return values_; }

 private:
  std::string key_prefix_;
  std::map<std::string, double> values_;
};

// What a policy may ask of the engine besides its kind's calls: the simulated time and a timer. At the time
// set, the engine calls the policy's on_timer(tag), in (time, order set) order with the other events.
class PolicyClock {
 public:
  virtual ~PolicyClock() = default;
  virtual int64_t now() const = 0;
  virtual void set_timer(int64_t at_ns, uint64_t tag) = 0;
};

// The base of every kind's interface.
class Policy {
 public:
  virtual ~Policy() = default;
  // A timer this policy set (PolicyClock::set_timer) has come due.
  virtual void on_timer(uint64_t tag) { (void)tag; }
};

// Every kind and its policies, by name: what the config schema, `uvmsim policies` and the config checks
// read. Filled by the registrars (at static initialisation), read-only afterwards.
struct PolicyInfo {
  std::string name, description;
  std::vector<ParamSpec> params;
  bool needs_profile = false;
  bool needs_layers = false;
};
struct KindInfo {
  std::string name, description, default_policy;
  std::map<std::string, PolicyInfo> policies;
  const PolicyInfo* find(const std::string& policy) const {
    auto it = policies.find(policy);
    return it == policies.end() ? nullptr : &it->second;
  }
  std::string names() const;  // "a, b, c"
};
class PolicyCatalog {
 public:
  static PolicyCatalog& instance();
  void add(const std::string& kind, const std::string& kind_description, const std::string& default_policy,
           PolicyInfo p);
  const KindInfo* find(const std::string& kind) const;
  const std::map<std::string, KindInfo>& kinds() const { return kinds_; }

 private:
  std::map<std::string, KindInfo> kinds_;
};

// The policies of one kind. Kind provides: static constexpr const char* name, description and
// default_policy; using Interface (derived from Policy) and Context (what a policy is built from).
template <typename Kind>
class Registry {
 public:
  using Interface = typename Kind::Interface;
  using Context = typename Kind::Context;
  using Factory = std::function<std::unique_ptr<Interface>(const PolicyParams&, const Context&)>;
  struct Entry {
    std::string name;
    std::string description;
    std::vector<ParamSpec> params;
    Factory make;
    // True: it reads the tenants' serving profile (policies/profile.h), which a serving run then simulates
    // first; outside serving it gets none and must say so.
    bool needs_profile = false;
    // True: it reads each tenant's layers (TenantProfile's layer_* fields) and may split a batch's layers
    // into sub-batches; a serving run then adds the sub-batch kernels.
    bool needs_layers = false;
  };
  static Registry& instance() {
    static Registry r;
    return r;
  }
  void add(Entry e) {
    if (entries_.count(e.name))
      throw std::logic_error(std::string(Kind::name) + " policy registered twice: " + e.name);
    PolicyCatalog::instance().add(
        Kind::name, Kind::description, Kind::default_policy,
        PolicyInfo{e.name, e.description, e.params, e.needs_profile, e.needs_layers});
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
  // Builds the named policy with the given parameter values (std::invalid_argument naming the config key
  // for an unknown policy or a bad parameter).
  std::unique_ptr<Interface> make(const std::string& policy, const std::map<std::string, double>& given,
                                  const Context& ctx) const {
    const Entry* e = find(policy);
    if (!e)
      throw std::invalid_argument(std::string("config key 'policies.") + Kind::name +
                                  ".name': unknown policy '" + policy +
                                  "' (known: " + PolicyCatalog::instance().find(Kind::name)->names() + ")");
    return e->make(PolicyParams(std::string("policies.") + Kind::name + ".params.", e->params, given), ctx);
  }

 private:
  std::map<std::string, Entry> entries_;
};

template <typename Kind>
struct Registrar {
  explicit Registrar(typename Registry<Kind>::Entry e) { Registry<Kind>::instance().add(std::move(e)); }
};

}  // namespace uvmsim
