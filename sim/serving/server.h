// The serving component (sim/serving/README.md): requests arrive for each tenant (its arrival process),
// wait in the tenant's queue, and run in batches that the tenant's batching policy forms; a batch launches
// one inference's kernels at its batch size (kernel templates made once per tenant and batch size, shared
// by every batch) on the tenant's stream, through the host. It keeps one record per request.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "policies/batching/batching_policy.h"
#include "policies/profile.h"
#include "sim/config/config.h"
#include "sim/engine/engine.h"
#include "sim/host/host.h"
#include "sim/serving/arrivals.h"
#include "sim/serving/spec.h"
#include "sim/stats/stats.h"
#include "sim/workload/workload.h"

namespace uvmsim {

// What a serving run is given besides the workload and the config.
struct ServingPlan {
  ServeSpec spec;
  // Per tenant (the trace's tenants, in the spec's order) and batch size (spec order): one inference's
  // kernels.
  std::vector<std::vector<std::vector<uint32_t>>> kernels;
  // Per tenant: the ops moving its weights to the CPU before each batch (cold tenants); the ops the
  // processes issue at the start (the rest are such ops).
  std::vector<std::vector<uint32_t>> cold_ops;
  size_t issued_ops = SIZE_MAX;
  // Per tenant whose arrivals come from a trace: the recorded arrival times.
  std::vector<std::vector<int64_t>> trace_times;
  // Per tenant: whether requests arrive for it (a tenant's run alone leaves the others idle).
  std::vector<bool> active;
  // The tenants alone at several SM shares and batch sizes (empty unless a policy needs_profile or
  // needs_layers).
  ServingProfile profile;
  // Per tenant, batch size, layer position and smaller size: the sub-batch kernels (add_sub_batches; empty
  // unless a policy needs_layers).
  std::vector<std::vector<std::vector<std::vector<std::vector<uint32_t>>>>> sub_kernels;
};

struct RequestRecord {
  uint32_t tenant = 0;
  uint64_t id = 0;  // per tenant, in order of arrival
  int64_t arrival_ns = 0, start_ns = -1, end_ns = -1;
  uint64_t batch = 0;  // the batch it ran in (numbered from 1 over the run)
  uint32_t batch_size = 0;
  // Its batch's: faults its kernels raised, bytes moved to the GPU for its tenant while it ran, and paging
  // time (its kernels' time beyond their time resident on the SMs they had).
  uint64_t faults = 0, bytes_in = 0;
  int64_t paging_ns = 0;
  bool counted = false;  // not in the warm-up
};

class Server final : public Component, private LaunchListener {
 public:
  // limit_sms: where a batching policy's per-layer SM decisions go (Gpu::limit_kernel_sms).
  using SmLimiter = std::function<void(uint32_t kernel, uint32_t sms)>;
  Server(Engine& engine, const Workload& w, const Config& c, const ServingPlan& plan, Host& host,
         const Stats& stats, SmLimiter limit_sms);
  // Arrivals begin (the host has initialised the tenants' memory).
  void start();
  void handle(const Event& e) override;
  const char* event_name(uint8_t type) const override;
  const std::vector<RequestRecord>& requests() const { return requests_; }
  int64_t start_ns() const { return t0_; }
  // Requests that arrived and never completed (0 at the end of a run that served everything).
  uint64_t unfinished() const;
  // What is left unfinished, for the error: per tenant, its requests still queued and why.
  std::string unfinished_message() const;

 private:
  enum ServerEvent : uint8_t { kEvArrival, kEvDecide, kEvPolicyTimer };
  class Clock final : public PolicyClock {
   public:
    Clock(Server& s, uint32_t tenant) : s_(s), tenant_(tenant) {}
    int64_t now() const override { return s_.engine_.now(); }
    void set_timer(int64_t at_ns, uint64_t tag) override {
      s_.engine_.at(std::max(at_ns, s_.engine_.now()), kPrioHost, s_.id_, kEvPolicyTimer, tenant_, tag);
    }

   private:
    Server& s_;
    uint32_t tenant_;
  };
  struct Tenant {
    std::unique_ptr<Clock> clock;
    std::unique_ptr<BatchingPolicy> policy;
    std::unique_ptr<Arrivals> arrivals;
    std::vector<uint32_t> sizes;
    uint32_t stream = 0;
    std::deque<uint32_t> queue;  // request indices, in arrival order
    uint64_t generated = 0;      // arrivals scheduled
    uint64_t arrived = 0;
    uint64_t decide_stamp = 0;  // the pending kEvDecide's stamp (a later ask replaces it)
    // The running batch.
    bool busy = false;
    std::vector<uint32_t> batch;
    size_t variant = 0;
    std::vector<uint32_t> launched;  // the batch's kernels, in launch order (sub-batches included)
    uint32_t kernels_left = 0;
    std::vector<uint64_t> faults_before;  // per kernel of the batch, its fault count when the batch began
    uint64_t bytes_before = 0;
    int64_t paging_ns = 0;
  };
  void launched_kernel_done(uint32_t stream, uint32_t kernel) override;
  void schedule_arrival(uint32_t tenant, int64_t at);
  void arrive(uint32_t tenant);
  void decide(uint32_t tenant);
  void start_batch(uint32_t tenant, const BatchDecision& d);
  void finish_batch(uint32_t tenant);
  // A kernel's time resident on `sms` SMs: its whole-GPU resident time, by its waves on them (the SMs a
  // policy left it; other tenants' CTAs on them are not counted).
  int64_t resident_ns(uint32_t kernel, uint32_t sms) const;

  Engine& engine_;
  const uint8_t id_;
  const Workload& w_;
  const Config& cfg_;
  const ServingPlan& plan_;
  Host& host_;
  const Stats& stats_;
  SmLimiter limit_sms_;
  std::vector<Tenant> tenants_;
  std::vector<RequestRecord> requests_;
  uint64_t batches_ = 0;
  int64_t t0_ = 0;
};

}  // namespace uvmsim
