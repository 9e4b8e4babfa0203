// D-STACK's spatio-temporal SM allocation (Dhakal, Kulkarni, Ramakrishnan, "D-STACK: High Throughput DNN
// Inference by Effective Multiplexing and Spatio-Temporal Scheduling of GPUs", 2023), our rendition of its
// description (../shared/reference/policies.md in the project's design notes): each model's "knee" is the
// smallest SM share beyond which its latency improves by less than a few percent, found by profiling it
// alone; models get spatial partitions sized to their knees, and when the knees add up to more than the GPU,
// the models are time-sliced: grouped into slots whose knees fit, one slot on the GPU at a time.
//
// In this simulator: the knees come from the serving profile (policies/profile.h: each tenant simulated alone
// on partitions of 1/8 to all of the GPU at its largest batch size), the smallest share beyond which the
// next share simulated is faster by less than `knee_gain`; slots and shares as dstack_plan forms them
// (policies/profile.h), partitions contiguous SMs in slot order. With several slots, the active one changes every `slice_ns`, skipping slots none of
// whose tenants has a kernel running, and at once when the active slot has no work left; tenants outside
// the active slot get no SM (their running CTAs finish where they are). With no work anywhere the slice
// timer stops.
#include <stdexcept>

#include "policies/sm_allocation/sm_allocation_policy.h"

namespace uvmsim {
namespace {

class Dstack final : public SmAllocationPolicy {
 public:
  Dstack(const SmAllocationContext& ctx, double knee_gain, int64_t slice_ns)
      : clock_(ctx.clock),
        slice_ns_(slice_ns),
        none_(SmSet::none(ctx.sm_count)),
        plan_(dstack_plan(*ctx.profile, ctx.tenants, ctx.sm_count, knee_gain)) {
    part_.assign(ctx.tenants, none_);
    for (const auto& slot : plan_.slots) {
      uint32_t next = 0;
      for (uint32_t t : slot) {
        part_[t] = SmSet::range(ctx.sm_count, next, plan_.share[t]);
        next += plan_.share[t];
      }
    }
  }
  bool may_idle() const override { return plan_.slots.size() > 1; }

  void allocate(const SmAllocationView& v, std::vector<SmSet>& allowed) override {
    load_ = &v.tenants;
    if (plan_.slots.size() > 1) {
      if (!has_work(active_)) advance(false);
      if (!armed_ && any_work()) arm();
    }
    for (size_t t = 0; t < allowed.size(); ++t) {
      const SmSet& want = plan_.slot_of[t] == active_ ? part_[t] : none_;
      if (!(allowed[t] == want)) allowed[t] = want;
    }
  }
  void on_timer(uint64_t tag) override {
    if (tag != generation_) return;
    armed_ = false;
    advance(true);
    if (any_work()) arm();
  }

 private:
  bool has_work(uint32_t slot) const {
    for (uint32_t t : plan_.slots[slot])
      if ((*load_)[t].kernels_running > 0) return true;
    return false;
  }
  bool any_work() const {
    for (uint32_t k = 0; k < plan_.slots.size(); ++k)
      if (has_work(k)) return true;
    return false;
  }
  // The next slot with work after the active one (itself last when `include_self`); none: unchanged.
  void advance(bool include_self) {
    const uint32_t n = uint32_t(plan_.slots.size());
    for (uint32_t k = 1; k <= n; ++k) {
      const uint32_t c = (active_ + k) % n;
      if ((c != active_ || include_self) && has_work(c)) {
        if (c != active_) active_ = c, armed_ = false;
        return;
      }
    }
  }
  void arm() {
    clock_.set_timer(clock_.now() + slice_ns_, ++generation_);
    armed_ = true;
  }

  PolicyClock& clock_;
  int64_t slice_ns_;
  SmSet none_;
  DstackPlan plan_;
  std::vector<SmSet> part_;
  const std::vector<TenantLoad>* load_ = nullptr;
  uint32_t active_ = 0;
  bool armed_ = false;
  uint64_t generation_ = 0;
};

const SmAllocationRegistrar kReg(
    {"dstack",
     "D-STACK: partitions sized to each tenant's knee (from the serving profile), time-sliced slots when "
     "the knees exceed the GPU",
     {{"knee_gain", ParamType::kFloat, "fraction", 0, 1, 0.05,
       "the knee: the smallest share beyond which the next share simulated is faster by less than this (\"a few percent\")"},
      {"slice_ns", ParamType::kInt, "ns", 1000, 1e12, 2e6,
       "time each slot of tenants holds the GPU when the knees add up to more than it (not from the source: "
       "CUDA's time slice order)"}},
     [](const PolicyParams& p, const SmAllocationContext& ctx) -> std::unique_ptr<SmAllocationPolicy> {
       if (!ctx.profile)
         throw std::invalid_argument(
             "config key 'policies.sm_allocation.name': dstack reads the tenants' serving profile: it runs "
             "under uvmsim serve only");
       return std::make_unique<Dstack>(ctx, p.get("knee_gain"), p.get_int("slice_ns"));
     },
     /*needs_profile=*/true});

}  // namespace
}  // namespace uvmsim
