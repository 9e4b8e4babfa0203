#include "sim/engine/engine.h"

#include <gtest/gtest.h>

#include "sim/interconnect/pcie.h"

namespace uvmsim {
namespace {

TEST(EventQueue, OrdersByTimeThenPriorityThenInsertion) {
  EventQueue q;
  q.push(10, 2, 0, 0, 1);
  q.push(5, 3, 0, 0, 2);
  q.push(10, 1, 0, 0, 3);
  q.push(10, 2, 0, 0, 4);
  q.push(5, 3, 0, 0, 5);
  std::vector<uint32_t> order;
  while (!q.empty()) order.push_back(q.pop().a);
  EXPECT_EQ(order, (std::vector<uint32_t>{2, 5, 3, 1, 4}));
  EXPECT_EQ(q.popped(), 5u);
}

// Two components own their events: each gets the ones it scheduled, in time order, and may schedule more
// (a timer); the guard stops a run that makes no progress, naming the most frequent event.
class Ticker final : public Component {
 public:
  Ticker(Engine& e, std::vector<std::string>& log, const char* name)
      : e_(e), id_(e.attach(*this)), log_(log), name_(name) {}
  void tick(int64_t at, uint32_t n) { e_.at(at, kPrioCta, id_, 1, n); }
  void handle(const Event& ev) override {
    log_.push_back(std::string(name_) + std::to_string(ev.a) + "@" + std::to_string(e_.now()));
    if (ev.a > 0) tick(e_.now() + 10, ev.a - 1);  // a timer of its own
    if (progress) e_.progressed();
  }
  const char* event_name(uint8_t type) const override { return type == 1 ? "tick" : "?"; }
  bool progress = true;

 private:
  Engine& e_;
  uint8_t id_;
  std::vector<std::string>& log_;
  const char* name_;
};

TEST(Engine, ComponentsOwnTheirEventsAndTimers) {
  Engine e;
  std::vector<std::string> log;
  Ticker a(e, log, "a"), b(e, log, "b");
  a.tick(0, 2);
  b.tick(5, 1);
  Engine::Guard g;
  g.max_events_without_progress = 100;
  g.stuck = [](uint8_t, uint8_t, const std::string&) { throw std::runtime_error("stuck"); };
  e.run(g);
  EXPECT_EQ(log, (std::vector<std::string>{"a2@0", "b1@5", "a1@10", "b0@15", "a0@20"}));
  EXPECT_EQ(e.events(), 5u);
}

TEST(Engine, GuardNamesTheEventThatKeepsComing) {
  Engine e;
  std::vector<std::string> log;
  Ticker a(e, log, "a");
  a.progress = false;
  a.tick(0, 1000);
  Engine::Guard g;
  g.max_events_without_progress = 50;
  std::string seen;
  g.stuck = [&](uint8_t owner, uint8_t type, const std::string& counts) {
    seen = std::to_string(owner) + "/" + std::to_string(type) + ": " + counts;
    throw std::runtime_error("stuck");
  };
  EXPECT_THROW(e.run(g), std::runtime_error);
  EXPECT_EQ(seen, "0/1: 50 tick");
}

// Moving events (Engine::at_handle) stay in place while their owner handles them: one rescheduled during
// its handling moves, one cancelled is gone, one left alone is taken out; the order is the same as popping
// each first. Handle 0 reschedules itself 3 times, 10 ns apart; handle 1 cancels handle 2 (due later) and
// schedules handle 3 before it; handle 3 cancels itself (nothing left) and handle 4's event is left alone.
class Mover final : public Component {
 public:
  explicit Mover(Engine& e) : e_(e), id_(e.attach(*this)) {}
  void handle(const Event& ev) override {
    const uint32_t h = uint32_t(ev.a >> 8), n = ev.a & 0xff;
    log.push_back(std::to_string(h) + "@" + std::to_string(e_.now()));
    if (h == 0 && n > 0) at_encoded(0, e_.now() + 10, n - 1);
    if (h == 1) {
      e_.cancel(2);
      at_encoded(3, e_.now() + 1, 0);
    }
    if (h == 3) e_.cancel(3);
    e_.progressed();
  }
  void at_encoded(uint32_t h, int64_t t, uint32_t n) { e_.at_handle(h, t, kPrioCta, id_, 0, h << 8 | n, h); }
  const char* event_name(uint8_t) const override { return "move"; }
  std::vector<std::string> log;

 private:
  Engine& e_;
  uint8_t id_;
};

TEST(Engine, MovingEventsHandledInPlace) {
  Engine e;
  Mover m(e);
  m.at_encoded(0, 0, 3);
  m.at_encoded(1, 5, 0);
  m.at_encoded(2, 7, 0);
  m.at_encoded(4, 12, 0);
  Engine::Guard g;
  g.max_events_without_progress = 100;
  g.stuck = [](uint8_t, uint8_t, const std::string&) { throw std::runtime_error("stuck"); };
  e.run(g);
  EXPECT_EQ(m.log, (std::vector<std::string>{"0@0", "1@5", "3@6", "0@10", "4@12", "0@20", "0@30"}));
  EXPECT_EQ(e.events(), 7u);
}

TEST(MulDiv, NoOverflow) {
  EXPECT_EQ(mul_div(uint64_t{1} << 62, 1000, 1000), int64_t{1} << 62);
  EXPECT_EQ(mul_div_ceil(1, 1, 3), 1);
  EXPECT_EQ(mul_div_ceil(3, 1, 3), 1);
}

TEST(Pcie, FullDuplexAndSerialisedPerDirection) {
  PcieConfig c;
  c.htod_bytes_per_s = 1000000000;  // 1 byte per ns
  c.dtoh_bytes_per_s = 1000000000;
  c.latency_ns = 100;
  c.copy_setup_ns = 10;
  c.copy_ns = 0;
  c.copy_engines = 1;
  PcieLink l(c);
  // HtoD and DtoH at once do not slow each other.
  EXPECT_EQ(l.copy(Dir::kHtoD, 1000, 0), 10 + 1000 + 100);
  EXPECT_EQ(l.copy(Dir::kDtoH, 1000, 0), 10 + 1000 + 100);
  // A second HtoD waits for the first (one engine, one link).
  EXPECT_EQ(l.copy(Dir::kHtoD, 500, 0), 1010 + 10 + 500 + 100);
  EXPECT_EQ(l.busy_ns(Dir::kHtoD), 1500);
  EXPECT_EQ(l.copies(Dir::kDtoH), 1u);
}

TEST(Pcie, SetupOverlapsWithSeveralEngines) {
  PcieConfig c;
  c.htod_bytes_per_s = 1000000000;
  c.latency_ns = 0;
  c.copy_setup_ns = 100;
  c.copy_ns = 0;
  c.copy_engines = 2;
  PcieLink l(c);
  EXPECT_EQ(l.copy(Dir::kHtoD, 1000, 0), 1100);
  // The second engine's setup ran during the first transfer; its data follows at once.
  EXPECT_EQ(l.copy(Dir::kHtoD, 1000, 0), 2100);
}

// A push (one VA block's copies) pays its setup once and runs its copies in order on one engine, each after
// copy_ns; another push meanwhile takes the other engine, and the data phases share the link.
TEST(Pcie, APushPaysOneSetupAndRunsItsCopiesInOrder) {
  PcieConfig c;
  c.htod_bytes_per_s = 1000000000;
  c.latency_ns = 0;
  c.copy_setup_ns = 100;
  c.copy_ns = 10;
  c.copy_engines = 2;
  PcieLink l(c);
  PcieLink::Push a = l.push(Dir::kHtoD, 0);
  EXPECT_EQ(l.copy(a, 1000), 100 + 10 + 1000);
  EXPECT_EQ(l.copy(a, 500), 1110 + 10 + 500);  // no second setup
  PcieLink::Push b = l.push(Dir::kHtoD, 0);    // the other engine: set up at 100, data after the link frees
  EXPECT_EQ(l.copy(b, 100), 1620 + 100);
  PcieLink::Push d = l.push(Dir::kHtoD, 0);  // both engines busy: waits for the first to finish (1620)
  EXPECT_EQ(l.copy(d, 100), std::max<int64_t>(1620 + 100 + 10, 1720) + 100);
  EXPECT_EQ(l.copies(Dir::kHtoD), 4u);
  EXPECT_EQ(l.busy_ns(Dir::kHtoD), 1700);
}

}  // namespace
}  // namespace uvmsim
