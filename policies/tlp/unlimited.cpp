// The hardware's behaviour: as many CTAs per SM as its threads, registers, shared memory and CTA slots
// allow; a stalled SM waits for its faults.
#include "policies/tlp/tlp_policy.h"

namespace uvmsim {
namespace {

class Unlimited final : public TlpPolicy {
 public:
  uint32_t cta_limit(uint32_t, uint32_t) override { return 0; }
  bool limits() const override { return false; }
};

const TlpRegistrar kReg({"unlimited",
                         "CTAs per SM bounded only by the hardware's resources (no TLP management)",
                         {},
                         [](const PolicyParams&, const TlpContext&) {
                           return std::make_unique<Unlimited>();
                         }});

}  // namespace
}  // namespace uvmsim
