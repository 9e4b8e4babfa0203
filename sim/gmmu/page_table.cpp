#include "sim/gmmu/page_table.h"

namespace uvmsim {

PageTable::PageTable(const Workload& w)
    : loc_(w.pages, kNowhere),
      mapped_((uint64_t{w.pages} + 63) / 64, 0),
      gpu_mask_(w.blocks),
      cpu_mask_(w.blocks),
      valid_mask_(w.blocks),
      block_lo_(w.blocks, 0),
      block_hi_(w.blocks, 0) {
  for (uint32_t p = 0; p < w.pages; ++p)
    if (w.page_valid[p]) valid_mask_[p / kPagesPerBlock].set(p % kPagesPerBlock);
  for (uint32_t b = 0; b < w.blocks; ++b) {
    uint32_t lo = 0, hi = kPagesPerBlock;
    while (lo < hi && !valid_mask_[b].test(lo)) ++lo;
    while (hi > lo && !valid_mask_[b].test(hi - 1)) --hi;
    block_lo_[b] = uint16_t(lo);
    block_hi_[b] = uint16_t(hi);
  }
}

}  // namespace uvmsim
