// ETC's proactive eviction (Li et al., "A Framework for Memory Oversubscription Management in Graphics
// Processing Units", ASPLOS 2019), our rendition of its description: evict ahead of demand when free GPU
// memory falls under a threshold, so that the evictions' device-to-host copies are under way before the
// faults that need the room are serviced.
//
// In this simulator: when a fault batch starts with fewer than `reserve_chunks` free 2 MiB chunks (and
// memory is oversubscribed, so that it has filled), the driver first evicts enough chunks to bring the free
// ones back to the reserve, chosen by the eviction policy as on demand. ETC times its evictions from the
// transfer costs; here the reserve is a parameter, about the chunks one batch brings in (the driver's
// batches span one or two VA blocks at the median in the H200 corpus's driver runs, `uvmsim trace info`).
#include "policies/memory_allocation/memory_allocation_policy.h"

namespace uvmsim {
namespace {

class ProactiveEviction final : public MemoryAllocationPolicy {
 public:
  explicit ProactiveEviction(uint32_t reserve) : reserve_(reserve) {}
  uint32_t evict_ahead(const BatchStartView& v) override {
    return v.free_chunks < reserve_ ? reserve_ - v.free_chunks : 0;
  }

 private:
  uint32_t reserve_;
};

const MemoryAllocationRegistrar kReg(
    {"proactive_eviction",
     "at each fault batch's start, evict until reserve_chunks chunks are free",
     {{"reserve_chunks", ParamType::kInt, "chunks", 0, 1e6, 2, "free 2 MiB chunks kept ahead of demand"}},
     [](const PolicyParams& p, const MemoryAllocationContext&) {
       return std::make_unique<ProactiveEviction>(uint32_t(p.get_int("reserve_chunks")));
     }});

}  // namespace
}  // namespace uvmsim
