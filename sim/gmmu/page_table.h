// The gmmu component's page table: where each page of the dense page space is (nowhere, CPU, GPU),
// whether the GPU has a valid mapping for it (local, or remote to a CPU page), and per 2 MiB VA block the
// masks of pages on the GPU, on the CPU and inside its allocation. The uvm driver changes it; SMs and the
// audit read it. The per-page bytes and the per-block masks are kept equal by set_loc.
#pragma once

#include <algorithm>
#include <bit>
#include <cstdint>
#include <vector>

#include "sim/common/block_mask.h"
#include "sim/workload/workload.h"

namespace uvmsim {

enum Loc : uint8_t { kNowhere = 0, kOnCpu = 1, kOnGpu = 2 };

class PageTable {
 public:
  explicit PageTable(const Workload& w);
  Loc loc(uint32_t page) const { return Loc(loc_[page]); }
  bool mapped(uint32_t page) const { return mapped_[page >> 6] >> (page & 63) & 1; }
  // Whether every page of [first, first + count) has a valid GPU mapping (64 pages at a time).
  bool all_mapped(uint32_t first, uint32_t count) const {
    return each_word(first, count, [](uint64_t mapped, uint64_t want) { return mapped == want; });
  }
  // Pages of [first, first + count) with a GPU mapping.
  uint64_t count_mapped(uint32_t first, uint32_t count) const {
    uint64_t n = 0;
    each_word(first, count, [&](uint64_t mapped, uint64_t) {
      n += uint64_t(std::popcount(mapped));
      return true;
    });
    return n;
  }
  const BlockMask& on_gpu(uint32_t block) const { return gpu_mask_[block]; }
  const BlockMask& on_cpu(uint32_t block) const { return cpu_mask_[block]; }
  const BlockMask& valid(uint32_t block) const { return valid_mask_[block]; }
  // The block's allocation's pages are [lo, hi).
  uint32_t lo(uint32_t block) const { return block_lo_[block]; }
  uint32_t hi(uint32_t block) const { return block_hi_[block]; }
  // The page is now at `l`: mapped on the GPU exactly when it is on the GPU.
  void set_loc(uint32_t page, Loc l) {
    const uint32_t b = page / kPagesPerBlock, q = page % kPagesPerBlock;
    gpu_mask_[b].set(q, l == kOnGpu);
    cpu_mask_[b].set(q, l == kOnCpu);
    loc_[page] = l;
    if (unmapped_ && mapped(page) && l != kOnGpu) unmapped_->push_back(page);
    set_mapped(page, l == kOnGpu);
  }
  // Pages whose GPU mapping goes are appended to *log from now on (the gpu's run-ahead watches them).
  void log_unmaps(std::vector<uint32_t>* log) { unmapped_ = log; }
  // The GPU maps a CPU-resident page remotely (a thrashing page pinned on the CPU).
  void map_remote(uint32_t page) { set_mapped(page, true); }

 private:
  friend struct AuditProbe;  // the audit's test plants an inconsistency
  std::vector<uint8_t> loc_;
  void set_mapped(uint32_t page, bool on) {
    const uint64_t bit = uint64_t{1} << (page & 63);
    mapped_[page >> 6] = on ? mapped_[page >> 6] | bit : mapped_[page >> 6] & ~bit;
  }
  // Calls f(mapped bits, wanted bits) for each 64-page word of [first, first + count), the mapped bits masked
  // to the range, until f returns false; false if it did.
  template <typename F>
  bool each_word(uint32_t first, uint32_t count, F&& f) const {
    uint64_t p = first;
    const uint64_t end = p + count;
    while (p < end) {
      const uint64_t word = p >> 6, bit = p & 63, n = std::min<uint64_t>(64 - bit, end - p);
      const uint64_t want = (n == 64 ? ~uint64_t{0} : (uint64_t{1} << n) - 1) << bit;
      if (!f(mapped_[word] & want, want)) return false;
      p += n;
    }
    return true;
  }
  std::vector<uint64_t> mapped_;  // one bit per page: a valid GPU mapping (local or remote)
  std::vector<BlockMask> gpu_mask_, cpu_mask_, valid_mask_;
  std::vector<uint16_t> block_lo_, block_hi_;
  std::vector<uint32_t>* unmapped_ = nullptr;
};

}  // namespace uvmsim
