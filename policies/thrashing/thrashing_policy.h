// Thrashing detection and mitigation (uvm_perf_thrashing.c). Contract: the simulator reports every
// migration or revocation of a page to a processor (evictions are not reported), and asks for a hint on
// each fault of a page; hint() may only answer kThrottle or kPin for pages it has marked thrashing.
#pragma once

#include <cstdint>

#include "policies/policy.h"

namespace uvmsim {

enum class Processor : uint8_t { kCpu = 0, kGpu = 1 };
enum class ThrashHint : uint8_t { kNone = 0, kThrottle, kPin };

struct ThrashingCounters {
  uint64_t thrashing_pages = 0, throttles = 0, pins = 0;
};

class ThrashingPolicy : public Policy {
 public:
  virtual void on_migration(uint32_t page, Processor to, int64_t now) = 0;
  virtual ThrashHint hint(uint32_t page, Processor requester, int64_t now) = 0;
  virtual bool is_thrashing(uint32_t page) const = 0;
  virtual const ThrashingCounters& counters() const = 0;
  // How long a CPU fault answered kThrottle waits before it is serviced.
  virtual int64_t throttle_ns() const { return 0; }
};

struct ThrashingContext {
  uint32_t pages = 0;  // dense page ids are below this
};

struct ThrashingKind {
  static constexpr const char* name = "thrashing";
  static constexpr const char* description = "on every migration and fault: throttle, pin or nothing";
  static constexpr const char* default_policy = "driver";
  using Interface = ThrashingPolicy;
  using Context = ThrashingContext;
};
using ThrashingRegistry = Registry<ThrashingKind>;
using ThrashingRegistrar = Registrar<ThrashingKind>;

}  // namespace uvmsim
