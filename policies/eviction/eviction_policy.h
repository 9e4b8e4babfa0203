// Eviction policies: which 2 MiB root chunk to evict when the GPU has no free chunk.
// Contract: the simulator reports each chunk's allocation, re-residency and release (and accesses, if
// wants_accesses()); pick_victim returns an allocated chunk for which evictable() is true, or kNoChunk.
#pragma once

#include <cstdint>
#include <functional>

#include "policies/policy.h"
#include "sim/common/chunk_list.h"

namespace uvmsim {

class EvictionPolicy : public Policy {
 public:
  virtual void on_allocate(uint32_t chunk, int64_t now) = 0;
  // The chunk's block became resident on the GPU again (pages migrated into an allocated chunk).
  virtual void on_resident_again(uint32_t chunk, int64_t now) = 0;
  virtual void on_access(uint32_t chunk, int64_t now) { (void)chunk, (void)now; }
  virtual bool wants_accesses() const { return false; }
  virtual void on_free(uint32_t chunk) = 0;
  virtual uint32_t pick_victim(const std::function<bool(uint32_t)>& evictable) = 0;
};

struct EvictionContext {
  uint32_t chunks = 0;  // chunk ids are below this
};

struct EvictionKind {
  static constexpr const char* name = "eviction";
  static constexpr const char* description = "when a chunk is needed and none is free: which chunk to evict";
  static constexpr const char* default_policy = "driver_fifo";
  using Interface = EvictionPolicy;
  using Context = EvictionContext;
};
using EvictionRegistry = Registry<EvictionKind>;
using EvictionRegistrar = Registrar<EvictionKind>;

}  // namespace uvmsim
