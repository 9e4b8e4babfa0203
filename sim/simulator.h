// One simulation: a prepared workload replayed under one configuration, and the composition root of its
// components, each in its own folder: engine (event queue, time, the loop: sim/engine/), gpu (SMs, CTA
// scheduler, contexts: sim/gpu/), gmmu (page table and fault buffer: sim/gmmu/), uvm (the driver: fault
// service, residency, GPU memory, the CPU's side: sim/uvm/), interconnect (PCIe: sim/interconnect/), host
// (processes, streams, ops: sim/host/) and stats (sim/stats/). Each component owns its state and its events
// and builds the policies it calls; this class builds them, connects them and runs the engine.
// sim/MODEL.md lists where the model simplifies the real driver and hardware.
#pragma once

#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "sim/config/config.h"
#include "sim/engine/engine.h"
#include "sim/engine/progress.h"
#include "sim/gmmu/fault_buffer.h"
#include "sim/gmmu/page_table.h"
#include "sim/gpu/gpu.h"
#include "sim/host/host.h"
#include "sim/interconnect/pcie.h"
#include "sim/serving/server.h"
#include "sim/stats/stats.h"
#include "sim/stats/tenants.h"
#include "sim/uvm/uvm.h"
#include "sim/workload/workload.h"

namespace uvmsim {

class Simulator final : private HostServices {
 public:
  // With a serving plan, requests arrive and run in batches (sim/serving/) once the trace's ops are done.
  Simulator(const Workload& w, const Config& c, const ServingPlan* serving = nullptr);
  ~Simulator() override;
  void set_batch_log(std::ostream* os) { uvm_.set_batch_log(os); }
  void set_batch_records(std::vector<BatchRecord>* out) { uvm_.set_batch_records(out); }
  // Records the run's timeline into `t` (its batches replace any set_batch_records).
  void set_timeline(Timeline* t) {
    gpu_.set_timeline(t);
    uvm_.set_timeline(t);
    pcie_.set_timeline(t);
    if (t) uvm_.set_batch_records(&t->batches);
  }
  // Shows the run's progress (simulated time, CTAs, events) while it runs; nullptr: none.
  void set_progress(ProgressReporter* p) { progress_reporter_ = p; }
  // Runs to completion; throws SimError if the workload cannot finish (e.g. memory smaller than a block).
  void run();
  const Stats& stats() const { return stats_; }
  // The serving component (null without a serving plan).
  const Server* server() const { return server_.get(); }
  // Walks the page table independently of the counters; returns every inconsistency found (none: empty).
  std::vector<std::string> audit() const;

 private:
  // The audit's test (tests/unit/sim/sim_test.cpp) plants an inconsistency the audit must catch.
  friend struct AuditProbe;
  // engine.max_events_without_progress: the error for a run that has stopped making progress, with the
  // event most frequent since the last progress.
  [[noreturn]] void stuck(uint8_t owner, uint8_t type, const std::string& counts) const;
  int64_t now() const { return engine_.now(); }
  // The host's requests, served by the gpu (kernels) and the uvm driver (everything else).
  void launch_kernel(uint32_t kernel, uint32_t stream) override { gpu_.launch_kernel(kernel, stream); }
  int64_t migrate(uint32_t op, int64_t t) override { return uvm_.migrate(op, t); }
  int64_t cpu_access(uint32_t op, int64_t t) override { return uvm_.cpu_access(op, t); }
  void advise(uint32_t op) override { uvm_.advise(op); }
  void free_allocation(uint32_t alloc) override { uvm_.free_allocation(alloc); }

  const Workload& w_;
  const Config cfg_;  // checked before any component is built
  ProgressReporter* progress_reporter_ = nullptr;
  Engine engine_;
  Stats stats_;
  TenantLedger tenants_;
  PcieLink pcie_;
  PageTable pages_;
  FaultBuffer buffer_;
  Gpu gpu_;
  Uvm uvm_;
  Host host_;
  std::unique_ptr<Server> server_;
};

}  // namespace uvmsim
