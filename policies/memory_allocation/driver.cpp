// The driver's behaviour: every kernel starts when launched, every allocated chunk is an eviction
// candidate, and nothing is evicted before a fault needs the room.
#include "policies/memory_allocation/memory_allocation_policy.h"

namespace uvmsim {
namespace {

class DriverAllocation final : public MemoryAllocationPolicy {
 public:
  bool restricts() const override { return false; }
};

const MemoryAllocationRegistrar kReg({"driver",
                                      "no admission control or reservations; eviction on demand only",
                                      {},
                                      [](const PolicyParams&, const MemoryAllocationContext&) {
                                        return std::make_unique<DriverAllocation>();
                                      }});

}  // namespace
}  // namespace uvmsim
