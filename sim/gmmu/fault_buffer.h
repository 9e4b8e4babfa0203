// The gmmu component's replayable fault buffer: faults that uTLBs raise, each reaching the buffer after the
// fault latency (one at a time per uTLB), a cap on each uTLB's outstanding faults and on the buffer's
// entries, fetch by the driver in arrival order, and the flush that discards entries. Whoever raised an entry
// is told when it leaves (fetched or flushed).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

namespace uvmsim {

struct FaultEntry {
  int64_t arrival;
  uint64_t seq;
  uint32_t page;
  uint8_t kind;
  uint32_t utlb;
  uint32_t slot;       // the raising CTA's slot
  uint64_t cta_start;  // and its start ordinal (a slot is reused by later CTAs)
  uint32_t tenant;     // the raising CTA's kernel's tenant
  uint32_t kernel;     // and its kernel
};

class FaultBuffer {
 public:
  // Told that an entry left the buffer.
  class Client {
   public:
    virtual ~Client() = default;
    virtual void entry_left(const FaultEntry& e) = 0;
  };
  FaultBuffer(uint32_t utlbs, uint32_t max_outstanding_per_utlb, size_t capacity, int64_t latency_ns,
              int64_t issue_ns)
      : outstanding_(utlbs, 0),
        next_(utlbs, 0),
        max_outstanding_(max_outstanding_per_utlb),
        capacity_(capacity),
        latency_ns_(latency_ns),
        issue_ns_(issue_ns) {}
  void connect(Client& client) { client_ = &client; }
  // Raises a fault at `now`; returns its arrival in the buffer, or -1 when the uTLB or the buffer is full
  // (the access is not entered and must be issued again after a replay).
  int64_t raise(int64_t now, uint32_t page, uint8_t kind, uint32_t utlb, uint32_t slot, uint64_t cta_start,
                uint32_t tenant, uint32_t kernel) {
    if (outstanding_[utlb] >= max_outstanding_ || heap_.size() >= capacity_) return -1;
    const int64_t arrival = std::max(now + latency_ns_, next_[utlb]);
    next_[utlb] = arrival + issue_ns_;
    ++outstanding_[utlb];
    heap_.push_back(FaultEntry{arrival, seq_++, page, kind, utlb, slot, cta_start, tenant, kernel});
    std::push_heap(heap_.begin(), heap_.end(), Later{});
    return arrival;
  }
  // Moves entries that have arrived by `now` into `out`, in arrival order, until it holds `max`.
  void fetch(int64_t now, size_t max, std::vector<FaultEntry>& out) {
    while (!heap_.empty() && heap_.front().arrival <= now && out.size() < max) {
      std::pop_heap(heap_.begin(), heap_.end(), Later{});
      out.push_back(heap_.back());
      heap_.pop_back();
      left(out.back());
    }
  }
  // Discards the entries that arrived by `put`; returns how many. One pass and one heap rebuild.
  uint64_t flush(int64_t put) {
    const size_t before = heap_.size();
    auto kept = std::remove_if(heap_.begin(), heap_.end(), [&](const FaultEntry& e) {
      if (e.arrival > put) return false;
      left(e);
      return true;
    });
    heap_.erase(kept, heap_.end());
    std::make_heap(heap_.begin(), heap_.end(), Later{});
    return before - heap_.size();
  }
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  int64_t earliest_arrival() const { return heap_.front().arrival; }
  uint32_t utlbs() const { return uint32_t(outstanding_.size()); }

 private:
  struct Later {
    bool operator()(const FaultEntry& x, const FaultEntry& y) const {
      return x.arrival != y.arrival ? x.arrival > y.arrival : x.seq > y.seq;
    }
  };
  void left(const FaultEntry& e) {
    --outstanding_[e.utlb];
    client_->entry_left(e);
  }
  std::vector<FaultEntry> heap_;  // ordered by Later
  uint64_t seq_ = 0;
  std::vector<uint32_t> outstanding_;
  std::vector<int64_t> next_;
  const uint32_t max_outstanding_;
  const size_t capacity_;
  const int64_t latency_ns_, issue_ns_;
  Client* client_ = nullptr;
};

}  // namespace uvmsim
