// The native server: `uvmsim serve`'s spec run on the GPU, for the serving check (issue 22).
//   uvm_serve --spec S.json --log REQUESTS.jsonl
// Every tenant is a stream of this one process (the spec's "own" processes are refused), a green context's
// on SMs of its own where the spec gives it "sms" (cuda_tracer/src/green_context.h), its memory as the
// native runtime lays it out (workloads/tenant_memory.cuh), allocated once for its largest batch size.
// Requests arrive at the times the simulator draws for the same spec and seed (sim/serving/arrivals.h: the
// same generator and seeds), or on completions in a closed loop; each tenant's batching policy is the
// simulator's own code (policies/batching/), asked on its arrivals, completions and the times it names. A
// batch launches the tenant's layer kernels at that batch size on its stream, after moving its weights to
// the CPU for a "cold" tenant (cudaMemPrefetchAsync to the host), and ends when an event recorded after its
// last kernel completes. One host thread polls: arrivals are their scheduled times; a batch starts when it
// is launched and ends when its completion is seen. Writes one JSON line per request (times in ns from the
// start of serving) and a last line with the run's summary (with each tenant's SMs and managed ranges).
#include <cuda_runtime.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "policies/batching/batching_policy.h"
#include "sim/serving/arrivals.h"
#include "sim/serving/spec.h"
#include "cuda_tracer/src/green_context.h"
#include "workloads/layout.h"
#include "workloads/tenant_memory.cuh"

using namespace uvmsim;

namespace {

#define CK(x) UVMSIM_CUDA_CHECK("uvm_serve", x)

using Clock = std::chrono::steady_clock;

struct Request {
  uint32_t tenant = 0;
  uint64_t id = 0;
  int64_t arrival = 0, start = -1, end = -1;
  uint64_t batch = 0;
  uint32_t batch_size = 0;
  bool counted = false;
};

class WallClock final : public PolicyClock {
 public:
  WallClock(Clock::time_point t0) : t0_(t0) {}
  int64_t now() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0_).count();
  }
  void set_timer(int64_t at_ns, uint64_t tag) override { timers.push_back({at_ns, tag}); }
  std::vector<std::pair<int64_t, uint64_t>> timers;

 private:
  Clock::time_point t0_;
};

struct Tenant {
  Model model;
  TenantLayout layout;
  TenantMemory mem;
  std::vector<uint32_t> sizes;
  std::vector<std::vector<LayerKernel>> plans;  // per batch size
  cudaStream_t stream = nullptr;
  bool partitioned = false;  // its stream is a green context's, kept with it
  unsigned sms = 0;          // SMs its kernels may use
  cudaEvent_t done = nullptr;
  std::unique_ptr<WallClock> clock;
  std::unique_ptr<BatchingPolicy> policy;
  std::unique_ptr<Arrivals> arrivals;
  std::deque<int64_t> due;       // scheduled arrivals, ascending
  std::deque<uint32_t> queue;    // request indices
  std::vector<uint32_t> batch;   // the running batch's requests
  uint64_t generated = 0, arrived = 0;
  int64_t ask_at = -1;  // a time the policy asked to be asked again
  bool busy = false;
};

}  // namespace

int main(int argc, char** argv) {
  std::string spec_path, log_path;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--spec") && i + 1 < argc) {
      spec_path = argv[++i];
    } else if (!std::strcmp(argv[i], "--log") && i + 1 < argc) {
      log_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: uvm_serve --spec S.json --log REQUESTS.jsonl (unknown argument '%s')\n", argv[i]);
      return 2;
    }
  }
  if (spec_path.empty() || log_path.empty()) {
    std::fprintf(stderr, "usage: uvm_serve --spec S.json --log REQUESTS.jsonl\n");
    return 2;
  }
  ServeSpec spec;
  std::vector<Tenant> tenants;
  try {
    spec = load_serve_spec(spec_path);
    for (size_t i = 0; i < spec.tenants.size(); ++i) {
      const ServeTenantSpec& ts = spec.tenants[i];
      if (ts.own_process) throw SpecError("tenants[" + std::to_string(i) + "].process: uvm_serve runs every tenant as a stream of one process");
      if (ts.arrivals.kind == ArrivalKind::kTrace)
        throw SpecError("tenants[" + std::to_string(i) + "].arrivals: uvm_serve draws its arrivals; a trace's are for the simulator");
      Tenant t;
      t.model = load_model(ts.model);
      t.sizes = ts.batch_sizes;
      t.layout = layout_tenant(t.model, t.sizes.back());
      tenants.push_back(std::move(t));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "uvm_serve: %s\n", e.what());
    return 2;
  }
  uint64_t need = 0;
  for (auto& t : tenants) need += t.layout.weights_bytes + t.layout.activations_bytes;
  if (!managed_fits(need, "uvm_serve")) return 3;
  int device = 0;
  CK(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, device));
  for (size_t i = 0; i < tenants.size(); ++i) {
    Tenant& t = tenants[i];
    t.mem = make_tenant_memory(t.model, t.layout, "uvm_serve");
    for (uint32_t b : t.sizes) {
      const TenantLayout lay = layout_tenant(t.model, b);
      std::vector<LayerKernel>& plan = t.plans.emplace_back();
      for (size_t li = 0; li < t.model.layers.size(); ++li)
        plan.push_back(layer_kernel(t.model, lay, li, b, uint64_t(t.mem.weights), uint64_t(t.mem.activations)));
    }
    CK(cudaEventCreateWithFlags(&t.done, cudaEventDisableTiming));
  }
  // Streams: a tenant with "sms" gets its own green context (disjoint SMs, in tenant order, as the
  // simulator lays them out), the rest a stream of the primary context (the whole GPU). A partition the
  // driver cannot give at exactly that size (the H200's steps of 8) is refused: the simulator would model
  // another split.
  std::vector<unsigned> wants;
  for (const auto& ts : spec.tenants)
    if (ts.sms > 0) wants.push_back(ts.sms);
  std::vector<uvmtrace::SmPartition> parts;
  if (!wants.empty()) parts = uvmtrace::SmPartition::split(device, wants);
  for (size_t i = 0, pi = 0; i < tenants.size(); ++i) {
    Tenant& t = tenants[i];
    t.sms = unsigned(prop.multiProcessorCount);
    if (spec.tenants[i].sms == 0) {
      CK(cudaStreamCreateWithFlags(&t.stream, cudaStreamNonBlocking));
      continue;
    }
    t.partitioned = true;
    t.stream = parts[pi].stream();
    t.sms = parts[pi++].sms();
    if (t.sms != spec.tenants[i].sms) {
      std::fprintf(stderr, "uvm_serve: tenants[%zu].sms: the driver gave a partition of %u SMs, not %u\n", i,
                   t.sms, spec.tenants[i].sms);
      return 2;
    }
  }
  CK(cudaDeviceSynchronize());

  const Clock::time_point t0 = Clock::now();
  const auto now = [&] { return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count(); };
  for (size_t i = 0; i < tenants.size(); ++i) {
    Tenant& t = tenants[i];
    const ServeTenantSpec& ts = spec.tenants[i];
    t.clock = std::make_unique<WallClock>(t0);
    const BatchingContext ctx{*t.clock};
    try {
      // Without a config, a tenant with no policy of its own gets the kind's default at its defaults.
      t.policy = BatchingRegistry::instance().make(
          ts.batching.empty() ? BatchingKind::default_policy : ts.batching, ts.batching_params, ctx);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "uvm_serve: tenants[%zu].batching: %s\n", i, e.what());
      return 2;
    }
    t.arrivals = std::make_unique<Arrivals>(ts.arrivals, spec.seed, uint32_t(i));
  }
  const auto schedule = [&](Tenant& t, int64_t at) {
    if (!spec.may_arrive(t.generated, at)) return;
    ++t.generated;
    t.due.insert(std::upper_bound(t.due.begin(), t.due.end(), at), at);
  };
  for (size_t i = 0; i < tenants.size(); ++i) {
    const ArrivalSpec& a = spec.tenants[i].arrivals;
    if (a.kind == ArrivalKind::kClosed)
      for (uint32_t n = 0; n < a.in_flight; ++n) schedule(tenants[i], 0);
    else
      schedule(tenants[i], tenants[i].arrivals->next_gap());
  }
  std::vector<Request> requests;
  uint64_t batches = 0;
  for (;;) {
    bool pending = false;
    for (size_t i = 0; i < tenants.size(); ++i) {
      Tenant& t = tenants[i];
      const ServeTenantSpec& ts = spec.tenants[i];
      const int64_t n = now();
      bool ask = false;
      while (!t.due.empty() && t.due.front() <= n) {
        const int64_t at = t.due.front();
        t.due.pop_front();
        Request r;
        r.tenant = uint32_t(i);
        r.id = t.arrived++;
        r.arrival = at;
        r.counted = spec.counted(r.id, at);
        t.queue.push_back(uint32_t(requests.size()));
        requests.push_back(r);
        if (ts.arrivals.kind != ArrivalKind::kClosed) {
          const int64_t gap = t.arrivals->next_gap();
          if (gap >= 0) schedule(t, at + gap);
        }
        ask = true;
      }
      if (t.busy && cudaEventQuery(t.done) == cudaSuccess) {
        const int64_t end = now();
        for (uint32_t r : t.batch) requests[r].end = end;
        if (ts.arrivals.kind == ArrivalKind::kClosed)
          for (size_t k = 0; k < t.batch.size(); ++k) schedule(t, end + ts.arrivals.think_ns);
        t.batch.clear();
        t.busy = false;
        ask = true;
      }
      for (size_t k = 0; k < t.clock->timers.size();) {
        if (t.clock->timers[k].first <= n) {
          t.policy->on_timer(t.clock->timers[k].second);
          t.clock->timers.erase(t.clock->timers.begin() + long(k));
          ask = true;
        } else {
          ++k;
        }
      }
      if (t.ask_at >= 0 && t.ask_at <= n) ask = true, t.ask_at = -1;
      if (ask && (!t.queue.empty() || t.busy)) {
        const BatchQueueView v{uint32_t(i), uint32_t(t.queue.size()),
                               t.queue.empty() ? 0 : requests[t.queue.front()].arrival, now(), t.busy, t.sizes};
        const BatchDecision d = t.policy->decide(v);
        if (d.size > 0) {
          if (!keeps_contract(v, d.size)) {
            std::fprintf(stderr, "uvm_serve: tenants[%zu]'s policy asked for a batch of %u with %zu queued\n", i,
                         d.size, t.queue.size());
            return 1;
          }
          ++batches;
          const int64_t start = now();
          t.batch.assign(t.queue.begin(), t.queue.begin() + d.size);
          t.queue.erase(t.queue.begin(), t.queue.begin() + d.size);
          for (uint32_t r : t.batch) {
            requests[r].start = start;
            requests[r].batch = batches;
            requests[r].batch_size = d.size;
          }
          if (ts.cold) {
            cudaMemLocation host{};
            host.type = cudaMemLocationTypeHost;
            CK(cudaMemPrefetchAsync(t.mem.weights, t.layout.weights_bytes, host, 0, t.stream));
          }
          const size_t vi = size_t(std::find(t.sizes.begin(), t.sizes.end(), d.size) - t.sizes.begin());
          for (const LayerKernel& k : t.plans[vi]) launch_layer(k, t.mem.spill, t.stream);
          CK(cudaGetLastError());
          CK(cudaEventRecord(t.done, t.stream));
          t.busy = true;
        } else if (d.wait_until >= 0) {
          t.ask_at = d.wait_until;
        }
      }
      pending |= t.busy || !t.due.empty() || !t.clock->timers.empty() || t.ask_at >= 0;
    }
    if (!pending) break;
  }
  const int64_t wall = now();
  CK(cudaDeviceSynchronize());
  std::ofstream log(log_path);
  uint64_t unfinished = 0;
  for (const Request& r : requests) {
    unfinished += r.end < 0;
    log << "{\"tenant\": \"" << spec.tenants[r.tenant].name << "\", \"request\": " << r.id
        << ", \"arrival_ns\": " << r.arrival << ", \"start_ns\": " << r.start << ", \"end_ns\": " << r.end
        << ", \"batch\": " << r.batch << ", \"batch_size\": " << r.batch_size
        << ", \"counted\": " << (r.counted ? "true" : "false") << "}\n";
  }
  log << "{\"program\": \"uvm_serve\", \"spec\": \"" << spec_path << "\", \"device\": \"" << prop.name
      << "\", \"sm_count\": " << prop.multiProcessorCount << ", \"memory_bytes\": " << prop.totalGlobalMem
      << ", \"requests\": " << requests.size() << ", \"batches\": " << batches << ", \"unfinished\": " << unfinished
      << ", \"wall_ns\": " << wall << ", \"tenants\": [";
  // Each tenant's SMs and managed ranges (the events pass's faults are attributed to tenants by address).
  for (size_t i = 0; i < tenants.size(); ++i) {
    const Tenant& t = tenants[i];
    log << (i ? ", " : "") << "{\"name\": \"" << spec.tenants[i].name << "\", \"sms\": " << t.sms
        << ", \"weights\": [" << uint64_t(t.mem.weights) << ", " << std::max<uint64_t>(t.layout.weights_bytes, 4096)
        << "], \"activations\": [" << uint64_t(t.mem.activations) << ", " << t.layout.activations_bytes << "]}";
  }
  log << "]}\n";
  for (auto& t : tenants) {
    CK(cudaEventDestroy(t.done));
    if (!t.partitioned) CK(cudaStreamDestroy(t.stream));
    free_tenant_memory(t.mem, "uvm_serve");
  }
  std::printf("uvm_serve: %zu requests in %llu batches, %.1f ms%s\n", requests.size(), (unsigned long long)batches,
              double(wall) / 1e6, unfinished ? " (some never ran)" : "");
  return unfinished ? 1 : 0;
}
