// What each tenant's inference takes alone on the GPU at several SM shares and batch sizes, found by
// simulating it (sim/cli/serve.cpp, before a serving run whose policies declare needs_profile): what
// D-STACK's policies read (its "knee" and the batch size meeting a tenant's objective) and the per-layer
// scheduler (each layer's time at each share). Plain data.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

namespace uvmsim {

struct TenantProfile {
  std::vector<uint32_t> sms;          // SM shares simulated, ascending; the last is the whole GPU
  std::vector<uint32_t> batch_sizes;  // the tenant's, ascending
  // latency_ns[b][s]: one warm batch of batch_sizes[b] alone on a partition of sms[s] SMs, from its first
  // kernel's launch to its last kernel's end, memory not oversubscribed.
  std::vector<std::vector<int64_t>> latency_ns;
  // layer_latency_ns[b][s][l]: in that measured batch, its layer position l's kernel, launch to end.
  std::vector<std::vector<std::vector<int64_t>>> layer_latency_ns;
  int64_t slo_ns = 0;  // the tenant's latency objective (0: none)

  // Per batch size and layer position of its inference (filled for a policy that needs_layers, from the
  // workload, not simulated): the layer's kernel's resident time and the pages it touches in the tenant's
  // weights and elsewhere (activations, input); whether the layer can run as sub-batches of each smaller
  // size (layer_splits[b][l][s]: sizes batch_sizes[s] dividing batch_sizes[b]).
  std::vector<std::vector<int64_t>> layer_ns;
  std::vector<std::vector<uint32_t>> layer_weight_pages, layer_other_pages;
  std::vector<std::vector<std::vector<bool>>> layer_splits;
  uint64_t footprint_pages = 0;  // distinct pages its kernels touch, at every batch size

  // D-STACK's knee: the smallest share beyond which the latency at the largest batch size improves by less
  // than `gain` (a fraction): the next larger share simulated is not that much faster.
  uint32_t knee(double gain) const {
    if (sms.empty() || latency_ns.empty()) return 0;
    const std::vector<int64_t>& l = latency_ns.back();
    for (size_t s = 0; s + 1 < sms.size(); ++s)
      if (double(l[s]) <= (1 + gain) * double(l[s + 1])) return sms[s];
    return sms.back();
  }
  // The latency of a batch of batch_sizes[b] on the simulated share nearest to `share` SMs from below (the
  // smallest share where none is below).
  int64_t latency_at(size_t b, uint32_t share) const {
    size_t s = 0;
    while (s + 1 < sms.size() && sms[s + 1] <= share) ++s;
    return latency_ns[b][s];
  }
};

struct ServingProfile {
  uint32_t sm_count = 0;
  uint64_t capacity_pages = 0;         // GPU memory, 4 KiB pages (filled with the layers)
  std::vector<TenantProfile> tenants;  // by tenant id
};

// D-STACK's spatio-temporal plan, which its SM allocation enforces and its batching plans for: each tenant's
// knee; slots formed first fit by decreasing knee (ties by tenant id) so that a slot's knees fit the GPU;
// within a slot, the knees scaled in proportion to fill the GPU (the last tenant of the slot takes what
// rounding leaves). One slot holds the GPU at a time, so a tenant runs a 1/slots share of the time.
struct DstackPlan {
  std::vector<uint32_t> knee, share, slot_of;  // per tenant
  std::vector<std::vector<uint32_t>> slots;    // tenant ids, ascending
};

inline DstackPlan dstack_plan(const ServingProfile& p, uint32_t tenants, uint32_t sm_count, double gain) {
  DstackPlan d;
  d.knee.resize(tenants);
  for (uint32_t t = 0; t < tenants; ++t)
    d.knee[t] = std::clamp<uint32_t>(t < p.tenants.size() ? p.tenants[t].knee(gain) : sm_count, 1, sm_count);
  std::vector<uint32_t> order(tenants), used;
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) { return d.knee[a] > d.knee[b]; });
  for (uint32_t t : order) {
    size_t k = 0;
    while (k < d.slots.size() && used[k] + d.knee[t] > sm_count) ++k;
    if (k == d.slots.size()) d.slots.emplace_back(), used.push_back(0);
    d.slots[k].push_back(t);
    used[k] += d.knee[t];
  }
  d.share.assign(tenants, 0);
  d.slot_of.assign(tenants, 0);
  for (size_t k = 0; k < d.slots.size(); ++k) {
    std::sort(d.slots[k].begin(), d.slots[k].end());
    uint64_t given = 0;
    for (size_t j = 0; j < d.slots[k].size(); ++j) {
      const uint32_t t = d.slots[k][j];
      d.slot_of[t] = uint32_t(k);
      d.share[t] = j + 1 == d.slots[k].size() ? uint32_t(sm_count - given)
                                                : uint32_t(uint64_t(d.knee[t]) * sm_count / used[k]);
      given += d.share[t];
    }
  }
  return d;
}

}  // namespace uvmsim
