// Thread-level parallelism (TLP) policies: how many CTAs an SM runs at once. The CTA scheduler asks
// cta_limit() whenever it places a CTA (0: the hardware's limits only; kStopped: none here). When every CTA
// resident on an SM is stalled on faults and CTAs are waiting, it asks on_sm_stalled(): the answer may make
// more CTAs resident there beyond the limits (inactive CTAs switched in, their context saved elsewhere), each
// starting after a switch cost. The driver notifies faults whose service needed an eviction. Contract:
// answers depend only on what the policy was told and its parameters.
#pragma once

#include <cstdint>

#include "policies/policy.h"

namespace uvmsim {

struct SmStallView {
  uint32_t sm = 0;
  uint32_t ctas = 0;          // resident, all stalled on faults
  uint64_t ctas_waiting = 0;  // CTAs of running kernels not yet placed (any SM)
  // CTAs of the next kernel to place here that the SM holds at once within the hardware's limits (so
  // ctas - hw_ctas, when positive, are CTAs a policy added beyond them); 0 when none may be placed here.
  uint32_t hw_ctas = 0;
  int64_t now = 0;
};

struct StallAnswer {
  uint32_t extra_ctas = 0;  // CTAs to place on the SM beyond its limits
  int64_t switch_ns = 0;    // each of them starts this much later (the context switch)
};

class TlpPolicy : public Policy {
 public:
  // cta_limit's answer for an SM that takes no new CTA at all (a throttled SM).
  static constexpr uint32_t kStopped = UINT32_MAX;
  virtual uint32_t cta_limit(uint32_t sm, uint32_t tenant) = 0;
  virtual StallAnswer on_sm_stalled(const SmStallView& v) {
    (void)v;
    return {};
  }
  // A fault of this tenant's CTA was serviced with an eviction (a premature eviction, when the evicted
  // data is used again).
  virtual void on_eviction_fault(uint32_t tenant) { (void)tenant; }
  // False: cta_limit() always answers 0 and on_sm_stalled() never adds CTAs, and the scheduler may skip
  // asking (the hot path of the default).
  virtual bool limits() const { return true; }
};

struct TlpContext {
  uint32_t sm_count = 0;
  uint32_t max_ctas_per_sm = 0;  // the hardware's
  PolicyClock& clock;
};

struct TlpKind {
  static constexpr const char* name = "tlp";
  static constexpr const char* description =
      "CTAs resident per SM; when every CTA of an SM is stalled on faults, more CTAs and a switch cost";
  static constexpr const char* default_policy = "unlimited";
  using Interface = TlpPolicy;
  using Context = TlpContext;
};
using TlpRegistry = Registry<TlpKind>;
using TlpRegistrar = Registrar<TlpKind>;

}  // namespace uvmsim
