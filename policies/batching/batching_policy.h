// Batching policies (serving): when a tenant's queued requests run, and as how large a batch. The server
// asks decide() whenever a request arrives or a batch of the tenant completes, and when the policy's
// timer or the answer's wait_until comes due.
// Contract: a batch size is one of the tenant's allowed sizes and at most the requests queued.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "policies/policy.h"
#include "policies/profile.h"

namespace uvmsim {

struct BatchQueueView {
  uint32_t tenant = 0;
  uint32_t queued = 0;            // requests waiting
  int64_t oldest_arrival_ns = 0;  // of the queued requests (meaningless when none)
  int64_t now = 0;
  bool busy = false;                   // a batch of the tenant is running
  const std::vector<uint32_t>& sizes;  // the batch sizes the tenant may run, ascending
};

struct BatchDecision {
  uint32_t size = 0;        // > 0: run a batch of this many queued requests now
  int64_t wait_until = -1;  // size 0: ask again at this time (-1: only on the next arrival or completion)
  // Optional (policies that needs_layers): per layer position, the sub-batch size it runs as (one of the
  // tenant's sizes dividing `size`; `size` or 0: the whole batch at once). Empty: every layer whole.
  std::vector<uint32_t> layer_sizes = {};
  // Optional: per layer position, the most SMs its kernels may use (0: those the sm_allocation policy
  // gives the tenant). The GPU picks that many of the tenant's SMs, the least occupied at the launch.
  std::vector<uint32_t> layer_sms = {};
};

// Whether a batch of `size` keeps the contract: none while a batch runs, at most what is queued, one of the
// tenant's allowed sizes.
inline bool keeps_contract(const BatchQueueView& v, uint32_t size) {
  return !v.busy && size <= v.queued && std::find(v.sizes.begin(), v.sizes.end(), size) != v.sizes.end();
}

class BatchingPolicy : public Policy {
 public:
  virtual BatchDecision decide(const BatchQueueView& v) = 0;
};

struct BatchingContext {
  PolicyClock& clock;
  const ServingProfile* profile = nullptr;  // for a policy that needs_profile, in a serving run
  uint32_t tenant = 0;                      // its tenant's id
};

struct BatchingKind {
  static constexpr const char* name = "batching";
  static constexpr const char* description = "serving: when queued requests run and as how large a batch";
  static constexpr const char* default_policy = "fixed";
  using Interface = BatchingPolicy;
  using Context = BatchingContext;
};
using BatchingRegistry = Registry<BatchingKind>;
using BatchingRegistrar = Registrar<BatchingKind>;

}  // namespace uvmsim
