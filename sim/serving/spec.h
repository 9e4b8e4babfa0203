// What `uvmsim serve --spec S.json` reads: the tenants a GPU serves (a model, the batch sizes it may run,
// its latency objective, its process, its arrival process, optionally its own batching policy), how long
// the run lasts, its warm-up and its seed. The schema is in sim/serving/README.md; parse_serve_spec checks
// every key and value and names the key of the first that is wrong.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace uvmsim {

class SpecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

enum class ArrivalKind : uint8_t { kClosed, kPoisson, kGamma, kTrace };
const char* to_string(ArrivalKind k);

struct ArrivalSpec {
  ArrivalKind kind = ArrivalKind::kPoisson;
  double rate_per_s = 0;      // poisson, gamma
  double cv = 1;              // gamma: coefficient of variation of the inter-arrival times
  uint32_t in_flight = 0;     // closed: requests outstanding at all times
  int64_t think_ns = 0;       // closed: from a request's completion to the next one's arrival
  std::string trace;          // trace: a recorded trace whose requests section gives the arrival times
  uint32_t trace_tenant = 0;  // trace: which of its tenants' requests
};

struct ServeTenantSpec {
  std::string name;                   // unique; defaults to "<model>#<i>"
  std::string model;                  // a built-in model name or a spec path (workloads/models)
  std::vector<uint32_t> batch_sizes;  // ascending, distinct
  double slo_ms = 0;                  // latency objective (0: none)
  bool own_process = false;           // "process": "own" (its own CUDA context) or "shared" (a stream)
  // "sms": its stream is a green context's on this many SMs of its own (0: the whole GPU, shared). The
  // partitions are laid out in tenant order on disjoint SMs; policies place its CTAs only there.
  uint32_t sms = 0;
  bool cold = false;  // before each batch its weights are moved to the CPU, so that every batch faults them
  ArrivalSpec arrivals;
  // Its own batching policy ("batching": {"name", "params"}); empty name: the config's policies.batching.
  std::string batching;
  std::map<std::string, double> batching_params;
};

struct ServeSpec {
  uint64_t seed = 1;
  // How long the run lasts: counted requests per tenant, or simulated time after the warm-up (one is set).
  uint64_t requests = 0;
  int64_t duration_ns = 0;
  // The warm-up, not counted: each tenant's first warmup_requests requests, and requests arriving in the
  // first warmup_ns.
  uint64_t warmup_requests = 0;
  int64_t warmup_ns = 0;
  bool slowdown = true;  // also simulate each tenant alone, for its slowdown
  std::vector<ServeTenantSpec> tenants;

  // Whether a tenant's next request may arrive `since_start` ns after serving began, `scheduled` of its
  // requests having been given a time already: the run's length in counted requests (past the warm-up's)
  // or in time. (A trace's arrivals also end with the trace.)
  bool may_arrive(uint64_t scheduled, int64_t since_start) const {
    return !(requests > 0 && scheduled >= warmup_requests + requests) &&
           !(duration_ns > 0 && since_start >= warmup_ns + duration_ns);
  }
  // Whether a tenant's request `id` (0 for its first), arriving `since_start` ns after serving began, is
  // counted: past the warm-up in requests and in time.
  bool counted(uint64_t id, int64_t since_start) const {
    return id >= warmup_requests && since_start >= warmup_ns;
  }
};

// Parses and checks a spec; `source` (the file) names it in errors. Throws SpecError naming the key.
ServeSpec parse_serve_spec(const std::string& json_text, const std::string& source);
ServeSpec load_serve_spec(const std::string& path);

}  // namespace uvmsim
