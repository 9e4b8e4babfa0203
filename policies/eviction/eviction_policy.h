// Eviction policies: which 2 MiB root chunk to evict when the GPU has no free chunk.
// Contract: the simulator reports each chunk's allocation, re-residency and release (and accesses, if
// wants_accesses()); pick_victim returns an allocated chunk for which evictable() is true, or kNoChunk.
#pragma once

#include <cstdint>
#include <functional>

#include "policies/registry.h"

namespace uvmsim {

constexpr uint32_t kNoChunk = ~0u;

class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;
  virtual void on_allocate(uint32_t chunk, int64_t now) = 0;
  // The chunk's block became resident on the GPU again (pages migrated into an allocated chunk).
  virtual void on_resident_again(uint32_t chunk, int64_t now) = 0;
  virtual void on_access(uint32_t chunk, int64_t now) { (void)chunk, (void)now; }
  virtual bool wants_accesses() const { return false; }
  virtual void on_free(uint32_t chunk) = 0;
  virtual uint32_t pick_victim(const std::function<bool(uint32_t)>& evictable) = 0;
};

using EvictionRegistry = Registry<EvictionPolicy, uint32_t /*chunks*/>;
using EvictionRegistrar = Registrar<EvictionPolicy, uint32_t>;

// An intrusive doubly linked list of chunk ids in flat arrays (no node allocation): the order shared by
// the list-based policies.
class ChunkList {
 public:
  explicit ChunkList(uint32_t n) : prev_(n, kNoChunk), next_(n, kNoChunk), in_(n, 0) {}
  void push_back(uint32_t c) {
    if (in_[c]) remove(c);
    prev_[c] = tail_;
    next_[c] = kNoChunk;
    (tail_ == kNoChunk ? head_ : next_[tail_]) = c;
    tail_ = c;
    in_[c] = 1;
  }
  void remove(uint32_t c) {
    if (!in_[c]) return;
    (prev_[c] == kNoChunk ? head_ : next_[prev_[c]]) = next_[c];
    (next_[c] == kNoChunk ? tail_ : prev_[next_[c]]) = prev_[c];
    in_[c] = 0;
  }
  uint32_t first_where(const std::function<bool(uint32_t)>& ok) const {
    for (uint32_t c = head_; c != kNoChunk; c = next_[c])
      if (ok(c)) return c;
    return kNoChunk;
  }

 private:
  std::vector<uint32_t> prev_, next_;
  std::vector<uint8_t> in_;
  uint32_t head_ = kNoChunk, tail_ = kNoChunk;
};

}  // namespace uvmsim
