// Prefetch policies: given one VA block's faults toward one destination, which other pages to bring along.
// Contract: prefetch() returns pages to migrate besides the faulted ones; it may include faulted or
// already-resident pages (the driver ignores those) and must leave out pages outside [first, end).
#pragma once

#include <cstdint>

#include "policies/policy.h"
#include "sim/common/block_mask.h"

namespace uvmsim {

struct PrefetchView {
  uint32_t first = 0, end = kPagesPerBlock;  // pages of the block inside its allocation
  const BlockMask& resident_on_dest;
  const BlockMask& faulted;
  const BlockMask& thrashing;
  bool resident_nowhere = false;   // no page of the block is resident anywhere yet (first touch)
  bool dest_is_preferred = false;  // the destination is the block's preferred location
  uint32_t fault_count = 0;
};

class PrefetchPolicy : public Policy {
 public:
  virtual BlockMask prefetch(const PrefetchView& v) = 0;
};

struct PrefetchContext {};

struct PrefetchKind {
  static constexpr const char* name = "prefetch";
  static constexpr const char* description =
      "per VA block serviced: which pages to bring besides the faulted ones";
  static constexpr const char* default_policy = "driver_tree";
  using Interface = PrefetchPolicy;
  using Context = PrefetchContext;
};
using PrefetchRegistry = Registry<PrefetchKind>;
using PrefetchRegistrar = Registrar<PrefetchKind>;

}  // namespace uvmsim
