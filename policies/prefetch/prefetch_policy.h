// Prefetch policies: given one VA block's faults toward one destination, which other pages to bring along.
// Contract: prefetch() returns pages to migrate besides the faulted ones; it may include faulted or
// already-resident pages (the driver ignores those) and must leave out pages outside [first, end).
#pragma once

#include <bitset>
#include <cstdint>

#include "policies/registry.h"
#include "sim/config.h"

namespace uvmsim {

constexpr uint32_t kPagesPerBlock = 512;  // 2 MiB VA block of 4 KiB pages
constexpr uint32_t kPagesPerBigPage = 16;  // 64 KiB big page
using BlockMask = std::bitset<kPagesPerBlock>;

struct PrefetchView {
  uint32_t first = 0, end = kPagesPerBlock;  // pages of the block inside its allocation
  const BlockMask& resident_on_dest;
  const BlockMask& faulted;
  const BlockMask& thrashing;
  bool resident_nowhere = false;   // no page of the block is resident anywhere yet (first touch)
  bool dest_is_preferred = false;  // the destination is the block's preferred location
  uint32_t fault_count = 0;
};

class PrefetchPolicy {
 public:
  virtual ~PrefetchPolicy() = default;
  virtual BlockMask prefetch(const PrefetchView& v) = 0;
};

using PrefetchRegistry = Registry<PrefetchPolicy, const DriverConfig&>;
using PrefetchRegistrar = Registrar<PrefetchPolicy, const DriverConfig&>;

}  // namespace uvmsim
