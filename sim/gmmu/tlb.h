// The gmmu's optional per-SM TLB (gpu.tlb_entries > 0): direct-mapped entries of 2 MiB reach, tagged by VA
// block. A lookup of a block not held replaces the entry and counts a miss.
#pragma once

#include <cstdint>
#include <vector>

namespace uvmsim {

class Tlb {
 public:
  Tlb(uint32_t sms, uint32_t entries_per_sm)
      : entries_(entries_per_sm), tags_(size_t(sms) * entries_per_sm, 0) {}
  bool enabled() const { return entries_ > 0; }
  // True on a miss (the entry now holds the block).
  bool miss(uint32_t sm, uint32_t block) {
    const uint32_t tag = block + 1;  // 0: empty
    uint32_t& e = tags_[size_t(sm) * entries_ + tag % entries_];
    if (e == tag) return false;
    e = tag;
    return true;
  }

 private:
  uint32_t entries_;
  std::vector<uint32_t> tags_;
};

}  // namespace uvmsim
