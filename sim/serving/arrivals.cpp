#include "sim/serving/arrivals.h"

#include <algorithm>
#include <cmath>

namespace uvmsim {

uint64_t SplitMix::next() {
  uint64_t z = (s_ += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

double SplitMix::uniform() { return (double(next() >> 11) + 0.5) * 0x1.0p-53; }

double SplitMix::normal() {
  const double u = uniform(), v = uniform();
  return std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v);
}

double SplitMix::exponential(double mean) { return -std::log(uniform()) * mean; }

double SplitMix::gamma(double shape, double scale) {
  if (shape < 1.0) {  // Gamma(k) = Gamma(k + 1) U^(1/k)
    const double g = gamma(shape + 1.0, scale);
    return g * std::pow(uniform(), 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = normal();
      v = 1.0 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const double u = uniform();
    if (u < 1.0 - 0.0331 * x * x * x * x || std::log(u) < 0.5 * x * x + d * (1.0 - v + std::log(v)))
      return d * v * scale;
  }
}

Arrivals::Arrivals(const ArrivalSpec& a, uint64_t seed, uint32_t tenant, std::vector<int64_t> trace_times)
    : a_(a),
      rng_(seed * 0x9e3779b97f4a7c15ull ^ (uint64_t(tenant) + 1) * 0xd1b54a32d192ed03ull),
      times_(std::move(trace_times)) {
  std::sort(times_.begin(), times_.end());
  for (size_t i = times_.size(); i-- > 0;) times_[i] -= times_.front();
}

int64_t Arrivals::next_gap() {
  switch (a_.kind) {
    case ArrivalKind::kPoisson:
      return std::llround(rng_.exponential(1e9 / a_.rate_per_s));
    case ArrivalKind::kGamma: {
      const double shape = 1.0 / (a_.cv * a_.cv);
      return std::llround(rng_.gamma(shape, 1e9 / (a_.rate_per_s * shape)));
    }
    case ArrivalKind::kTrace: {
      if (next_ >= times_.size()) return -1;
      const int64_t gap = next_ == 0 ? 0 : times_[next_] - times_[next_ - 1];
      ++next_;
      return gap;
    }
    case ArrivalKind::kClosed:
      return a_.think_ns;
  }
  return -1;
}

}  // namespace uvmsim
