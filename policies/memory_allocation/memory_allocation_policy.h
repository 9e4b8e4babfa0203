// Memory allocation policies: which kernels may start, which chunks eviction may take, and eviction ahead
// of demand. The CTA scheduler asks admit() before a kernel's first CTA is placed (a kernel refused waits
// and is asked again at every kernel completion and at the policy's timer) and reports each kernel's start
// and end; the driver asks evictable() for each candidate chunk, and evict_ahead() when a fault batch starts
// (that many more chunks are evicted before the batch's own service). Reservations are the policy's own
// state, expressed through admit() and evictable().
// Contract: with nothing evictable the driver cannot make room and the run stops with an error naming the
// policy, so a policy must leave a running kernel's faults a way to be served.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "policies/policy.h"

namespace uvmsim {

struct KernelView {
  uint32_t kernel = 0;  // index in the trace's kernels
  uint32_t tenant = 0;
  uint64_t ctas = 0;
};

struct BatchStartView {
  uint32_t free_chunks = 0;
  uint32_t capacity_chunks = 0;
  uint32_t fault_entries = 0;  // in the buffer when the batch starts
  uint32_t missing_blocks = 0;  // distinct VA blocks of the batch's faults holding no chunk yet
};

class MemoryAllocationPolicy : public Policy {
 public:
  virtual bool admit(const KernelView& k) {
    (void)k;
    return true;
  }
  virtual void on_kernel_start(const KernelView& k) { (void)k; }
  virtual void on_kernel_end(const KernelView& k) { (void)k; }
  // The chunk holding VA block `block`, whose pages belong to `tenant` (or ~0u when tenants share it).
  virtual bool evictable(uint32_t block, uint32_t tenant) {
    (void)block, (void)tenant;
    return true;
  }
  virtual uint32_t evict_ahead(const BatchStartView& v) {
    (void)v;
    return 0;
  }
  // True: evict_ahead's evictions start when the batch does and overlap its service: the driver does not
  // wait for their device-to-host copies, only, when it reuses one of their chunks, for that copy. False:
  // they precede the batch's service, each copy waited for.
  virtual bool overlaps_eviction() const { return false; }
  // False: admit() and evictable() always answer true and evict_ahead() 0, and the engine may skip asking.
  virtual bool restricts() const { return true; }
};

struct MemoryAllocationContext {
  uint32_t blocks = 0;  // VA block ids are below this
  uint32_t tenants = 0;
  uint32_t capacity_chunks = 0;
  PolicyClock& clock;
  // The pages each kernel touches, where the workload knows them: kernel k's are runs [first, last] of dense
  // pages footprint_runs[kernel_runs[k].first, kernel_runs[k].second) (page p lies in VA block p / 512).
  const std::vector<std::pair<uint32_t, uint32_t>>* footprint_runs = nullptr;
  const std::vector<std::pair<uint64_t, uint64_t>>* kernel_runs = nullptr;
};

struct MemoryAllocationKind {
  static constexpr const char* name = "memory_allocation";
  static constexpr const char* description =
      "admission before a kernel starts, eviction candidates, reservations, eviction ahead of demand";
  static constexpr const char* default_policy = "driver";
  using Interface = MemoryAllocationPolicy;
  using Context = MemoryAllocationContext;
};
using MemoryAllocationRegistry = Registry<MemoryAllocationKind>;
using MemoryAllocationRegistrar = Registrar<MemoryAllocationKind>;

}  // namespace uvmsim
