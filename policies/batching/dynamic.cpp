// Dynamic batching, as in Triton's dynamic batcher without a queue delay: whenever the tenant is idle,
// whatever is queued runs at once, as the largest allowed batch size not above the queue (the rest waits
// for the next batch). A queue shorter than the smallest allowed size waits for more arrivals.
#include "policies/batching/batching_policy.h"

namespace uvmsim {
namespace {

class Dynamic final : public BatchingPolicy {
 public:
  BatchDecision decide(const BatchQueueView& v) override {
    if (v.busy || v.queued == 0) return {};
    uint32_t pick = 0;
    for (uint32_t s : v.sizes)
      if (s <= v.queued) pick = s;
    if (v.sizes.empty()) pick = v.queued;
    return {pick, -1};
  }
};

const BatchingRegistrar kReg(
    {"dynamic",
     "whatever is queued, as the largest allowed batch size not above it, as soon as the "
     "tenant is idle",
     {},
     [](const PolicyParams&, const BatchingContext&) { return std::make_unique<Dynamic>(); }});

}  // namespace
}  // namespace uvmsim
