// The real driver's victim order (uvm_pmm_gpu.c): a chunk goes to the tail of the USED list when it is
// allocated or when its block becomes resident on the GPU again; accesses do not move it; the victim is
// the head. So eviction is FIFO by allocation ("earliest allocated first"), not LRU.
#include "policies/eviction/eviction_policy.h"

namespace uvmsim {
namespace {

class DriverFifo final : public EvictionPolicy {
 public:
  explicit DriverFifo(uint32_t chunks) : used_(chunks) {}
  void on_allocate(uint32_t c, int64_t) override { used_.push_back(c); }
  void on_resident_again(uint32_t c, int64_t) override { used_.push_back(c); }
  void on_free(uint32_t c) override { used_.remove(c); }
  uint32_t pick_victim(const std::function<bool(uint32_t)>& ok) override { return used_.first_where(ok); }

 private:
  ChunkList used_;
};

const EvictionRegistrar kReg({"driver_fifo",
                              "the driver's USED list: FIFO by allocation or re-residency",
                              {},
                              [](const PolicyParams&, const EvictionContext& c) {
                                return std::make_unique<DriverFifo>(c.chunks);
                              }});

}  // namespace
}  // namespace uvmsim
