// Replay policies (uvm_perf_fault_replay_policy): when the driver tells the GPU to replay faulted accesses,
// and whether it first discards the buffer's remaining entries (they fault again after the replay).
// Contract: point() and flush() are constant for a policy.
#pragma once

#include "policies/registry.h"

namespace uvmsim {

enum class ReplayPoint { kAfterBlock, kAfterBatch, kAfterService };

class ReplayPolicy {
 public:
  virtual ~ReplayPolicy() = default;
  virtual ReplayPoint point() const = 0;
  virtual bool flush() const = 0;
};

using ReplayRegistry = Registry<ReplayPolicy>;
using ReplayRegistrar = Registrar<ReplayPolicy>;

}  // namespace uvmsim
