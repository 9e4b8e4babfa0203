// Equal static SM shares (the study's partitioned baseline, and what green contexts of equal size give on
// the GPU): tenant t of T may use SMs [t * S / T, (t + 1) * S / T), contiguous ids (SMs of one GPC lie next
// to each other), whether or not the others have work. With more tenants than SMs, tenant t gets SM
// t mod S.

#include "policies/sm_allocation/sm_allocation_policy.h"

namespace uvmsim {
namespace {

class EvenPartition final : public SmAllocationPolicy {
 public:
  void allocate(const SmAllocationView& v, std::vector<SmSet>& allowed) override {
    const uint64_t n = allowed.size(), s = v.sm_count;
    for (uint64_t t = 0; t < n; ++t) {
      const SmSet set =
          n > s ? SmSet::range(v.sm_count, uint32_t(t % s), 1)
                : SmSet::range(v.sm_count, uint32_t(t * s / n), uint32_t((t + 1) * s / n - t * s / n));
      if (!(allowed[t] == set)) allowed[t] = set;
    }
  }
};

const SmAllocationRegistrar kReg({"even_partition",
                                  "equal static shares of contiguous SMs, one per tenant, used or not",
                                  {},
                                  [](const PolicyParams&, const SmAllocationContext&) {
                                    return std::make_unique<EvenPartition>();
                                  }});

}  // namespace
}  // namespace uvmsim
