// Request arrival processes of one tenant (sim/serving/README.md): Poisson at a rate, bursty (Gamma
// inter-arrival times with a coefficient of variation), a recorded trace's arrival times, and the closed
// loop's think time. Draws come from the tenant's own generator, seeded from the spec's seed and the
// tenant's index, so a tenant's arrivals do not depend on the other tenants (its run alone sees the same
// ones) and the same seed gives the same run on every machine (no standard-library distribution, whose
// algorithms are the implementation's).
#pragma once

#include <cstdint>
#include <vector>

#include "sim/serving/spec.h"

namespace uvmsim {

// splitmix64: a small, fast generator with a 64-bit state, good enough for arrival times.
class SplitMix {
 public:
  explicit SplitMix(uint64_t seed) : s_(seed) {}
  uint64_t next();
  double uniform();  // in (0, 1)
  double normal();   // standard normal (Box-Muller)
  double exponential(double mean);
  double gamma(double shape, double scale);  // Marsaglia and Tsang

 private:
  uint64_t s_;
};

class Arrivals {
 public:
  // trace_times: for ArrivalKind::kTrace, the recorded arrival times of the tenant's requests (ns).
  Arrivals(const ArrivalSpec& a, uint64_t seed, uint32_t tenant, std::vector<int64_t> trace_times = {});
  // Open loop: the time from the previous arrival (or the start) to the next one; -1 once a trace's
  // arrivals are exhausted.
  int64_t next_gap();
  // Requests a trace gives (0 for the others: unlimited).
  uint64_t trace_requests() const { return times_.size(); }

 private:
  ArrivalSpec a_;
  SplitMix rng_;
  std::vector<int64_t> times_;  // trace: sorted, relative to the first
  size_t next_ = 0;
};

}  // namespace uvmsim
