// D-STACK's batching (Dhakal, Kulkarni, Ramakrishnan, "D-STACK", 2023), our rendition of its description
// (../shared/reference/policies.md in the project's design notes): each model runs the largest batch that
// meets its latency objective at its knee share of the GPU.
//
// In this simulator: from the serving profile and D-STACK's plan (policies/profile.h: the share of SMs
// sm_allocation dstack gives the tenant, and the slots it time-slices), the target is the largest allowed
// batch size whose latency alone at its share, times the slots (it holds the GPU 1/slots of the time), is
// within `slo_share` of its objective: the rest of the objective is left for waiting (a request arriving just after
// a batch starts waits one batch). A full target batch runs as soon as the tenant is idle; a shorter queue
// waits until its oldest request could still finish a target batch within the objective (arrival + objective
// - the target's latency), then runs what is queued (the largest allowed size not above it). A tenant without
// an objective runs whatever is queued at once, at most the target.
#include <stdexcept>

#include "policies/batching/batching_policy.h"

namespace uvmsim {
namespace {

class Dstack final : public BatchingPolicy {
 public:
  Dstack(const ServingProfile& sp, uint32_t tenant, double knee_gain, double slo_share)
      : slo_ns_(sp.tenants.at(tenant).slo_ns) {
    const TenantProfile& p = sp.tenants[tenant];
    const DstackPlan plan = dstack_plan(sp, uint32_t(sp.tenants.size()), sp.sm_count, knee_gain);
    const uint32_t share = plan.share[tenant];
    const int64_t slots = int64_t(plan.slots.size());
    target_ = p.batch_sizes.empty() ? 1 : p.batch_sizes.front();
    target_ns_ = p.latency_ns.empty() ? 0 : p.latency_at(0, share) * slots;
    for (size_t b = 0; b < p.batch_sizes.size(); ++b) {
      const int64_t l = p.latency_at(b, share) * slots;
      if (slo_ns_ == 0 || double(l) <= slo_share * double(slo_ns_)) target_ = p.batch_sizes[b], target_ns_ = l;
    }
  }
  BatchDecision decide(const BatchQueueView& v) override {
    if (v.busy || v.queued == 0) return {};
    if (v.queued < target_ && slo_ns_ > 0) {
      const int64_t latest = v.oldest_arrival_ns + slo_ns_ - target_ns_;
      if (v.now < latest) return {0, latest};
    }
    uint32_t pick = 0;
    for (uint32_t s : v.sizes)
      if (s <= v.queued && s <= target_) pick = s;
    return {pick, -1};
  }

 private:
  int64_t slo_ns_;
  uint32_t target_ = 1;
  int64_t target_ns_ = 0;
};

const BatchingRegistrar kReg(
    {"dstack",
     "D-STACK: the largest batch whose latency at the tenant's knee share is within slo_share of its "
     "objective (from the serving profile)",
     {{"knee_gain", ParamType::kFloat, "fraction", 0, 1, 0.05,
       "the knee, as sm_allocation dstack finds it (keep the two equal)"},
      {"slo_share", ParamType::kFloat, "fraction", 0.01, 1, 0.5,
       "share of the objective a batch may take (half: the other half for waiting behind a batch)"}},
     [](const PolicyParams& p, const BatchingContext& ctx) -> std::unique_ptr<BatchingPolicy> {
       if (!ctx.profile)
         throw std::invalid_argument(
             "config key 'policies.batching.name': dstack reads the tenants' serving profile: it runs under "
             "uvmsim serve only");
       return std::make_unique<Dstack>(*ctx.profile, ctx.tenant, p.get("knee_gain"), p.get("slo_share"));
     },
     /*needs_profile=*/true});

}  // namespace
}  // namespace uvmsim
