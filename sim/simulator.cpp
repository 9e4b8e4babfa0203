// The composition root: builds a run's components and policies from the workload and config, runs the
// engine loop and dispatches events. The components' code lives in sim/<component>/ (ARCHITECTURE.md).
#include "sim/simulator.h"

#include <algorithm>
#include <climits>
#include <cmath>

namespace uvmsim {

namespace {

template <typename Kind>
auto make_policy(const Config& c, const typename Kind::Context& ctx) {
  try {
    return Registry<Kind>::instance().make(c.policy(Kind::name), c.policy_params(Kind::name), ctx);
  } catch (const std::invalid_argument& ex) {
    throw ConfigError(ex.what());
  }
}

}  // namespace

Simulator::Simulator(const Workload& w, const Config& c)
    : w_(w),
      cfg_(c),
      tenants_(w, stats_, c.stats.refault_window_ns),
      pcie_(c.pcie),
      pages_(w),
      buffer_(uint32_t((c.gpu.sm_count + c.gpu.sms_per_utlb - 1) / c.gpu.sms_per_utlb),
              uint32_t(c.gpu.utlb_max_outstanding_faults), size_t(c.gpu.fault_buffer_entries), c.gpu.fault_latency_ns,
              c.gpu.fault_issue_ns, *this) {
  check_config(cfg_);
  const uint64_t chunk_bytes = uint64_t{kPagesPerBlock} * trace::kPageBytes;
  uint64_t footprint = w.footprint_pages * trace::kPageBytes;
  if (cfg_.gpu.memory_fraction > 0) {
    // A fraction of what holds the whole footprint: the 2 MiB chunks of the VA blocks it touches (1.0: all
    // of it resident at once, nothing evicted).
    capacity_chunks_ = uint32_t(std::clamp<double>(
        std::ceil(cfg_.gpu.memory_fraction * double(w.footprint_blocks) - 1e-9), 1.0, double(1u << 30)));
  } else {
    capacity_chunks_ = uint32_t(std::min<uint64_t>(uint64_t(cfg_.gpu.memory_bytes) / chunk_bytes, 1u << 30));
  }
  stats_.gpu_capacity_bytes = uint64_t{capacity_chunks_} * chunk_bytes;
  stats_.footprint_bytes = footprint;
  stats_.sm_count = uint64_t(cfg_.gpu.sm_count);

  prefetch_ = make_policy<PrefetchKind>(cfg_, {});
  uint32_t tracked_chunks = std::min<uint32_t>(capacity_chunks_, w.blocks + 1);
  eviction_ = make_policy<EvictionKind>(cfg_, {std::max(tracked_chunks, 1u)});
  eviction_wants_accesses_ = eviction_->wants_accesses();
  replay_ = make_policy<ReplayKind>(cfg_, {});
  thrashing_ = make_policy<ThrashingKind>(cfg_, {w.pages});
  const uint32_t tenants = uint32_t(std::max<size_t>(1, w.trace.tenants.size()));
  const uint32_t sm_count = uint32_t(cfg_.gpu.sm_count);
  sm_allocation_ = make_policy<SmAllocationKind>(cfg_, {sm_count, tenants, clock_sm_allocation_});
  allowed_sms_.assign(tenants, SmSet::none(sm_count));
  tenant_load_.assign(tenants, TenantLoad{});
  tlp_ = make_policy<TlpKind>(cfg_, {sm_count, uint32_t(cfg_.gpu.max_ctas_per_sm), clock_tlp_});
  tlp_limits_ = tlp_->limits();
  memory_allocation_ = make_policy<MemoryAllocationKind>(
      cfg_, {w.blocks, tenants, std::min<uint32_t>(capacity_chunks_, w.blocks + 1), clock_memory_allocation_});
  memory_restricts_ = memory_allocation_->restricts();

  block_chunk_.assign(w.blocks, kNoChunk);
  block_pref_gpu_.assign(w.blocks, 0);
  block_touched_.assign(w.blocks, 0);
  // Only as many chunks as there are blocks can ever be used: track no more.
  chunk_block_.assign(tracked_chunks, kNoChunk);
  for (uint32_t i = tracked_chunks; i-- > 0;) free_chunks_.push_back(i);
  capacity_chunks_ = tracked_chunks;

  sms_.resize(size_t(cfg_.gpu.sm_count));
  if (cfg_.gpu.tlb_entries > 0) tlb_.assign(size_t(cfg_.gpu.sm_count * cfg_.gpu.tlb_entries), 0);

  const auto& t = w.trace;
  timeslicing_ = cfg_.gpu.timeslice_ns > 0 && w.processes > 1;
  out_since_.assign(w.processes, 0);
  frozen_.resize(w.processes);
  deferred_.resize(w.processes);
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
  guard.stuck = [this](uint8_t owner, uint8_t type, const std::string& counts) { stuck(owner, type, counts); };
  guard.capped = [this] {
    throw SimError("the run reached engine.max_events (" + std::to_string(cfg_.engine.max_events) +
                   " events) at simulated time " + std::to_string(now()) + " ns, with " +
                   std::to_string(ctas_done_) + " of " + std::to_string(ctas_launched_) +
                   " CTAs done; raise engine.max_events (0: no limit) to let it finish");
  };
  if (progress_reporter_ && progress_reporter_->active())
    guard.every_64k_events = [this] {
      progress_reporter_->update("simulated " + std::to_string(now() / 1000000) + " ms, CTAs " +
                                 std::to_string(ctas_done_) + " done of " + std::to_string(ctas_launched_) +
                                 " launched, " + std::to_string(stats_.batches) + " fault batches, " +
                                 std::to_string(engine_.events()) + " events");
    };
  stats_.longest_stall_events = engine_.run(guard);
  if (progress_reporter_) progress_reporter_->finish();
  stats_.sim_time_ns = now();
  stats_.events = engine_.events();
  for (auto& sm : sms_)
    if (sm.ctas) stats_.sm_busy_ns += now() - sm.busy_since;
  stats_.pcie_busy_ns[0] = pcie_.busy_ns(Dir::kHtoD);
  stats_.pcie_busy_ns[1] = pcie_.busy_ns(Dir::kDtoH);
  stats_.htod_copies = htod_copies_.copies;
  stats_.htod_copy_groups = htod_copies_.groups;
  tenants_.finish();
  const auto& tc = thrashing_->counters();
  stats_.thrashing_pages = tc.thrashing_pages;
  stats_.throttles = tc.throttles;
  stats_.pins = tc.pins;
  if (!host_.done())
    throw SimError(
          "deadlock: the host of a process never finished its ops (an event wait that is never recorded?)");
  if (ctas_done_ != ctas_launched_) throw SimError("simulation ended with CTAs still running");
}

void Simulator::stuck(uint8_t owner, uint8_t type, const std::string& counts) const {
  std::string key;
  if (owner == gpu_id_ && (type == kEvTimeslice || type == kEvContextIn))
    key = "gpu.timeslice_ns (turns too short for a CTA's work between context switches)";
  else if (owner == gpu_id_ && type == kEvCtaStep)
    key =
        "gpu.memory_fraction or gpu.memory_bytes (accesses fault again before the CTA can use them), or "
        "gpu.fault_jitter_ns";
  else if (owner == uvm_id_)
    key =
        "gpu.memory_fraction or gpu.memory_bytes (faults serviced and evicted again: thrashing), or the "
        "driver.* and policies.* keys";
  else if (owner == timers_id_)
    key = "the policies.* keys (a policy's timer keeps firing)";
  else
    key = "the trace's host ops (an op that never completes)";
  throw SimError("the run is stuck: no CTA, access group or op completed in the last " +
                 std::to_string(cfg_.engine.max_events_without_progress) + " events (" + counts +
                 ") at simulated time " + std::to_string(now()) + " ns, with " + std::to_string(ctas_done_) +
                 " of " + std::to_string(ctas_launched_) + " CTAs done, " + std::to_string(stalled_.size()) +
                 " stalled on faults and " + std::to_string(stats_.context_switches) +
                 " context switches so far; the likely key is " + key +
                 "; raise engine.max_events_without_progress if the workload really needs more events");
}

void Simulator::gpu_event(const Event& e) {
  switch (GpuEvent(e.type)) {
    case kEvCtaStep:
    case kEvCtaDone:
      if (slots_[e.a].delay_ns > 0) {  // its process was switched out since this event was queued
        engine_.at(now() + slots_[e.a].delay_ns, kPrioCta, gpu_id_, e.type, e.a);
        slots_[e.a].delay_ns = 0;
      } else if (slots_[e.a].frozen) {  // its process is out: the event waits for its next turn
        const uint32_t p = process_of_kernel(slots_[e.a].kernel);
        deferred_[p].push_back({e.a, e.type, now() - out_since_[p]});
        slots_[e.a].deferred = true;
      } else if (e.type == kEvCtaStep) {
        cta_step(e.a);
      } else {
        cta_done(e.a);
      }
      break;
    case kEvTimeslice:
      if (e.b == slice_gen_) {
        slice_armed_ = false;
        turn_over_ = true;
        context_check();
      }
      break;
    case kEvContextIn:
      context_in();
      break;
  }
}

void Simulator::uvm_event(const Event& e) {
  switch (UvmEvent(e.type)) {
    case kEvFlush:
      stats_.faults_flushed += buffer_.flush(int64_t(e.b));
      break;
    case kEvInterrupt:
      interrupt_pending_ = false;
      if (!in_service_) start_service();
      break;
    case kEvBatch:
      service_batch();
      break;
    case kEvReplay:
      --replays_pending_;
      replay();
      break;
  }
}

void Simulator::timer_event(const Event& e) { policy_timer(TimerOwner(e.a), e.b); }

void Simulator::Clock::set_timer(int64_t at_ns, uint64_t tag) {
  s_.engine_.at(std::max(at_ns, s_.now()), kPrioDriver, s_.timers_id_, kEvPolicyTimer, owner_, tag);
}

// A policy's timer: the policy runs, then the scheduler asks again what the policy decides.
void Simulator::policy_timer(TimerOwner owner, uint64_t tag) {
  switch (owner) {
    case kTimerSmAllocation:
      sm_allocation_->on_timer(tag);
      if (allocate_sms()) fill_sms();
      break;
    case kTimerTlp:
      tlp_->on_timer(tag);
      fill_sms();
      break;
    case kTimerMemoryAllocation:
      memory_allocation_->on_timer(tag);
      if (admit_waiting()) fill_sms();
      break;
    case kTimerOwners:
      break;
  }
}

}  // namespace uvmsim
