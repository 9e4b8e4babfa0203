// Builds the policy a config selects for a kind (policies.<kind>.name and .params), for the component that
// calls that kind; a bad selection or parameter is a ConfigError naming the key.
#pragma once

#include <memory>
#include <stdexcept>

#include "policies/policy.h"
#include "sim/config/config.h"

namespace uvmsim {

template <typename Kind>
std::unique_ptr<typename Kind::Interface> make_policy(const Config& c, const typename Kind::Context& ctx) {
  try {
    return Registry<Kind>::instance().make(c.policy(Kind::name), c.policy_params(Kind::name), ctx);
  } catch (const std::invalid_argument& ex) {
    throw ConfigError(ex.what());
  }
}

}  // namespace uvmsim
