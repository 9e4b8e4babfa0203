// The discrete-event queue, owned by the engine (sim/engine/engine.h): no globals, no global time. Events are
// ordered by (time, priority, sequence number), so ties are first in, first out and a run is deterministic.
// A keyed event's sequence number is its owner's order key with the top bit set instead: at equal times and
// priorities, keyed events run after unkeyed ones and in key order, whenever they were scheduled (the gpu
// keys its CTAs' events by the CTAs' start order, so moving an event or scheduling it earlier does not
// change its place among events of the same instant).
// Events are small PODs dispatched by their owner with a switch, not heap closures.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "traces/trace.h"

namespace uvmsim {

// a * b / c rounded up, without overflow (a 128-bit intermediate where a * b needs one).
inline int64_t mul_div_ceil(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t p;
  if (!__builtin_mul_overflow(a, b, &p) && p <= UINT64_MAX - c) return int64_t((p + c - 1) / c);
  __extension__ using u128 = unsigned __int128;
  return int64_t((u128(a) * b + c - 1) / c);
}
// a * b / c rounded down.
inline int64_t mul_div(uint64_t a, uint64_t b, uint64_t c) {
  uint64_t p;
  if (!__builtin_mul_overflow(a, b, &p)) return int64_t(p / c);
  __extension__ using u128 = unsigned __int128;
  return int64_t(u128(a) * b / c);
}

// Simulated time may not pass trace::kMaxTimeNs (2^62 ns, 146 years): the reader bounds every time and
// duration in a trace so that an event's time, `now` plus a few bounded terms, cannot overflow before this
// check refuses it.
[[noreturn, gnu::cold, gnu::noinline]] inline void time_overflow(int64_t t) {
  throw std::overflow_error("simulated time would reach " + std::to_string(t) +
                            " ns, beyond 2^62 ns (146 years): a trace time or a config cost is absurd");
}
inline void check_time(int64_t t) {
  if (t < 0 || t > trace::kMaxTimeNs) [[unlikely]]
    time_overflow(t);
}

// An event belongs to the component that scheduled it (owner, the id the engine gave it) and has a type
// that component defines; a and b are its payload, meaningful to the owner only.
struct Event {
  int64_t time = 0;
  uint8_t priority = 0;  // lower runs first at equal times
  uint64_t seq = 0;
  uint8_t owner = 0;
  uint8_t type = 0;
  uint32_t a = 0;
  uint64_t b = 0;
};

// x runs before y: earlier time, then lower priority, then scheduled first (or lower key).
inline bool before(const Event& x, const Event& y) {
  return (x.time < y.time) |
         ((x.time == y.time) & ((x.priority < y.priority) | ((x.priority == y.priority) & (x.seq < y.seq))));
}

// A binary min-heap of events in one flat array. The comparison is computed without branches and a pop
// sifts a hole down to a leaf before placing the last event: the order of events is a total order (every
// sequence number is unique), so any correct heap pops them in the same order.
class EventQueue {
 public:
  void push(int64_t time, uint8_t priority, uint8_t owner, uint8_t type, uint32_t a = 0, uint64_t b = 0) {
    insert(Event{time, priority, next_seq_++, owner, type, a, b});
  }
  static constexpr uint64_t kKeyed = uint64_t{1} << 63;
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  const Event& top() const { return heap_.front(); }
  Event pop() {
    const Event top = heap_.front();
    const Event last = heap_.back();
    heap_.pop_back();
    const size_t n = heap_.size();
    if (n > 0) {
      // Move the hole at the root down along the earlier child to a leaf, then up to where `last` goes.
      size_t i = 0;
      for (size_t c = 1; c < n; c = 2 * i + 1) {
        c += c + 1 < n && before(heap_[c + 1], heap_[c]);
        heap_[i] = heap_[c];
        i = c;
      }
      sift_up(i, last);
    }
    ++popped_;
    return top;
  }
  uint64_t popped() const { return popped_; }

 private:
  void insert(const Event& e) {
    check_time(e.time);
    heap_.push_back(e);
    sift_up(heap_.size() - 1, e);
  }
  // Places e at the hole i or above it.
  void sift_up(size_t i, const Event& e) {
    while (i > 0) {
      const size_t parent = (i - 1) / 2;
      if (!before(e, heap_[parent])) break;
      heap_[i] = heap_[parent];
      i = parent;
    }
    heap_[i] = e;
  }
  std::vector<Event> heap_;
  uint64_t next_seq_ = 0;
  uint64_t popped_ = 0;
};

// Events that move: at most one per handle (a CTA slot), keyed (a key unique among them), in an indexed
// binary min-heap. Scheduling a handle's event again moves it in place, so a moved event leaves nothing
// stale behind; the engine takes the earlier of this heap's and the event queue's first events.
class MovingEvents {
 public:
  void set(uint32_t handle, const Event& e) {
    check_time(e.time);
    retaken_ |= handle == taken_;
    if (handle >= pos_.size()) pos_.resize(size_t(handle) + 1, kAbsent);
    uint32_t i = pos_[handle];
    if (i == kAbsent) {
      i = uint32_t(heap_.size());
      heap_.push_back(e);
      handle_.push_back(handle);
      up(i, e, handle);
      return;
    }
    const bool earlier = before(e, heap_[i]);
    if (earlier)
      up(i, e, handle);
    else
      down(i, e, handle);
  }
  // Takes the handle's event out, if it has one.
  void remove(uint32_t handle) {
    if (handle == taken_) {  // the event being handled: its handle now has none
      taken_ = kAbsent;
      retaken_ = true;
    }
    if (handle >= pos_.size() || pos_[handle] == kAbsent) return;
    const uint32_t i = pos_[handle];
    pos_[handle] = kAbsent;
    const Event last = heap_.back();
    const uint32_t last_handle = handle_.back();
    heap_.pop_back();
    handle_.pop_back();
    if (i == heap_.size()) return;  // it was the last
    if (i > 0 && before(last, heap_[(i - 1) / 2]))
      up(i, last, last_handle);
    else
      down(i, last, last_handle);
  }
  bool empty() const { return heap_.empty(); }
  const Event& top() const { return heap_.front(); }
  // The first event, left in place while its owner handles it: an owner that schedules the handle's next
  // event meanwhile moves the entry once (down from the root) instead of a pop and a push; finish() takes
  // it out if nothing did.
  Event take() {
    taken_ = handle_.front();
    retaken_ = false;
    return heap_.front();
  }
  void finish() {
    if (!retaken_) remove(taken_);
    taken_ = kAbsent;
  }

 private:
  static constexpr uint32_t kAbsent = UINT32_MAX;
  void place(uint32_t i, const Event& e, uint32_t handle) {
    heap_[i] = e;
    handle_[i] = handle;
    pos_[handle] = i;
  }
  void up(uint32_t i, const Event& e, uint32_t handle) {
    while (i > 0) {
      const uint32_t parent = (i - 1) / 2;
      if (!before(e, heap_[parent])) break;
      place(i, heap_[parent], handle_[parent]);
      i = parent;
    }
    place(i, e, handle);
  }
  void down(uint32_t i, const Event& e, uint32_t handle) {
    const uint32_t n = uint32_t(heap_.size());
    for (uint32_t c = 2 * i + 1; c < n; c = 2 * i + 1) {
      c += c + 1 < n && before(heap_[c + 1], heap_[c]);
      if (!before(heap_[c], e)) break;
      place(i, heap_[c], handle_[c]);
      i = c;
    }
    place(i, e, handle);
  }
  std::vector<Event> heap_;
  std::vector<uint32_t> handle_;  // per heap position: its event's handle
  std::vector<uint32_t> pos_;     // per handle: its event's heap position, or kAbsent
  uint32_t taken_ = kAbsent;      // the handle whose event is being handled (take)
  bool retaken_ = false;          // it was scheduled again or cancelled meanwhile
};

}  // namespace uvmsim
