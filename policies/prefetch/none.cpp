// No prefetching: only faulted pages migrate (uvm_perf_prefetch_enable=0).
#include "policies/prefetch/prefetch_policy.h"

namespace uvmsim {
namespace {

class NoPrefetch final : public PrefetchPolicy {
 public:
  BlockMask prefetch(const PrefetchView&) override { return {}; }
};

const PrefetchRegistrar kReg({"none",
                              "no prefetching: only the faulted 4 KiB pages migrate",
                              {},
                              [](const PolicyParams&, const PrefetchContext&) {
                                return std::make_unique<NoPrefetch>();
                              }});

}  // namespace
}  // namespace uvmsim
