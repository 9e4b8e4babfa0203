// A static cap on the CTAs each SM runs at once, below the hardware's limits: the static TLP setting that
// the TLP-management literature compares against (e.g. Kayiran et al., "Neither more nor less: optimizing
// thread-level parallelism for GPGPUs", PACT 2013, whose best static limit per application is the oracle
// their dynamic scheme approaches). Fewer CTAs per SM put fewer faulting CTAs in flight at once.

#include "policies/tlp/tlp_policy.h"

namespace uvmsim {
namespace {

class StaticLimit final : public TlpPolicy {
 public:
  explicit StaticLimit(uint32_t limit) : limit_(limit) {}
  uint32_t cta_limit(uint32_t, uint32_t) override { return limit_; }

 private:
  uint32_t limit_;
};

const TlpRegistrar kReg({"static_limit",
                         "at most ctas_per_sm CTAs resident on each SM (and the hardware's limits)",
                         {{"ctas_per_sm", ParamType::kInt, "CTAs", 1, 1024, 4, "CTAs an SM runs at once"}},
                         [](const PolicyParams& p, const TlpContext&) {
                           return std::make_unique<StaticLimit>(uint32_t(p.get_int("ctas_per_sm")));
                         }});

}  // namespace
}  // namespace uvmsim
