// The real driver's tree prefetcher (uvm_perf_prefetch.c, NVIDIA open GPU kernel modules; the same
// mechanism as Ganguly et al., ISCA'19). Per VA block and destination:
//  - first touch of a block resident nowhere, toward its preferred location: the whole block;
//  - else a binary tree over the block's 512 pages: leaves set = pages resident on the destination plus
//    faulted pages, each faulted page's 64 KiB big page set whole (thrashing pages excluded); for each
//    faulted page take the largest ancestor with set x 100 > size x threshold and prefetch its unset pages.
// Parameters are the driver's module parameters uvm_perf_prefetch_threshold (threshold, 51) and
// uvm_perf_prefetch_min_faults (min_faults, 1).
#include "policies/prefetch/prefetch_policy.h"

namespace uvmsim {
namespace {

class DriverTree final : public PrefetchPolicy {
 public:
  DriverTree(uint32_t threshold, uint32_t min_faults) : threshold_(threshold), min_faults_(min_faults) {}

  BlockMask prefetch(const PrefetchView& v) override {
    BlockMask valid = BlockMask::range(v.first, v.end);
    if (v.resident_nowhere && v.dest_is_preferred) return valid;
    if (v.fault_count < min_faults_) return {};
    BlockMask set = v.resident_on_dest | v.faulted;
    // Big pages holding a faulted, non-thrashing page are set whole.
    BlockMask hit = v.faulted & ~v.thrashing;
    for (int i = 0; i < 8; ++i) {
      uint64_t x = hit.w[i], grow = 0;
      for (int g = 0; g < 4; ++g)
        if ((x >> (16 * g)) & 0xffff) grow |= 0xffffull << (16 * g);
      set.w[i] |= grow;
    }
    set &= valid;
    BlockMask out;
    uint32_t done_lo = 0, done_n = 0;  // last chosen node: faults inside it choose no larger one
    v.faulted.for_each([&](uint32_t p) {
      if (done_n && p >= done_lo && p < done_lo + done_n && out.test(p)) return;
      uint32_t best_lo = p, best_n = 1;
      for (uint32_t n = 2; n <= kPagesPerBlock; n *= 2) {
        uint32_t lo = p & ~(n - 1);
        if (set.count_aligned(lo, n) * 100 > n * threshold_) {
          best_lo = lo;
          best_n = n;
        }
      }
      out |= BlockMask::range(best_lo, best_lo + best_n);
      done_lo = best_lo;
      done_n = best_n;
    });
    out &= valid;
    out &= ~v.thrashing;
    return out;
  }

 private:
  uint32_t threshold_, min_faults_;
};

const PrefetchRegistrar kReg(
    {"driver_tree",
     "the real driver's tree prefetcher: 64 KiB big pages, then the largest subtree "
     "over the threshold",
     {{"threshold", ParamType::kInt, "%", 1, 100, 51,
       "a subtree is prefetched when more than this share of its pages is resident or "
       "faulted (uvm_perf_prefetch_threshold)"},
      {"min_faults", ParamType::kInt, "faults", 1, 512, 1,
       "faults a VA block needs in a batch before anything is prefetched "
       "(uvm_perf_prefetch_min_faults)"}},
     [](const PolicyParams& p, const PrefetchContext&) {
       return std::make_unique<DriverTree>(uint32_t(p.get_int("threshold")),
                                           uint32_t(p.get_int("min_faults")));
     }});

}  // namespace
}  // namespace uvmsim
