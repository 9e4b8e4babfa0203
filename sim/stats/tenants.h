// Attribution to tenants, owned by the stats component: whose a page is (its allocation's tenant), bytes
// moved for each tenant, chunks evicted from and by each, refaults within stats.refault_window_ns, the
// batches each took part in, and what the run adds up per tenant at its end (stats.json "tenants").
#pragma once

#include <cstdint>
#include <vector>

#include "sim/common/block_mask.h"
#include "sim/stats/stats.h"
#include "sim/workload/workload.h"

namespace uvmsim {

class TenantLedger {
 public:
  static constexpr uint32_t kMixed = ~0u;  // tenant_of_block: tenants share the block
  // Fills stats.tenants with the trace's tenants (or one unnamed tenant).
  TenantLedger(const Workload& w, Stats& stats, int64_t refault_window_ns);
  uint32_t tenant_of_page(uint32_t page) const;
  uint32_t tenant_of_block(uint32_t block) const { return block_tenant_[block]; }
  // A fault entry of `tenant` is in batch number `batch` (counted once per tenant and batch).
  void in_batch(uint32_t tenant, uint64_t batch) {
    if (tenant_batch_[tenant] != batch) {
      tenant_batch_[tenant] = batch;
      ++stats_.tenants[tenant].batches;
    }
  }
  // Pages [first, first + len) of block b copied in (HtoD) or out (DtoH).
  void bytes_moved(uint32_t block, uint32_t first, uint32_t len, bool in);
  // An eviction took `pages` (its lowest page's tenant loses the chunk) at `at`, for `by_tenant`.
  void evicted(uint32_t block, const BlockMask& pages, uint32_t first_page, uint32_t by_tenant, int64_t at);
  // Pages `in` of the block became resident at `at`; those of them in `faulted` that its latest eviction
  // took within the window are refaults.
  void resident(uint32_t block, const BlockMask& in, const BlockMask& faulted, int64_t at);
  // Kernels, CTAs, faults and kernel time per tenant, from the kernel records.
  void finish();

 private:
  static constexpr uint32_t kNone = ~0u - 1;  // no allocation in the block
  struct AllocSpan {
    uint32_t first, pages, tenant;
  };
  Stats& stats_;
  const int64_t refault_window_ns_;
  // Per block its allocations' tenant, or kMixed; then tenant_of_page searches alloc_spans_ (by first page).
  std::vector<uint32_t> block_tenant_;
  std::vector<AllocSpan> alloc_spans_;
  // Per block: the pages its latest eviction took and when (-1: never).
  std::vector<BlockMask> evicted_pages_;
  std::vector<int64_t> evicted_at_;
  std::vector<uint64_t> tenant_batch_;  // per tenant: the last batch number that counted it
};

}  // namespace uvmsim
