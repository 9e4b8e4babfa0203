// The engine: the event queue, simulated time, and the loop that hands each event to the component that
// owns it. A component attaches once and gets an id; it schedules its own typed events (its enum, its
// payload) with that id and handles them when they come due, so any component, or a policy through its
// kind's component, can set a timer. Events run in (time, priority, order scheduled) order: the same inputs
// give the same run. The engine also guards against runs that never end: components report progress, and
// a run with none for engine.max_events_without_progress events stops with an error naming the likely key.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sim/engine/event_queue.h"

namespace uvmsim {

// A run that cannot go on (a workload that cannot fit, a run that is stuck, an internal inconsistency).
class SimError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Priorities order events of one instant across components: replays before the driver's own events, the
// driver's before CTAs', CTAs' before the host's.
enum Priority : uint8_t { kPrioReplay = 0, kPrioDriver = 1, kPrioCta = 2, kPrioHost = 3 };

class Component {
 public:
  virtual ~Component() = default;
  virtual void handle(const Event& e) = 0;
  virtual const char* event_name(uint8_t type) const = 0;
  // Called after every event when the component asked for it (Engine::after_each_event).
  virtual void after_event() {}
};

class Engine {
 public:
  static constexpr uint32_t kMaxComponents = 8, kMaxTypes = 16;
  uint8_t attach(Component& c);
  void at(int64_t time, Priority priority, uint8_t owner, uint8_t type, uint32_t a = 0, uint64_t b = 0) {
    q_.push(time, priority, owner, type, a, b);
  }
  // An event ordered among the same instant's events of its priority by `key` (< 2^63), not by when it was
  // scheduled (keyed, sim/engine/event_queue.h), that replaces the pending event of `handle` if it has one
  // (MovingEvents; the handles are the gpu's CTA slots and lanes).
  void at_handle(uint32_t handle, int64_t time, Priority priority, uint8_t owner, uint8_t type, uint32_t a,
                 uint64_t key) {
    moving_.set(handle, Event{time, priority, EventQueue::kKeyed | key, owner, type, a, 0});
  }
  // Takes back the pending event of `handle`, if it has one.
  void cancel(uint32_t handle) { moving_.remove(handle); }
  int64_t now() const { return now_; }
  // Whether an event the owner keyed (time, priority, key) would have run by now had it been scheduled:
  // it is due earlier, or at this instant and before an event already handled at this instant (events
  // scheduled during an instant may run after later-ordered ones: the latest-ordered event handled at this
  // instant decides). An owner that skips events it knows to be without effect (the gpu's run-ahead) asks
  // this to place them among the events that did run. The event being handled counts.
  bool has_run(int64_t time, Priority priority, uint64_t key) const {
    if (time != now_) return time < now_;
    return latest_.time == now_ && before(Event{time, priority, EventQueue::kKeyed | key}, latest_);
  }
  void after_each_event(Component& c) { after_ = &c; }
  uint64_t events() const { return q_.popped() + moved_popped_; }
  // Something completed (a CTA, an access group, an op): the run is moving.
  void progressed() { ++progress_; }

  // What run() needs from its caller besides the components: the limits, a line describing where the run
  // stands (for progress and errors), how often to show it, and what to do when no progress is made.
  struct Guard {
    uint64_t max_events_without_progress = 0;
    uint64_t max_events = 0;  // 0: no limit
    // Called with the event (owner, type) most frequent since the last progress and a description of
    // all of them ("3 CTA step, 2 batch"); must throw.
    std::function<void(uint8_t owner, uint8_t type, const std::string& counts)> stuck;
    std::function<void()> capped;            // max_events reached; must throw
    std::function<void()> every_64k_events;  // progress display
  };
  // Runs until no event is left; returns the longest run of events without progress.
  uint64_t run(const Guard& g);

 private:
  EventQueue q_;
  MovingEvents moving_;
  uint64_t moved_popped_ = 0;
  int64_t now_ = 0;
  Event latest_{-1};  // the latest-ordered event handled at the current instant, for has_run
  Component* after_ = nullptr;
  uint64_t progress_ = 0;
  std::vector<Component*> components_;
  uint64_t since_progress_[kMaxComponents][kMaxTypes] = {};
};

}  // namespace uvmsim
