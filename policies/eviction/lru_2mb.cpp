// Least recently used 2 MiB chunk, as in GPGPU-Sim UVMSmart's LRU eviction: every access to a resident
// page of a chunk makes it most recent (the simulator reports one access per range and block touched).
#include "policies/eviction/eviction_policy.h"

namespace uvmsim {
namespace {

class Lru2Mb final : public EvictionPolicy {
 public:
  explicit Lru2Mb(uint32_t chunks) : order_(chunks) {}
  void on_allocate(uint32_t c, int64_t) override { order_.push_back(c); }
  void on_resident_again(uint32_t c, int64_t) override { order_.push_back(c); }
  void on_access(uint32_t c, int64_t) override { order_.push_back(c); }
  bool wants_accesses() const override { return true; }
  void on_free(uint32_t c) override { order_.remove(c); }
  uint32_t pick_victim(const std::function<bool(uint32_t)>& ok) override { return order_.first_where(ok); }

 private:
  ChunkList order_;
};

const EvictionRegistrar kReg({"lru_2mb",
                              "least recently accessed 2 MiB chunk first (UVMSmart LRU)",
                              {},
                              [](const PolicyParams&, const EvictionContext& c) {
                                return std::make_unique<Lru2Mb>(c.chunks);
                              }});

}  // namespace
}  // namespace uvmsim
