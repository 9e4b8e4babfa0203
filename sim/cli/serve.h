// `uvmsim serve`: a serving spec (sim/serving/spec.h) run under a config. The tenants' kernels are
// generated once per model and batch size (workloads/generate.h, generate_serving), requests arrive and
// run in batches (sim/serving/server.h), and each tenant's latency is summarised; with the spec's
// "slowdown", each tenant is also simulated alone (same arrivals, the others idle) for its slowdown.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

#include "sim/config/config.h"
#include "sim/engine/progress.h"
#include "sim/serving/server.h"
#include "sim/serving/spec.h"
#include "sim/stats/stats.h"
#include "sim/stats/timeline.h"
#include "sim/workload/workload.h"

namespace uvmsim {

// Mean, percentiles (nearest rank) and maximum of a set of times, in ms.
struct LatencySummary {
  uint64_t count = 0;
  double mean = 0, p50 = 0, p90 = 0, p95 = 0, p99 = 0, max = 0;
};
LatencySummary summarise(std::vector<int64_t> ns);

// One tenant's counted requests (the warm-up's left out).
struct TenantServing {
  std::string name, model;
  uint64_t requests = 0, batches = 0;
  double mean_batch_size = 0;
  LatencySummary latency, queueing, execution, paging;
  double throughput_per_s =
      0;  // requests completed per second, from the first arrival to the last completion
  double slo_ms = 0, slo_attainment = 0, goodput_per_s = 0;  // attainment: share that met slo_ms
  uint64_t faults = 0, bytes_in = 0;                         // of its batches
  LatencySummary alone;  // its latency alone on the GPU (requests: 0 when not simulated)
  double slowdown = 0;   // mean latency over the mean alone (0 when not simulated)
};

// The tenants' kernels generated once per model and batch size (workloads/generate.h) and the workload they
// form: they depend on the spec's tenants alone (name, model, batch sizes, process, cold) and on whether a
// policy runs layers as sub-batches, not on the config, so runs of the same tenants share them read-only.
struct ServingTemplates {
  std::shared_ptr<const Workload> workload;
  std::vector<std::vector<std::vector<uint32_t>>> kernels;
  std::vector<std::vector<uint32_t>> cold_ops;
  size_t issued_ops = 0;
  std::vector<std::vector<std::vector<std::vector<std::vector<uint32_t>>>>> sub_kernels;
  static std::string key(const ServeSpec& spec, bool layers);
  static std::shared_ptr<const ServingTemplates> make(const ServeSpec& spec, bool layers);
};

// Templates made once per process for each set of tenants and shared by every run that asks (the sweep's
// points; thread-safe).
class TemplateCache {
 public:
  std::shared_ptr<const ServingTemplates> get(const ServeSpec& spec, bool layers);

 private:
  struct Slot {
    std::mutex m;
    std::shared_ptr<const ServingTemplates> templates;
  };
  std::mutex m_;
  std::map<std::string, std::shared_ptr<Slot>> slots_;
};

struct ServeResult {
  std::shared_ptr<const Workload> workload;
  Stats stats;
  std::vector<RequestRecord> requests;
  int64_t start_ns = 0;
  std::vector<TenantServing> tenants;
  ServingProfile profile;  // simulated when a policy needs_profile (else empty)
};

// Generates the tenants' kernels, simulates and summarises. Errors: SpecError (the spec, naming the key),
// ConfigError, ModelError, SimError.
// `timeline`, if given, records the main run (not the profile's or the slowdown's runs alone).
// `cache`, if given, supplies the templates (made there once for these tenants).
ServeResult serve(const ServeSpec& spec, const Config& c, ProgressReporter* progress = nullptr,
                  Timeline* timeline = nullptr, TemplateCache* cache = nullptr);
std::vector<TenantServing> summarise_tenants(const ServeSpec& spec,
                                             const std::vector<RequestRecord>& requests);
nlohmann::json serve_json(const ServeSpec& spec, const Config& c, const ServeResult& r);
// A native serving run's log (workloads/serve_runtime.cu: one JSON line per request, then the run's
// summary) as a trace (format v7): the spec's tenants and every request with its arrival, batch, start and
// end, for `uvmsim serve` to replay its arrivals ("trace" arrivals) and for the serving check. Errors name
// the log's file and line.
trace::Trace serving_recording(const ServeSpec& spec, const std::string& log_path);
// One row per request: tenant, request, arrival_ns, start_ns, end_ns, batch, batch_size, faults,
// bytes_in, paging_ns, counted.
void write_requests_csv(const ServeSpec& spec, const std::vector<RequestRecord>& requests, std::ostream& os);

}  // namespace uvmsim
