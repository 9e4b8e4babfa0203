// Unobtrusive eviction (Kim, Oh, Kim, Hong, "Batch-Aware Unified Memory Management in GPUs for Irregular
// Workloads", ASPLOS 2020), our rendition of its description (../shared/reference/policies.md in the
// project's design notes): when a fault batch's first fault arrives and GPU memory is full, the driver starts
// evicting at once, during the batch's preprocessing, so that the evictions' device-to-host copies overlap
// the batch's host-to-device migrations instead of preceding them.
//
// In this simulator: at each batch's start, as many chunks are evicted ahead as the batch's VA blocks that
// hold no chunk exceed the free chunks (the room its service will need, before prefetching), chosen by the
// eviction policy as on demand. They overlap (overlaps_eviction): their copies start at the batch's start,
// the driver does not wait for them, and a block that takes one of their chunks waits only for that chunk's
// copy. Room the batch needs beyond them is evicted on demand, as the driver does.
#include "policies/memory_allocation/memory_allocation_policy.h"

namespace uvmsim {
namespace {

class UnobtrusiveEviction final : public MemoryAllocationPolicy {
 public:
  uint32_t evict_ahead(const BatchStartView& v) override {
    return v.missing_blocks > v.free_chunks ? v.missing_blocks - v.free_chunks : 0;
  }
  bool overlaps_eviction() const override { return true; }
};

const MemoryAllocationRegistrar kReg(
    {"unobtrusive_eviction",
     "when a fault batch starts with memory full, evict the room it needs at once, overlapping its service",
     {},
     [](const PolicyParams&, const MemoryAllocationContext&) { return std::make_unique<UnobtrusiveEviction>(); }});

}  // namespace
}  // namespace uvmsim
