// Replay policies (uvm_perf_fault_replay_policy): when the driver tells the GPU to replay faulted accesses,
// and whether it first discards the buffer's remaining entries (they fault again after the replay).
// Contract: point() and flush() are constant for a policy.
#pragma once

#include "policies/policy.h"

namespace uvmsim {

enum class ReplayPoint { kAfterBlock, kAfterBatch, kAfterService };

class ReplayPolicy : public Policy {
 public:
  virtual ReplayPoint point() const = 0;
  virtual bool flush() const = 0;
};

struct ReplayContext {};

struct ReplayKind {
  static constexpr const char* name = "replay";
  static constexpr const char* description =
      "when to replay faulted accesses and whether to flush the buffer (uvm_perf_fault_replay_policy)";
  static constexpr const char* default_policy = "batch_flush";
  using Interface = ReplayPolicy;
  using Context = ReplayContext;
};
using ReplayRegistry = Registry<ReplayKind>;
using ReplayRegistrar = Registrar<ReplayKind>;

}  // namespace uvmsim
