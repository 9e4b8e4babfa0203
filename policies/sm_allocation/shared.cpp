// The hardware's default: every tenant's CTAs may run on every SM, placed breadth-first by the CTA
// dispatcher in launch order.
#include "policies/sm_allocation/sm_allocation_policy.h"

namespace uvmsim {
namespace {

class Shared final : public SmAllocationPolicy {
 public:
  void allocate(const SmAllocationView& v, std::vector<SmSet>& allowed) override {
    for (SmSet& s : allowed)
      if (s.count() != v.sm_count) s = SmSet::all(v.sm_count);
  }
};

const SmAllocationRegistrar kReg({"shared",
                                  "every tenant may use every SM (the hardware default, no partition)",
                                  {},
                                  [](const PolicyParams&, const SmAllocationContext&) {
                                    return std::make_unique<Shared>();
                                  }});

}  // namespace
}  // namespace uvmsim
