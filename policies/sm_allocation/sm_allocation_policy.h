// SM allocation policies: which SMs each tenant's CTAs may be placed on. The CTA scheduler asks at every
// kernel launch and completion (and when the policy's timer fires), then places CTAs only on their tenant's
// SMs; CTAs already running stay where they are.
// Contract: allocate() leaves one SmSet of the GPU's SM count per tenant in `allowed`; a tenant with CTAs
// waiting must be allowed at least one SM (the simulator stops with an error naming the policy otherwise).
#pragma once

#include <bit>
#include <cstdint>
#include <vector>

#include "policies/policy.h"
#include "policies/profile.h"

namespace uvmsim {

// A set of SMs (ids below the GPU's SM count), one bit each.
class SmSet {
 public:
  SmSet() = default;
  static SmSet all(uint32_t sms) {
    SmSet s;
    s.w_.assign((sms + 63) / 64, ~uint64_t{0});
    if (sms % 64) s.w_.back() = (uint64_t{1} << (sms % 64)) - 1;
    return s;
  }
  static SmSet none(uint32_t sms) {
    SmSet s;
    s.w_.assign((sms + 63) / 64, 0);
    return s;
  }
  // SMs [first, first + count) of a GPU of `sms`.
  static SmSet range(uint32_t sms, uint32_t first, uint32_t count) {
    SmSet s = none(sms);
    for (uint32_t sm = first; sm < first + count; ++sm) s.set(sm);
    return s;
  }
  bool test(uint32_t sm) const { return sm / 64 < w_.size() && (w_[sm / 64] >> (sm % 64) & 1); }
  void set(uint32_t sm) { w_[sm / 64] |= uint64_t{1} << (sm % 64); }
  void reset(uint32_t sm) { w_[sm / 64] &= ~(uint64_t{1} << (sm % 64)); }
  uint32_t count() const {
    uint32_t c = 0;
    for (uint64_t x : w_) c += uint32_t(std::popcount(x));
    return c;
  }
  bool operator==(const SmSet&) const = default;
  // Whether an SM is in both (sets of one GPU).
  bool intersects(const SmSet& o) const {
    for (size_t i = 0; i < w_.size() && i < o.w_.size(); ++i)
      if (w_[i] & o.w_[i]) return true;
    return false;
  }
  // The SMs in both (sets of one GPU).
  SmSet& operator&=(const SmSet& o) {
    for (size_t i = 0; i < w_.size() && i < o.w_.size(); ++i) w_[i] &= o.w_[i];
    return *this;
  }

 private:
  std::vector<uint64_t> w_;
};

struct TenantLoad {
  uint32_t kernels_running = 0;  // launched and not finished
  uint64_t ctas_waiting = 0;     // of those kernels, CTAs not yet placed
  uint64_t ctas_running = 0;     // CTAs resident on an SM
  // Filled only for a policy whose wants_pages() is true: of the running kernels, all their CTAs, the pages
  // they touch that had no GPU mapping at their launch (what they will fault on, at most), and how many
  // CTAs of the last one launched an SM holds at once (the hardware's limits).
  uint64_t kernel_ctas = 0;
  uint64_t missing_pages = 0;
  uint32_t ctas_per_sm = 0;
};

struct SmAllocationView {
  uint32_t sm_count = 0;
  const std::vector<TenantLoad>& tenants;  // by tenant id
};

class SmAllocationPolicy : public Policy {
 public:
  virtual void allocate(const SmAllocationView& v, std::vector<SmSet>& allowed) = 0;
  // True: the scheduler fills TenantLoad's page figures (a look at the page table at each launch).
  virtual bool wants_pages() const { return false; }
  // True: it may leave a tenant with CTAs waiting no SM for a while (time-slicing), its timer bringing the
  // tenant back; the scheduler then allows it (a run that never brings it back stops as stuck).
  virtual bool may_idle() const { return false; }
};

struct SmAllocationContext {
  uint32_t sm_count = 0;
  uint32_t tenants = 0;
  PolicyClock& clock;
  const ServingProfile* profile = nullptr;  // for a policy that needs_profile, in a serving run
};

struct SmAllocationKind {
  static constexpr const char* name = "sm_allocation";
  static constexpr const char* description =
      "at every kernel launch and completion: which SMs each tenant's CTAs may use";
  static constexpr const char* default_policy = "shared";
  using Interface = SmAllocationPolicy;
  using Context = SmAllocationContext;
};
using SmAllocationRegistry = Registry<SmAllocationKind>;
using SmAllocationRegistrar = Registrar<SmAllocationKind>;

}  // namespace uvmsim
