// Thread oversubscription, from batch-aware unified memory management (Kim, Sim, Gera, Hadidi, Kim,
// "Batch-Aware Unified Memory Management in GPUs for Irregular Workloads", ASPLOS 2020), our rendition of
// its description: an SM holds more CTAs than its hardware limit; when every active CTA of an SM is
// stalled on faults, one is switched out (its context saved, at a cost) and an inactive one switched in,
// so that the newcomer's faults join the batch the driver is forming. The degree of oversubscription is
// lowered when premature evictions rise.
//
// In this simulator: when every CTA resident on an SM is stalled and CTAs wait, the SM takes one more CTA
// beyond the hardware's limits (after switch_ns), as long as it holds fewer than `degree` such extra CTAs;
// the stalled CTAs stay resident (the switched-out contexts' SM resources are not modelled as freed, and
// once their faults are serviced they share the SM with the newcomer). Premature evictions are counted as
// the faults whose service needed an eviction (what the driver tells the tlp kind): at the end of each
// epoch_ns, the degree falls by one when there were more of them than in the epoch before, and rises by
// one (up to max_degree) when there were none.
#include <algorithm>

#include "policies/tlp/tlp_policy.h"

namespace uvmsim {
namespace {

class ThreadOversubscription final : public TlpPolicy {
 public:
  ThreadOversubscription(uint32_t max_degree, int64_t switch_ns, int64_t epoch_ns, PolicyClock& clock)
      : max_degree_(max_degree), degree_(max_degree), switch_ns_(switch_ns), epoch_ns_(epoch_ns), clock_(clock) {}
  uint32_t cta_limit(uint32_t, uint32_t) override { return 0; }
  StallAnswer on_sm_stalled(const SmStallView& v) override {
    roll(v.now);
    if (v.hw_ctas == 0 || v.ctas_waiting == 0) return {};
    const uint32_t extra = v.ctas > v.hw_ctas ? v.ctas - v.hw_ctas : 0;
    if (extra >= degree_) return {};
    return {1, switch_ns_};
  }
  void on_eviction_fault(uint32_t) override {
    roll(clock_.now());
    ++evictions_;
  }

 private:
  // Closes every epoch that ended by `now`.
  void roll(int64_t now) {
    while (now >= epoch_end_) {
      if (evictions_ > previous_)
        degree_ = degree_ > 0 ? degree_ - 1 : 0;
      else if (evictions_ == 0)
        degree_ = std::min(max_degree_, degree_ + 1);
      previous_ = evictions_;
      evictions_ = 0;
      epoch_end_ += epoch_ns_;
    }
  }
  uint32_t max_degree_, degree_;
  int64_t switch_ns_, epoch_ns_;
  PolicyClock& clock_;
  int64_t epoch_end_ = 0;
  uint64_t evictions_ = 0, previous_ = 0;
};

const TlpRegistrar kReg(
    {"thread_oversubscription",
     "when all CTAs of an SM stall on faults, one more CTA beyond the hardware's limits (up to degree); "
     "degree lowered when evictions rise",
     {{"max_degree", ParamType::kInt, "CTAs", 0, 64, 2,
       "most CTAs an SM holds beyond the hardware's limits (the starting degree)"},
      {"switch_ns", ParamType::kInt, "ns", 0, 1e9, 1000,
       "context switch of one CTA: saving and restoring about 50 KiB of registers and shared memory at one "
       "SM's ~120 GB/s (gpu.sm_dram_bytes_per_s of h200.json) takes about 0.4 us each way"},
      {"epoch_ns", ParamType::kInt, "ns", 1000, 1e12, 1000000,
       "period over which faults needing an eviction are counted to adjust the degree"}},
     [](const PolicyParams& p, const TlpContext& c) {
       return std::make_unique<ThreadOversubscription>(uint32_t(p.get_int("max_degree")), p.get_int("switch_ns"),
                                                       p.get_int("epoch_ns"), c.clock);
     }});

}  // namespace
}  // namespace uvmsim
