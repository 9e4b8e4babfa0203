#include "sim/stats/tenants.h"

#include <algorithm>
#include <climits>

namespace uvmsim {

TenantLedger::TenantLedger(const Workload& w, Stats& stats, int64_t refault_window_ns)
    : stats_(stats), refault_window_ns_(refault_window_ns) {
  const auto& t = w.trace;
  stats_.tenants.resize(std::max<size_t>(1, t.tenants.size()));
  for (size_t i = 0; i < t.tenants.size(); ++i)
    stats_.tenants[i] = {t.tenants[i].name, t.tenants[i].model, t.tenants[i].process};
  tenant_batch_.assign(stats_.tenants.size(), 0);
  block_tenant_.assign(w.blocks, kNone);
  for (size_t a = 0; a < t.allocations.size(); ++a) {
    const uint32_t tenant = t.allocations[a].tenant;
    alloc_spans_.push_back({w.alloc_first[a], w.alloc_pages[a], tenant});
    for (uint32_t b = w.alloc_first[a] / kPagesPerBlock;
         b <= (w.alloc_first[a] + w.alloc_pages[a] - 1) / kPagesPerBlock; ++b)
      block_tenant_[b] = block_tenant_[b] == kNone || block_tenant_[b] == tenant ? tenant : kMixed;
  }
  std::sort(alloc_spans_.begin(), alloc_spans_.end(),
            [](const AllocSpan& x, const AllocSpan& y) { return x.first < y.first; });
  evicted_pages_.assign(w.blocks, BlockMask{});
  evicted_at_.assign(w.blocks, -1);
}

uint32_t TenantLedger::tenant_of_page(uint32_t page) const {
  const uint32_t bt = block_tenant_[page / kPagesPerBlock];
  if (bt != kMixed) return bt == kNone ? 0 : bt;
  auto it = std::upper_bound(alloc_spans_.begin(), alloc_spans_.end(), page,
                             [](uint32_t p, const AllocSpan& a) { return p < a.first; });
  return it == alloc_spans_.begin() ? 0 : std::prev(it)->tenant;
}

void TenantLedger::bytes_moved(uint32_t b, uint32_t first, uint32_t len, bool in) {
  const uint32_t base = b * kPagesPerBlock;
  if (block_tenant_[b] != kMixed) {
    TenantRecord& t = stats_.tenants[tenant_of_page(base + first)];
    (in ? t.bytes_in : t.bytes_out) += uint64_t{len} * trace::kPageBytes;
    return;
  }
  for (uint32_t q = first; q < first + len; ++q) {
    TenantRecord& t = stats_.tenants[tenant_of_page(base + q)];
    (in ? t.bytes_in : t.bytes_out) += trace::kPageBytes;
  }
}

void TenantLedger::evicted(uint32_t b, const BlockMask& pages, uint32_t first_page, uint32_t by_tenant,
                           int64_t at) {
  ++stats_.tenants[tenant_of_page(first_page)].chunks_evicted_from;
  ++stats_.tenants[by_tenant].chunks_evicted_by;
  evicted_pages_[b] = pages;
  evicted_at_[b] = at;
}

void TenantLedger::resident(uint32_t b, const BlockMask& in, const BlockMask& faulted, int64_t at) {
  if (evicted_at_[b] >= 0 && at - evicted_at_[b] <= refault_window_ns_)
    (in & faulted & evicted_pages_[b]).for_each([&](uint32_t q) {
      ++stats_.tenants[tenant_of_page(b * kPagesPerBlock + q)].refaults;
    });
  evicted_pages_[b] &= ~in;  // back on the GPU
}

void TenantLedger::finish() {
  std::vector<std::vector<std::pair<int64_t, int64_t>>> spans(stats_.tenants.size());
  for (const KernelRecord& k : stats_.kernels) {
    TenantRecord& t = stats_.tenants[k.tenant];
    t.kernels += k.launches;
    t.ctas += k.ctas * k.launches;
    t.faults += k.faults;
    if (k.start_ns < 0) continue;
    // A kernel launched more than once (a serving run's template): its earlier launches, which ran alone on
    // the tenant's one stream, add their durations; the last one joins the spans.
    if (k.launches > 1) t.kernel_ns += k.launched_ns - (k.end_ns - k.start_ns);
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
