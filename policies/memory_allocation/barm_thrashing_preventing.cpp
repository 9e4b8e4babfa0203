// BARM's thrashing-preventing memory allocation (Qiu, Liu, Chen, "BARM", IEEE TPDS 2022), our rendition of
// its description: before a layer kernel starts, reserve GPU memory for its working set (the layer's
// weights, inputs and outputs); admit the kernel only when the reservations of all running layers fit in
// GPU memory, otherwise hold it until a running layer ends. Eviction then takes only chunks outside every
// running layer's reservation (finished layers' weights and dead activations first, in the eviction
// policy's order), so co-running networks do not evict each other's working sets.
//
// In this simulator: a kernel's working set is the 2 MiB VA blocks holding the pages its CTAs touch
// (MemoryAllocationContext::kernel_runs), one chunk each. A kernel is admitted when its blocks and those
// already reserved come to at most the GPU's chunks less `headroom_chunks` (room for prefetches and other
// tenants' unreserved pages), or when no kernel runs (so every kernel eventually starts). A kernel whose
// working set alone exceeds that reserves nothing: it would leave eviction nothing to take. The batching
// side of BARM (splitting a batch that cannot be admitted) is the batching kind's (per_layer_batch).
#include <algorithm>
#include <vector>

#include "policies/memory_allocation/memory_allocation_policy.h"

namespace uvmsim {
namespace {

class BarmThrashingPreventing final : public MemoryAllocationPolicy {
 public:
  BarmThrashingPreventing(const MemoryAllocationContext& c, uint32_t headroom)
      : runs_(c.footprint_runs), kernel_runs_(c.kernel_runs), reserved_(c.blocks, 0),
        limit_(c.capacity_chunks > headroom ? c.capacity_chunks - headroom : 1) {}

  bool admit(const KernelView& k) override {
    if (running_ == 0) return true;
    const std::vector<uint32_t>& b = blocks_of(k.kernel);
    if (b.size() > limit_) return false;  // reserves nothing, but runs alone
    uint64_t fresh = 0;
    for (uint32_t x : b) fresh += reserved_[x] == 0;
    return reserved_count_ + fresh <= limit_;
  }
  void on_kernel_start(const KernelView& k) override {
    ++running_;
    const std::vector<uint32_t>& b = blocks_of(k.kernel);
    if (b.size() > limit_) return;
    for (uint32_t x : b) reserved_count_ += reserved_[x]++ == 0;
  }
  void on_kernel_end(const KernelView& k) override {
    --running_;
    const std::vector<uint32_t>& b = blocks_of(k.kernel);
    if (b.size() > limit_) return;
    for (uint32_t x : b) reserved_count_ -= --reserved_[x] == 0;
  }
  bool evictable(uint32_t block, uint32_t) override { return block >= reserved_.size() || reserved_[block] == 0; }

 private:
  // The VA blocks of a kernel's pages, in order (built once per kernel).
  const std::vector<uint32_t>& blocks_of(uint32_t kernel) {
    if (kernel >= blocks_.size()) blocks_.resize(kernel + 1), built_.resize(kernel + 1, 0);
    if (!built_[kernel]) {
      built_[kernel] = 1;
      if (runs_ && kernel_runs_ && kernel < kernel_runs_->size()) {
        const auto [b, e] = (*kernel_runs_)[kernel];
        std::vector<uint32_t>& out = blocks_[kernel];
        for (uint64_t i = b; i < e; ++i)
          for (uint32_t x = (*runs_)[i].first / kPagesPerBlock; x <= (*runs_)[i].second / kPagesPerBlock; ++x)
            if (out.empty() || out.back() != x) out.push_back(x);
      }
    }
    return blocks_[kernel];
  }
  static constexpr uint32_t kPagesPerBlock = 512;
  const std::vector<std::pair<uint32_t, uint32_t>>* runs_;
  const std::vector<std::pair<uint64_t, uint64_t>>* kernel_runs_;
  std::vector<uint32_t> reserved_;  // per VA block: running kernels that reserve it
  uint64_t reserved_count_ = 0;     // blocks with a reservation
  uint64_t limit_;
  uint32_t running_ = 0;
  std::vector<std::vector<uint32_t>> blocks_;
  std::vector<uint8_t> built_;
};

const MemoryAllocationRegistrar kReg(
    {"barm_thrashing_preventing",
     "per layer: reserve its VA blocks, admit it only when running layers' reservations fit, evict only "
     "unreserved chunks",
     {{"headroom_chunks", ParamType::kInt, "chunks", 0, 1e6, 2,
       "chunks left out of the reservable memory, for prefetches and unreserved pages"}},
     [](const PolicyParams& p, const MemoryAllocationContext& c) {
       return std::make_unique<BarmThrashingPreventing>(c, uint32_t(p.get_int("headroom_chunks")));
     }});

}  // namespace
}  // namespace uvmsim
