// An intrusive list of chunk ids in flat arrays (no node allocation): the order of the list-based eviction
// policies.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace uvmsim {

constexpr uint32_t kNoChunk = ~0u;

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
