// The discrete-event queue, owned by the engine (sim/engine/engine.h): no globals, no global time. Events are
// ordered by (time, priority, sequence number), so ties are first in, first out and a run is deterministic.
// Events are small PODs dispatched by their owner with a switch, not heap closures.
#pragma once

#include <cstdint>
#include <queue>
#include <stdexcept>
#include <string>
#include <vector>

#include "traces/trace.h"

namespace uvmsim {

// a * b / c rounded up, without overflow (128-bit intermediate).
inline int64_t mul_div_ceil(uint64_t a, uint64_t b, uint64_t c) {
  __extension__ using u128 = unsigned __int128;
  return int64_t((u128(a) * b + c - 1) / c);
}
// a * b / c rounded down.
inline int64_t mul_div(uint64_t a, uint64_t b, uint64_t c) {
  __extension__ using u128 = unsigned __int128;
  return int64_t(u128(a) * b / c);
}

// Simulated time may not pass trace::kMaxTimeNs (2^62 ns, 146 years): the reader bounds every time and
// duration in a trace so that an event's time, `now` plus a few bounded terms, cannot overflow before this
// check refuses it.
inline void check_time(int64_t t) {
  if (t < 0 || t > trace::kMaxTimeNs)
    throw std::overflow_error("simulated time would reach " + std::to_string(t) +
                              " ns, beyond 2^62 ns (146 years): a trace time or a config cost is absurd");
}

// An event belongs to the component that scheduled it (owner, the id the engine gave it) and has a type
// that component defines; a and b are its payload, meaningful to the owner only.
struct Event {
  int64_t time = 0;
  uint64_t b = 0;
  uint32_t a = 0;
  uint8_t priority = 0;  // lower runs first at equal times (below 4)
  uint8_t owner = 0;
  uint8_t type = 0;
  uint64_t seq = 0;
};

class EventQueue {
 public:
  void push(int64_t time, uint8_t priority, uint8_t owner, uint8_t type, uint32_t a = 0, uint64_t b = 0) {
    check_time(time);
    if (priority > 3) throw std::logic_error("event priority above 3");
    heap_.push(Event{time, b, a, priority, owner, type, next_seq_++});
  }
  bool empty() const { return heap_.empty(); }
  size_t size() const { return heap_.size(); }
  const Event& top() const { return heap_.top(); }
  Event pop() {
    Event e = heap_.top();
    heap_.pop();
    ++popped_;
    return e;
  }
  uint64_t popped() const { return popped_; }

 private:
  struct Later {
    bool operator()(const Event& x, const Event& y) const {
      // (time, priority) as one key: times are below 2^62 and priorities below 4.
      const uint64_t kx = uint64_t(x.time) << 2 | x.priority, ky = uint64_t(y.time) << 2 | y.priority;
      return kx != ky ? kx > ky : x.seq > y.seq;
    }
  };
  std::priority_queue<Event, std::vector<Event>, Later> heap_;
  uint64_t next_seq_ = 0;
  uint64_t popped_ = 0;
};

}  // namespace uvmsim
