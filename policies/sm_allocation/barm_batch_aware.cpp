// BARM's batch-aware SM allocation (Qiu, Liu, Chen, "BARM", IEEE TPDS 2022), our rendition of its
// description (../shared/reference/policies.md in the project's design notes): the driver services faults
// in batches whose fixed cost is paid once, so faults are cheapest in large batches over few VA blocks. At
// every layer boundary (each kernel launch and completion) each network with a fault-bound layer gets its
// own partition of SMs, sized so that its layer keeps enough CTAs in flight to fill a fault batch from its
// own pages, instead of every network's CTAs interleaving on every SM; networks whose layer is compute-bound
// on resident data share the SMs the fault-bound ones do not need.
//
// In this simulator: a tenant's layer is fault-bound when pages its running kernels touch had no GPU
// mapping at their launch (TenantLoad::missing_pages). Its faults per CTA are those pages over its kernels'
// CTAs (at least one page per `batch_fill` CTAs); it needs batch_fill / (faults per CTA) CTAs in flight,
// that is that many over the CTAs an SM holds of its kernel, in SMs rounded up to `granularity`, at least
// `min_share` SMs. Partitions are contiguous SM ids in tenant order; when they add up to more than the GPU,
// each is scaled down (keeping min_share). Compute-bound tenants with work share the SMs left (min_share
// each is held back for them first); SMs nobody needs go to the fault-bound tenants in proportion.
#include <algorithm>
#include <cmath>

#include "policies/sm_allocation/sm_allocation_policy.h"

namespace uvmsim {
namespace {

class BarmBatchAware final : public SmAllocationPolicy {
 public:
  BarmBatchAware(uint32_t granularity, uint32_t min_share, uint32_t batch_fill)
      : granularity_(granularity), min_share_(min_share), batch_fill_(batch_fill) {}
  bool wants_pages() const override { return true; }

  void allocate(const SmAllocationView& v, std::vector<SmSet>& allowed) override {
    const uint32_t n = uint32_t(allowed.size()), sms = v.sm_count;
    std::vector<uint64_t> want(n, 0);  // SMs each fault-bound tenant asks for
    std::vector<uint32_t> compute;     // compute-bound tenants with work
    uint64_t asked = 0;
    for (uint32_t t = 0; t < n; ++t) {
      const TenantLoad& l = v.tenants[t];
      if (l.ctas_waiting + l.ctas_running == 0) continue;
      if (l.missing_pages == 0 || l.kernel_ctas == 0) {
        compute.push_back(t);
        continue;
      }
      const double faults_per_cta =
          std::max(double(l.missing_pages) / double(l.kernel_ctas), 1.0 / double(batch_fill_));
      const double ctas = std::ceil(double(batch_fill_) / faults_per_cta);
      uint64_t s = uint64_t(std::ceil(ctas / double(std::max<uint32_t>(1, l.ctas_per_sm))));
      s = (s + granularity_ - 1) / granularity_ * granularity_;
      want[t] = std::clamp<uint64_t>(s, min_share_, sms);
      asked += want[t];
    }
    // SMs held back for the compute-bound tenants, and what the fault-bound ones may have.
    const uint64_t reserve = compute.empty() ? 0 : std::min<uint64_t>(sms, uint64_t(min_share_) * compute.size());
    const uint64_t room = sms - reserve;
    std::vector<uint64_t> give(n, 0);
    uint64_t given = 0;
    if (asked > 0) {
      const bool scale = asked > room;
      const bool spread = !scale && compute.empty();  // nobody else needs the rest: hand it out
      const uint64_t share_of = scale || spread ? room : asked;
      for (uint32_t t = 0; t < n; ++t) {
        if (want[t] == 0) continue;
        give[t] = std::max<uint64_t>(std::min<uint64_t>(min_share_, room), want[t] * share_of / asked);
        given += give[t];
      }
      // Rounding may overshoot by a few SMs: take them from the largest partitions.
      while (given > room) {
        const auto it = std::max_element(give.begin(), give.end());
        if (*it <= 1) break;
        --*it;
        --given;
      }
    }
    uint32_t next = 0;
    for (uint32_t t = 0; t < n; ++t) {
      allowed[t] = SmSet::none(sms);
      for (uint64_t i = 0; i < give[t] && next < sms; ++i) allowed[t].set(next++);
    }
    // Compute-bound tenants share the rest (all of it when no tenant faults).
    SmSet rest = SmSet::none(sms);
    for (uint32_t s = next; s < sms; ++s) rest.set(s);
    if (next >= sms) rest.set(sms - 1);  // a tenant with work needs an SM: the last one, shared
    for (uint32_t t : compute) allowed[t] = rest;
    for (uint32_t t = 0; t < n; ++t)  // a fault-bound tenant squeezed out by the reserve shares it
      if (want[t] > 0 && give[t] == 0) allowed[t] = rest;
    // Tenants without work keep no SMs but may start at any launch: the scheduler asks again then.
  }

 private:
  uint32_t granularity_, min_share_, batch_fill_;
};

const SmAllocationRegistrar kReg(
    {"barm_batch_aware",
     "per layer: fault-bound tenants get their own SMs, enough CTAs to fill a fault batch; compute-bound ones "
     "share the rest",
     {{"granularity", ParamType::kInt, "SMs", 1, 4096, 2,
       "partitions are multiples of this (2: an H100/H200 TPC)"},
      {"min_share", ParamType::kInt, "SMs", 1, 4096, 2, "fewest SMs a tenant with work gets"},
      {"batch_fill", ParamType::kInt, "faults", 1, 65536, 256,
       "faults a tenant's CTAs in flight should raise to fill one driver batch (the driver's 256-entry batch)"}},
     [](const PolicyParams& p, const SmAllocationContext&) {
       return std::make_unique<BarmBatchAware>(uint32_t(p.get_int("granularity")), uint32_t(p.get_int("min_share")),
                                               uint32_t(p.get_int("batch_fill")));
     }});

}  // namespace
}  // namespace uvmsim
