// The composition root: builds a run's components (each builds the policies it calls), connects them, runs
// the engine and adds up the statistics. The components' code lives in sim/<component>/ (ARCHITECTURE.md).
#include "sim/simulator.h"

#include <algorithm>
#include <sstream>

namespace uvmsim {

namespace {

const Config& checked(const Config& c) {
  check_config(c);
  return c;
}

}  // namespace

Simulator::Simulator(const Workload& w, const Config& c, const ServingPlan* serving)
    : w_(w),
      cfg_(checked(c)),
      tenants_(w, stats_, cfg_.stats.refault_window_ns),
      pcie_(cfg_.pcie),
      pages_(w),
      buffer_(uint32_t((cfg_.gpu.sm_count + cfg_.gpu.sms_per_utlb - 1) / cfg_.gpu.sms_per_utlb),
              uint32_t(cfg_.gpu.utlb_max_outstanding_faults), size_t(cfg_.gpu.fault_buffer_entries),
              cfg_.gpu.fault_latency_ns, cfg_.gpu.fault_issue_ns),
      gpu_(engine_, w, cfg_, stats_, pages_, buffer_,
           serving && !serving->profile.tenants.empty() ? &serving->profile : nullptr),
      uvm_(engine_, w, cfg_, stats_, tenants_, pages_, buffer_, pcie_),
      host_(engine_, w, stats_, pcie_, *this, cfg_.gpu.memset_bytes_per_s, cfg_.gpu.launch_latency_ns,
            serving ? serving->issued_ops : SIZE_MAX) {
  buffer_.connect(gpu_);
  if (cfg_.gpu.utlb_miss_slots > 0)
    buffer_.configure_slots(uint32_t(cfg_.gpu.utlb_miss_slots), uint32_t(cfg_.gpu.utlb_miss_granule_pages),
                            cfg_.gpu.utlb_write_closes != 0);
  if (cfg_.gpu.utlb_miss_slots > 0 && cfg_.gpu.utlb_slot_rewalk_ns > 0)
    buffer_.configure_rewalk(cfg_.gpu.utlb_slot_rewalk_ns);
  if (cfg_.gpu.utlb_miss_slots > 0 && cfg_.gpu.utlb_round_window_ns > 0)
    buffer_.configure_round_window(cfg_.gpu.utlb_round_window_ns);
  if (cfg_.gpu.utlb_one_warp) buffer_.configure_one_access();
  if (cfg_.gpu.max_faulting_utlbs > 0)
    buffer_.configure_faulting_utlbs(uint32_t(cfg_.gpu.max_faulting_utlbs),
                                     cfg_.gpu.faulting_cap_reissues_only != 0);
  if (cfg_.gpu.fault_write_ns > 0) {
    const uint32_t per = uint32_t(cfg_.gpu.sms_per_utlb), step = uint32_t(cfg_.gpu.gpc_sm_step);
    const uint32_t sms = uint32_t(cfg_.gpu.sm_count), utlbs = (sms + per - 1) / per;
    const uint32_t gpcs = std::min<uint32_t>(uint32_t(cfg_.gpu.gpcs), (sms + step - 1) / step);
    std::vector<uint32_t> gpc_of(utlbs);
    for (uint32_t u = 0; u < utlbs; ++u) gpc_of[u] = (u * per / step) % gpcs;
    buffer_.configure_port(cfg_.gpu.fault_write_ns, uint32_t(cfg_.gpu.fault_write_burst), gpc_of);
  }
  gpu_.connect(uvm_, host_);
  if (serving) {
    std::vector<uint32_t> partitions;
    for (const auto& t : serving->spec.tenants) partitions.push_back(t.sms);
    gpu_.set_partitions(partitions);
    server_ = std::make_unique<Server>(
        engine_, w, cfg_, *serving, host_, stats_,
        [this](uint32_t kernel, uint32_t sms) { gpu_.limit_kernel_sms(kernel, sms); });
    host_.on_all_done([this] { server_->start(); });
  }
  pages_.log_unmaps(gpu_.unmap_log());
  uvm_.connect(gpu_);
  const auto& t = w.trace;
  stats_.kernels.resize(t.kernels.size());
  for (size_t k = 0; k < t.kernels.size(); ++k) {
    auto& r = stats_.kernels[k];
    r.name = t.kernels[k].name;
    r.tenant = t.kernels[k].tenant;
    r.stream = t.kernels[k].stream;
    r.ctas = t.kernels[k].cta_count;
  }
  stats_.ops.resize(t.ops.size());
  for (size_t i = 0; i < t.ops.size(); ++i) {
    stats_.ops[i].kind = trace::to_string(t.ops[i].kind);
    stats_.ops[i].stream = t.ops[i].stream;
  }
}

Simulator::~Simulator() = default;

void Simulator::run() {
  host_.start();
  Engine::Guard guard;
  guard.max_events_without_progress = uint64_t(cfg_.engine.max_events_without_progress);
  guard.max_events = uint64_t(cfg_.engine.max_events);
  guard.stuck = [this](uint8_t owner, uint8_t type, const std::string& counts) {
    stuck(owner, type, counts);
  };
  guard.capped = [this] {
    throw SimError("the run reached engine.max_events (" + std::to_string(cfg_.engine.max_events) +
                   " events) at simulated time " + std::to_string(now()) + " ns, with " +
                   std::to_string(gpu_.ctas_done()) + " of " + std::to_string(gpu_.ctas_launched()) +
                   " CTAs done; raise engine.max_events (0: no limit) to let it finish");
  };
  if (progress_reporter_ && progress_reporter_->active())
    guard.every_64k_events = [this] {
      progress_reporter_->update(
          "simulated " + std::to_string(now() / 1000000) + " ms, CTAs " + std::to_string(gpu_.ctas_done()) +
          " done of " + std::to_string(gpu_.ctas_launched()) + " launched, " +
          std::to_string(stats_.batches) + " fault batches, " + std::to_string(engine_.events()) + " events");
    };
  stats_.longest_stall_events = engine_.run(guard);
  if (progress_reporter_) progress_reporter_->finish();
  stats_.sim_time_ns = now();
  stats_.events = engine_.events();
  gpu_.finish();
  uvm_.finish();
  tenants_.finish();
  if (!host_.done())
    throw SimError(
        "deadlock: the host of a process never finished its ops (an event wait that is never recorded?)");
  if (gpu_.ctas_done() != gpu_.ctas_launched()) throw SimError("simulation ended with CTAs still running");
  if (server_ && server_->unfinished() > 0) throw SimError(server_->unfinished_message());
}

void Simulator::stuck(uint8_t owner, uint8_t type, const std::string& counts) const {
  std::string key;
  if (owner == gpu_.id() && gpu_.is_timeslice_event(type))
    key = "gpu.timeslice_ns (turns too short for a CTA's work between context switches)";
  else if (owner == gpu_.id() && gpu_.is_step_event(type))
    key =
        "gpu.memory_fraction or gpu.memory_bytes (accesses fault again before the CTA can use them), or "
        "gpu.fault_jitter_ns";
  else if (owner == uvm_.id())
    key =
        "gpu.memory_fraction or gpu.memory_bytes (faults serviced and evicted again: thrashing), or the "
        "driver.* and policies.* keys";
  else
    key = "the trace's host ops (an op that never completes)";
  throw SimError("the run is stuck: no CTA, access group or op completed in the last " +
                 std::to_string(cfg_.engine.max_events_without_progress) + " events (" + counts +
                 ") at simulated time " + std::to_string(now()) + " ns, with " +
                 std::to_string(gpu_.ctas_done()) + " of " + std::to_string(gpu_.ctas_launched()) +
                 " CTAs done, " + std::to_string(gpu_.stalled()) + " stalled on faults and " +
                 std::to_string(stats_.context_switches) + " context switches so far; the likely key is " +
                 key + "; raise engine.max_events_without_progress if the workload really needs more events");
}

// The conservation audit: the uvm's walk of the page table and GPU memory, then bytes moved in minus bytes
// moved out against the audited resident bytes, and no CTA, fault or op lost.
std::vector<std::string> Simulator::audit() const {
  std::vector<std::string> bad;
  auto say = [&](const std::string& s) {
    if (bad.size() < 20) bad.push_back(s);
  };
  const uint64_t gpu_pages = uvm_.audit(say);
  const Stats& s = stats_;
  const uint64_t in = s.bytes_zero_filled + htod_bytes(s), out = s.bytes_freed_on_gpu + dtoh_bytes(s);
  if (in - out != gpu_pages * trace::kPageBytes) {
    std::ostringstream os;
    os << "bytes in (" << in << ") minus bytes out (" << out << ") != audited GPU-resident bytes ("
       << gpu_pages * trace::kPageBytes << ")";
    say(os.str());
  }
  uint64_t total_ctas = 0;  // every kernel's once; a serving run's, the CTAs its batches launched
  if (server_)
    total_ctas = gpu_.ctas_launched();
  else
    for (auto& k : w_.trace.kernels) total_ctas += k.cta_count;
  if (gpu_.ctas_done() != total_ctas)
    say("CTAs completed " + std::to_string(gpu_.ctas_done()) + " of " + std::to_string(total_ctas));
  if (gpu_.stalled() > 0) say(std::to_string(gpu_.stalled()) + " CTAs still stalled");
  if (!buffer_.empty()) say(std::to_string(buffer_.size()) + " fault entries left in the buffer");
  for (size_t i = 0; i < s.ops.size(); ++i)
    if (s.ops[i].end_ns < 0) say("op " + std::to_string(i) + " never completed");
  return bad;
}

}  // namespace uvmsim
