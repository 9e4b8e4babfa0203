// ETC's memory-aware throttling (Li, Ausavarungnirun, Rossbach, Zhang, Jog et al., "A Framework for
// Memory Oversubscription Management in Graphics Processing Units", ASPLOS 2019), our rendition of its
// description: throttle whole SMs when the working set does not fit. Detection phase: stop half the SMs;
// on a timeout the working set fits (release); on faults with eviction keep or increase throttling.
//
// In this simulator: the first fault whose service needed an eviction (what the driver tells the tlp kind)
// stops `start_fraction` of the SMs (SM s is stopped when s mod 8 falls below that fraction of 8, so every
// GPC keeps SMs running) and starts a window of timeout_ns. At each window's end: no such fault in it means
// the working set now fits, and every SM is released; more than in the window before raises the stopped
// share by one SM in 8 (up to max_fraction); otherwise it is kept. CTAs already on a stopped SM finish
// there; no new CTA is placed on it. ETC's relaxing on faults without eviction is not modelled (the driver
// does not tell the tlp kind of those): release comes only from a quiet window.
#include <algorithm>
#include <cmath>

#include "policies/tlp/tlp_policy.h"

namespace uvmsim {
namespace {

class EtcThrottle final : public TlpPolicy {
 public:
  EtcThrottle(double start, double most, int64_t timeout_ns, PolicyClock& clock)
      : start_(eighths(start)), most_(std::max(eighths(most), eighths(start))), timeout_ns_(timeout_ns), clock_(clock) {}
  uint32_t cta_limit(uint32_t sm, uint32_t) override { return sm % 8 < stopped_ ? kStopped : 0; }
  void on_eviction_fault(uint32_t) override {
    ++in_window_;
    if (stopped_ == 0) {  // detection: throttle, and see whether evictions go on
      stopped_ = start_;
      previous_ = 0;
      in_window_ = 1;
      clock_.set_timer(clock_.now() + timeout_ns_, 0);
    }
  }
  void on_timer(uint64_t) override {
    if (in_window_ == 0) {
      stopped_ = 0;  // the working set fits: release every SM
      return;
    }
    if (in_window_ > previous_) stopped_ = std::min(most_, stopped_ + 1);
    previous_ = in_window_;
    in_window_ = 0;
    clock_.set_timer(clock_.now() + timeout_ns_, 0);
  }

 private:
  static uint32_t eighths(double f) { return uint32_t(std::lround(std::clamp(f, 0.0, 7.0 / 8) * 8)); }
  uint32_t start_, most_;
  int64_t timeout_ns_;
  PolicyClock& clock_;
  uint32_t stopped_ = 0;  // SMs with s mod 8 below this take no new CTA
  uint64_t in_window_ = 0, previous_ = 0;
};

const TlpRegistrar kReg(
    {"etc_throttle",
     "on faults needing eviction, stop a share of the SMs; release them after a window without such faults",
     {{"start_fraction", ParamType::kFloat, "", 0, 0.875, 0.5, "share of SMs stopped when throttling starts"},
      {"max_fraction", ParamType::kFloat, "", 0, 0.875, 0.75, "largest share of SMs stopped"},
      {"timeout_ns", ParamType::kInt, "ns", 1000, 1e12, 1000000,
       "window after which, with no fault needing an eviction in it, the SMs are released"}},
     [](const PolicyParams& p, const TlpContext& c) {
       return std::make_unique<EtcThrottle>(p.get("start_fraction"), p.get("max_fraction"), p.get_int("timeout_ns"),
                                            c.clock);
     }});

}  // namespace
}  // namespace uvmsim
