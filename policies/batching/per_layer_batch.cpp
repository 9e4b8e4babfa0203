// The per-layer batch scheduler (Liu, NTUST thesis 2023), our rendition from its abstract
// (../shared/reference/policies.md in the project's design notes): for each layer, how many of the queued
// requests to batch, minimising response time including the page-fault penalty, from a per-layer cost
// model: compute(b) + expected faults(b) x the amortised fault cost. Large batches suit layers whose
// weights dominate (weights are shared across the batch); under memory pressure, layers whose activations
// dominate run as smaller sub-batches.
//
// In this simulator: when the tenant is idle, whatever is queued forms the batch B (the largest allowed
// size not above it, as dynamic batching). Each layer then runs as B / b sub-batches of the allowed size b
// dividing B, on n SMs. compute(b, n) is the layer's kernel at batch b alone on a partition of n SMs, from
// the serving profile (the tenant simulated alone, warm, at 6 SM shares: TenantProfile::layer_latency_ns);
// overflow(b) is the pages its weights and activations at b exceed the tenant's memory (the GPU's memory in
// proportion to the tenant's footprint among all tenants'), faulted again by each sub-batch. The size is the
// b minimising (B / b) x (compute(b, n*) + fault_ns x overflow(b)) at its fastest share n*; the SMs are the
// smallest share whose compute(b, n) is within `sm_gain` of compute(b, n*) (response time within a few
// percent, the rest of the GPU left to the other tenants: the knee criterion of D-STACK, per layer), none
// (the sm_allocation policy's SMs) when that is the whole GPU. The first touch of a page faults whatever the
// choice, so it is left out.
#include <algorithm>
#include <limits>
#include <stdexcept>
#include <utility>

#include "policies/batching/batching_policy.h"

namespace uvmsim {
namespace {

class PerLayerBatch final : public BatchingPolicy {
 public:
  PerLayerBatch(const ServingProfile& sp, uint32_t tenant, double fault_ns, double sm_gain)
      : p_(sp.tenants.at(tenant)), fault_ns_(fault_ns), sm_gain_(sm_gain) {
    uint64_t total = 0;
    for (const TenantProfile& t : sp.tenants) total += t.footprint_pages;
    avail_ = total ? double(sp.capacity_pages) * double(p_.footprint_pages) / double(total) : 0;
  }
  BatchDecision decide(const BatchQueueView& v) override {
    if (v.busy || v.queued == 0) return {};
    size_t vi = v.sizes.size();
    for (size_t i = 0; i < v.sizes.size(); ++i)
      if (v.sizes[i] <= v.queued) vi = i;
    if (vi == v.sizes.size()) return {};
    BatchDecision d{v.sizes[vi], -1, {}, {}};
    if (vi >= p_.layer_ns.size()) return d;
    const uint32_t big = v.sizes[vi];
    bool limited = false;
    for (size_t l = 0; l < p_.layer_ns[vi].size(); ++l) {
      double best = std::numeric_limits<double>::infinity();
      uint32_t pick = big, sms = 0;
      for (size_t s = 0; s <= vi; ++s) {
        if (s < vi && !p_.layer_splits[vi][l][s]) continue;
        const auto [fastest, share] = compute(s, l);
        const double parts = double(big / v.sizes[s]);
        const double pages = double(p_.layer_weight_pages[s][l]) + double(p_.layer_other_pages[s][l]);
        const double cost = parts * (fastest + fault_ns_ * std::max(0.0, pages - avail_));
        if (cost < best) best = cost, pick = v.sizes[s], sms = share;
      }
      d.layer_sizes.push_back(pick);
      d.layer_sms.push_back(sms);
      limited |= sms > 0;
    }
    if (!limited) d.layer_sms.clear();
    return d;
  }

 private:
  // Layer l at batch_sizes[s]: its fastest time over the shares profiled, and the SMs to give it (0: the
  // whole GPU's, no limit). Without a profile of its size, its resident time on the whole GPU.
  std::pair<double, uint32_t> compute(size_t s, size_t l) const {
    if (s >= p_.layer_latency_ns.size() || p_.sms.empty()) return {double(p_.layer_ns[s][l]), 0};
    const auto& by_share = p_.layer_latency_ns[s];
    double fastest = std::numeric_limits<double>::infinity();
    for (const auto& row : by_share) fastest = std::min(fastest, double(row.at(l)));
    for (size_t j = 0; j < by_share.size(); ++j)
      if (double(by_share[j][l]) <= (1 + sm_gain_) * fastest)
        return {fastest, j + 1 == by_share.size() ? 0 : p_.sms[j]};
    return {fastest, 0};
  }

  const TenantProfile& p_;
  double fault_ns_, sm_gain_;
  double avail_ = 0;
};

const BatchingRegistrar kReg(
    {"per_layer_batch",
     "the per-layer batch scheduler: what is queued as one batch, each layer as the sub-batches and on the "
     "SMs that minimise compute plus expected re-faults",
     {{"fault_ns", ParamType::kFloat, "ns", 0, 1e9, 2800,
       "amortised cost of a faulted 4 KiB page (Allen & Ge, SC'21: a batch costs about 0.7 us per KiB "
       "migrated)"},
      {"sm_gain", ParamType::kFloat, "fraction", 0, 1, 0.05,
       "a layer's SMs: the fewest of the profiled shares whose time is within this fraction of its fastest "
       "(D-STACK's knee criterion, applied per layer; a few percent in both sources)"}},
     [](const PolicyParams& p, const BatchingContext& ctx) -> std::unique_ptr<BatchingPolicy> {
       if (!ctx.profile)
         throw std::invalid_argument(
             "config key 'policies.batching.name': per_layer_batch reads the tenants' layers: it runs under "
             "uvmsim serve only");
       return std::make_unique<PerLayerBatch>(*ctx.profile, ctx.tenant, p.get("fault_ns"), p.get("sm_gain"));
     },
     /*needs_profile=*/true,
     /*needs_layers=*/true});

}  // namespace
}  // namespace uvmsim
