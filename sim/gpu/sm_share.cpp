#include "sim/gpu/sm_share.h"

#include <algorithm>
#include <cmath>

#include "sim/workload/workload.h"

namespace uvmsim {

namespace {
double load(uint64_t fixed) { return double(fixed) / double(SmShare::kLoadOne); }
uint64_t to_fixed(double x) {
  return std::max<uint64_t>(1, uint64_t(std::llround(x * double(SmShare::kLoadOne))));
}
// The most CTAs of a partial last wave an SM is likely to hold when they go to the first slots that free
// (each of its n slots among the first with probability q): the largest j that one SM of `sms` is expected
// to reach, P(Binomial(n, q) >= j) * sms >= 1.
uint64_t likely_most(uint64_t n, double q, uint64_t sms) {
  std::vector<double> pmf(n + 1);
  for (uint64_t j = 0; j <= n; ++j) {
    double c = 1;
    for (uint64_t i = 0; i < j; ++i) c = c * double(n - i) / double(i + 1);
    pmf[j] = c * std::pow(q, double(j)) * std::pow(1 - q, double(n - j));
  }
  double at_least = 0;
  for (uint64_t j = n; j > 0; --j) {
    at_least += pmf[j];
    if (at_least * double(sms) >= 1) return j;
  }
  return 1;
}
}  // namespace

SmShare::Demand SmShare::demand(const KernelProfile& p, uint32_t threads, uint32_t threads_per_sm,
                                uint64_t dram_bytes, const GpuConfig& g) {
  const double own = std::max(1.0, p.warps_active / p.issue_active - p.contention_stalls);
  const double warps = double((threads + 31) / 32);
  Demand d;
  d.issue = warps / 4 / own;
  d.memory_part = std::min(1.0, p.memory_stalls / own);
  d.pipe = d.issue * p.l1_wavefronts / p.issue_active;
  d.in_flight = p.global_loads >= 1 && dram_bytes > 0;
  if (d.in_flight) {
    const double bytes_per_load = double(dram_bytes) / p.global_loads;
    const double sm_in_flight = double(g.sm_dram_bytes_per_s) / 1e9 * double(g.dram_latency_ns);
    d.memory = warps * d.memory_part * bytes_per_load * std::max(1.0, p.loads_in_flight) / sm_in_flight;
  } else {
    d.memory = g.full_sm_memory_load * warps * d.memory_part / (double(threads_per_sm) / 32);
  }
  return d;
}

SmShare::SmShare(const GpuConfig& g)
    : sm_bytes_per_ns_(double(g.sm_dram_bytes_per_s) / 1e9),
      dram_bytes_per_ns_(double(g.dram_bytes_per_s) / 1e9),
      sm_in_flight_(sm_bytes_per_ns_ * double(g.dram_latency_ns)),
      saturation_(g.dram_saturation_exponent) {}

SmShare::SmShare(const trace::Trace& t, const std::vector<uint64_t>& dram_bytes,
                 const std::vector<KernelProfile>& profiles, const GpuConfig& g)
    : SmShare(g) {
  const trace::Header& h = t.header;
  const uint64_t sms = h.sm_count ? h.sm_count : uint64_t(g.sm_count);
  kernels_.resize(t.kernels.size());
  for (size_t ki = 0; ki < t.kernels.size(); ++ki) {
    const trace::Kernel& k = t.kernels[ki];
    Kernel& p = kernels_[ki];
    const uint64_t per_sm =
        ctas_per_sm(k, h.max_threads_per_sm, h.max_ctas_per_sm, h.regs_per_sm, h.smem_per_sm_bytes);
    const bool profiled = ki < profiles.size() && profiles[ki].known();
    const uint64_t bytes = ki < dram_bytes.size() ? dram_bytes[ki] : 0;
    const Demand d = profiled
                         ? demand(profiles[ki], uint32_t(k.threads_per_cta()), h.max_threads_per_sm, bytes, g)
                         : Demand{};
    p.issue = to_fixed(profiled ? d.issue : g.full_sm_issue_load / double(per_sm));
    p.memory = to_fixed(profiled ? d.memory : g.full_sm_memory_load / double(per_sm));
    p.memory_cost = p.memory;
    p.pipe = profiled && d.pipe > 0 ? to_fixed(d.pipe) : 0;
    const uint64_t ctas = k.cta_count;
    if (ctas == 0) continue;
    // The reference: the resident run on the recording GPU, n CTAs on each busy SM.
    const uint64_t n = std::min<uint64_t>(per_sm, (ctas + sms - 1) / sms);
    const uint64_t busy = std::min<uint64_t>(sms, (ctas + n - 1) / n);
    const double issue_ref = load(n * p.issue), memory_ref = load(n * p.memory), pipe_ref = load(n * p.pipe);
    p.issue_ref = std::sqrt(1 + issue_ref * issue_ref);
    const double memory_term = std::sqrt(1 + memory_ref * memory_ref) * std::sqrt(1 + pipe_ref * pipe_ref);
    // A kernel whose bytes in flight want more than the GPU's bandwidth in its resident run was held to
    // what the DRAM gives its mix of reads and writes there: its measured bytes over its time. Its bytes
    // cost the DRAM that much more of its bandwidth, with whatever else runs.
    const double want = double(busy) * sm_draw(n * p.memory);
    if (d.in_flight && want > dram_bytes_per_ns_ && k.resident_ns > 0) {
      const double got = std::min(dram_bytes_per_ns_, double(bytes) / double(k.resident_ns));
      p.memory_cost = to_fixed(load(p.memory) * dram_bytes_per_ns_ / got);
    }
    const double factor_ref = dram_factor(want * double(p.memory_cost) / double(p.memory));
    p.memory_ref = memory_term / factor_ref;
    // Full waves of n CTAs per SM, then a last wave of at most n (faster: fewer CTAs share its SMs). Its
    // CTAs spread over the SMs when every slot frees at once; when CTAs take different times
    // (gpu.cta_time_variance_ns) they go to the first slots the full waves free, and the SM that takes the
    // most of them ends the kernel.
    // With issue slots oldest first the last wave ends later (its last CTAs run with few others).
    const uint64_t wave = sms * n, full = ctas / wave, rest = ctas - full * wave;
    const bool by_age = g.issue_by_age != 0;
    double waves = double(full);
    if (rest) {
      uint64_t last = (rest + sms - 1) / sms;
      if (g.cta_time_variance_ns > 0 && full > 0)
        last = std::max(last, likely_most(n, double(rest) / double(wave), sms));
      const double tail = load(last * p.issue);
      waves += std::sqrt(1 + tail * tail) / p.issue_ref * (by_age ? age_stretch(load(p.issue), last) : 1);
    } else if (by_age) {
      waves += age_stretch(load(p.issue), n) - 1;
    }
    p.cta_ns = std::max<int64_t>(1, std::llround(double(k.resident_ns) / waves));
    if (profiled) {
      p.memory_part = d.memory_part;
    } else if (bytes) {
      // The CTA's share of its SM's bandwidth at the reference, and the time its bytes take at it.
      const double share = factor_ref * load(p.memory) * sm_bytes_per_ns_ / memory_term;
      const double memory_ns = double(bytes) / double(ctas) / share;
      p.memory_part = std::min(1.0, memory_ns / double(p.cta_ns));
    }
  }
}

double SmShare::age_load(double older, double own) {
  const auto delivered = [](double l) { return l / std::sqrt(1 + l * l); };
  const double share = (delivered(older + own) - delivered(older)) / own;
  // U(L) / L = 1 / sqrt(1 + L^2) = share; a share too small to tell from 0 is a load past any bound.
  return share > 1e-12 ? std::min(1e12, std::sqrt(std::max(0.0, 1 / (share * share) - 1))) : 1e12;
}

double SmShare::age_stretch(double l, uint64_t m) {
  if (m < 2 || l <= 0) return 1;
  // Each CTA has one unit of work; with equal shares all end at sqrt(1 + (m l)^2) (speed 1 / sqrt(1 +
  // L^2) at the load L). Oldest first, the oldest of those left ends first.
  // A CTA's speed depends only on how many older ones are left: v[j] with j older.
  std::vector<double> v(m);
  for (uint64_t j = 0; j < m; ++j) {
    const double L = age_load(double(j) * l, l);
    v[j] = 1 / std::sqrt(1 + L * L);
  }
  double t = 0;
  std::vector<double> left(m, 1.0);
  for (uint64_t first = 0; first < m; ++first) {  // the phase lasts until the oldest left ends
    const double dt = left[first] / v[0];
    for (uint64_t j = 0; first + j < m; ++j) left[first + j] -= v[j] * dt;
    t += dt;
  }
  return t / std::sqrt(1 + double(m) * l * double(m) * l);
}

double SmShare::speed(uint32_t k, uint64_t issue_load, uint64_t memory_load, double dram_factor,
                      uint64_t pipe_load) const {
  const Kernel& p = kernels_[k];
  const double l = load(issue_load);
  if (p.memory_part == 0) return p.issue_ref / std::sqrt(1 + l * l);
  const double m = load(memory_load), q = p.pipe ? load(pipe_load) : 0;
  const double memory = dram_factor * p.memory_ref / (std::sqrt(1 + m * m) * std::sqrt(1 + q * q));
  const double own = (1 - p.memory_part) + p.memory_part / memory;
  return p.issue_ref / std::sqrt(own * own + l * l);
}

double SmShare::sm_draw(uint64_t memory_load) const {
  const double m = load(memory_load);
  return sm_bytes_per_ns_ * m / std::sqrt(1 + m * m);
}

double SmShare::sm_cost(uint64_t memory_load, uint64_t memory_cost) const {
  const double draw = sm_draw(memory_load);
  return memory_cost == memory_load ? draw : draw * double(memory_cost) / double(memory_load);
}

double SmShare::dram_factor(double draw) const {
  if (saturation_ <= 0) return draw > dram_bytes_per_ns_ ? dram_bytes_per_ns_ / draw : 1.0;
  const double x = draw / dram_bytes_per_ns_;
  return x > 0 ? std::pow(1 + std::pow(x, saturation_), -1 / saturation_) : 1.0;
}

double SmShare::uniform_draw(double in_flight_per_sm, uint32_t sms) const {
  const double draw = double(sms) * sm_draw(to_fixed(in_flight_per_sm / sm_in_flight_));
  return draw * dram_factor(draw);
}

}  // namespace uvmsim
