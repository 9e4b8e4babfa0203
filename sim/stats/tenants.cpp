// Attribution to tenants: whose a page is, bytes moved for each tenant, and what the run adds up per
// tenant at its end.
#include <algorithm>

#include "sim/simulator.h"

namespace uvmsim {

uint32_t Simulator::tenant_of_page(uint32_t page) const {
  const uint32_t bt = block_tenant_[page / kPagesPerBlock];
  if (bt != kMixedTenants) return bt == kNoTenant ? 0 : bt;
  auto it = std::upper_bound(alloc_spans_.begin(), alloc_spans_.end(), page,
                             [](uint32_t p, const AllocSpan& a) { return p < a.first; });
  return it == alloc_spans_.begin() ? 0 : std::prev(it)->tenant;
}

// Bytes of pages [first, first + len) of block b copied in (HtoD) or out (DtoH), to their tenants.
void Simulator::count_tenant_bytes(uint32_t b, uint32_t first, uint32_t len, bool in) {
  const uint32_t base = b * kPagesPerBlock;
  if (block_tenant_[b] != kMixedTenants) {
    TenantRecord& t = stats_.tenants[tenant_of_page(base + first)];
    (in ? t.bytes_in : t.bytes_out) += uint64_t{len} * trace::kPageBytes;
    return;
  }
  for (uint32_t q = first; q < first + len; ++q) {
    TenantRecord& t = stats_.tenants[tenant_of_page(base + q)];
    (in ? t.bytes_in : t.bytes_out) += trace::kPageBytes;
  }
}

// Kernels, CTAs, faults and the time each tenant had a kernel running, from the kernel records.
void Simulator::finish_tenant_stats() {
  std::vector<std::vector<std::pair<int64_t, int64_t>>> spans(stats_.tenants.size());
  for (const KernelRecord& k : stats_.kernels) {
    TenantRecord& t = stats_.tenants[k.tenant];
    ++t.kernels;
    t.ctas += k.ctas;
    t.faults += k.faults;
    if (k.start_ns < 0) continue;
    spans[k.tenant].emplace_back(k.start_ns, k.end_ns);
    t.first_start_ns = t.first_start_ns < 0 ? k.start_ns : std::min(t.first_start_ns, k.start_ns);
    t.last_end_ns = std::max(t.last_end_ns, k.end_ns);
  }
  for (size_t i = 0; i < spans.size(); ++i) {
    std::sort(spans[i].begin(), spans[i].end());
    int64_t reach = INT64_MIN;
    for (auto [a, b] : spans[i]) {
      if (b > reach) stats_.tenants[i].kernel_ns += b - std::max(a, reach);
      reach = std::max(reach, b);
    }
  }
}

}  // namespace uvmsim
