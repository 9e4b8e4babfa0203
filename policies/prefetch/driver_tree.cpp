// The real driver's tree prefetcher (uvm_perf_prefetch.c, NVIDIA open GPU kernel modules; the same
// mechanism as Ganguly et al., ISCA'19). Per VA block and destination:
//  - first touch of a block resident nowhere, toward its preferred location: the whole block;
//  - else a binary tree over the block's 512 pages: leaves set = pages resident on the destination plus
//    faulted pages, each faulted page's 64 KiB big page set whole (thrashing pages excluded); for each
//    faulted page take the largest ancestor with set x 100 > size x threshold and prefetch its unset pages.
// Parameters come from the driver's module parameters: driver.prefetch_threshold (51) and
// driver.prefetch_min_faults (1).
#include <bit>

#include "policies/prefetch/prefetch_policy.h"

namespace uvmsim {
namespace {

uint32_t count_range(const uint64_t* w, uint32_t lo, uint32_t n) {
  if (n >= 64) {
    uint32_t c = 0;
    for (uint32_t i = lo / 64; i < (lo + n) / 64; ++i) c += uint32_t(std::popcount(w[i]));
    return c;
  }
  uint64_t mask = (n == 64 ? ~0ull : ((1ull << n) - 1)) << (lo % 64);
  return uint32_t(std::popcount(w[lo / 64] & mask));
}

void to_words(const BlockMask& m, uint64_t* w) {
  for (uint32_t i = 0; i < 8; ++i) w[i] = 0;
  for (uint32_t p = 0; p < kPagesPerBlock; ++p)
    if (m.test(p)) w[p / 64] |= 1ull << (p % 64);
}

class DriverTree final : public PrefetchPolicy {
 public:
  DriverTree(uint32_t threshold, uint32_t min_faults) : threshold_(threshold), min_faults_(min_faults) {}

  BlockMask prefetch(const PrefetchView& v) override {
    BlockMask valid;
    for (uint32_t p = v.first; p < v.end; ++p) valid.set(p);
    if (v.resident_nowhere && v.dest_is_preferred) return valid;
    if (v.fault_count < min_faults_) return {};
    BlockMask set = v.resident_on_dest | v.faulted;
    for (uint32_t big = 0; big < kPagesPerBlock; big += kPagesPerBigPage) {
      bool hit = false;
      for (uint32_t p = big; p < big + kPagesPerBigPage; ++p) hit |= v.faulted.test(p) && !v.thrashing.test(p);
      if (hit)
        for (uint32_t p = big; p < big + kPagesPerBigPage; ++p) set.set(p);
    }
    set &= valid;
    uint64_t w[8];
    to_words(set, w);
    BlockMask out;
    for (uint32_t p = v.first; p < v.end; ++p) {
      if (!v.faulted.test(p)) continue;
      uint32_t best_lo = p, best_n = 1;
      for (uint32_t n = 2; n <= kPagesPerBlock; n *= 2) {
        uint32_t lo = p & ~(n - 1);
        if (count_range(w, lo, n) * 100 > n * threshold_) {
          best_lo = lo;
          best_n = n;
        }
      }
      // Set leaves of the chosen node (the big page of a lone fault at least) come along.
      for (uint32_t q = best_lo; q < best_lo + best_n; ++q) out.set(q);
    }
    out &= valid;
    out &= ~v.thrashing;
    return out;
  }

 private:
  uint32_t threshold_, min_faults_;
};

const PrefetchRegistrar kReg({"driver_tree",
                              "the real driver's tree prefetcher: 64 KiB big pages, then the largest subtree "
                              "over the threshold (driver.prefetch_threshold)",
                              {},
                              [](const PolicyParams&, const DriverConfig& d) {
                                return std::make_unique<DriverTree>(uint32_t(d.prefetch_threshold),
                                                                    uint32_t(d.prefetch_min_faults));
                              }});

}  // namespace
}  // namespace uvmsim
