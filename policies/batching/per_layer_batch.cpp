// The per-layer batch scheduler (Liu, NTUST thesis 2023), our rendition from its abstract
// (../shared/reference/policies.md in the project's design notes): for each layer, how many of the queued
// requests to batch, minimising response time including the page-fault penalty, from a per-layer cost
// model: compute(b) + expected faults(b) x the amortised fault cost. Large batches suit layers whose
// weights dominate (weights are shared across the batch); under memory pressure, layers whose activations
// dominate run as smaller sub-batches.
//
// In this simulator: when the tenant is idle, whatever is queued forms the batch B (the largest allowed
// size not above it, as dynamic batching). Each layer then runs as B / b sub-batches of the allowed size b
// dividing B that minimises (B / b) x (compute(b) + fault_ns x overflow(b)): compute(b) is the layer's
// resident time at batch b, overflow(b) the pages its weights and activations at b exceed the tenant's
// memory (the GPU's memory in proportion to the tenant's footprint among all tenants'), faulted again by
// each sub-batch. The first touch of a page faults whatever the choice, so it is left out. The layer's sizes
// come from the workload (TenantProfile's layer fields), not from a simulation. Its other half, SM
// decisions per layer, is not rendered (the set pairs it with the hardware's shared SMs).
#include <limits>
#include <stdexcept>

#include "policies/batching/batching_policy.h"

namespace uvmsim {
namespace {

class PerLayerBatch final : public BatchingPolicy {
 public:
  PerLayerBatch(const ServingProfile& sp, uint32_t tenant, double fault_ns) : p_(sp.tenants.at(tenant)), fault_ns_(fault_ns) {
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
    BatchDecision d{v.sizes[vi], -1, {}};
    if (vi >= p_.layer_ns.size()) return d;
    const uint32_t big = v.sizes[vi];
    for (size_t l = 0; l < p_.layer_ns[vi].size(); ++l) {
      double best = std::numeric_limits<double>::infinity();
      uint32_t pick = big;
      for (size_t s = 0; s <= vi; ++s) {
        if (s < vi && !p_.layer_splits[vi][l][s]) continue;
        const double parts = double(big / v.sizes[s]);
        const double pages = double(p_.layer_weight_pages[s][l]) + double(p_.layer_other_pages[s][l]);
        const double cost = parts * (double(p_.layer_ns[s][l]) + fault_ns_ * std::max(0.0, pages - avail_));
        if (cost < best) best = cost, pick = v.sizes[s];
      }
      d.layer_sizes.push_back(pick);
    }
    return d;
  }

 private:
  const TenantProfile& p_;
  double fault_ns_;
  double avail_ = 0;
};

const BatchingRegistrar kReg(
    {"per_layer_batch",
     "the per-layer batch scheduler: what is queued as one batch, each layer as the sub-batches that "
     "minimise compute plus expected re-faults",
     {{"fault_ns", ParamType::kFloat, "ns", 0, 1e9, 2800,
       "amortised cost of a faulted 4 KiB page (Allen & Ge, SC'21: a batch costs about 0.7 us per KiB "
       "migrated)"}},
     [](const PolicyParams& p, const BatchingContext& ctx) -> std::unique_ptr<BatchingPolicy> {
       if (!ctx.profile)
         throw std::invalid_argument(
             "config key 'policies.batching.name': per_layer_batch reads the tenants' layers: it runs under "
             "uvmsim serve only");
       return std::make_unique<PerLayerBatch>(*ctx.profile, ctx.tenant, p.get("fault_ns"));
     },
     /*needs_profile=*/false, /*needs_layers=*/true});

}  // namespace
}  // namespace uvmsim
