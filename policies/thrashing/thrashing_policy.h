// Thrashing detection and mitigation (uvm_perf_thrashing.c). Contract: the simulator reports every
// migration or revocation of a page to a processor (evictions are not reported), and asks for a hint on
// each fault of a page; hint() may only answer kThrottle or kPin for pages it has marked thrashing.
#pragma once

#include <cstdint>

#include "policies/registry.h"
#include "sim/config.h"

namespace uvmsim {

enum class Processor : uint8_t { kCpu = 0, kGpu = 1 };
enum class ThrashHint : uint8_t { kNone = 0, kThrottle, kPin };

struct ThrashingCounters {
  uint64_t thrashing_pages = 0, throttles = 0, pins = 0;
};

class ThrashingPolicy {
 public:
  virtual ~ThrashingPolicy() = default;
  virtual void on_migration(uint32_t page, Processor to, int64_t now) = 0;
  virtual ThrashHint hint(uint32_t page, Processor requester, int64_t now) = 0;
  virtual bool is_thrashing(uint32_t page) const = 0;
  virtual const ThrashingCounters& counters() const = 0;
};

using ThrashingRegistry = Registry<ThrashingPolicy, const DriverConfig&, uint32_t /*pages*/>;
using ThrashingRegistrar = Registrar<ThrashingPolicy, const DriverConfig&, uint32_t>;

}  // namespace uvmsim
