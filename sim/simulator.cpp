// The simulator's engine loop, SMs and CTA scheduler, and the host with its streams.
// The UVM driver and GPU memory live in driver.cpp; the audit in audit.cpp.
#include "sim/simulator.h"

#include <algorithm>
#include <climits>
#include <cmath>

namespace uvmsim {

using trace::OpKind;

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

Simulator::Simulator(const Workload& w, const Config& c) : w_(w), cfg_(c), pcie_(c.pcie) {
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

  loc_.assign(w.pages, kNowhere);
  gpu_ok_.assign(w.pages, 0);
  block_chunk_.assign(w.blocks, kNoChunk);
  gpu_mask_.assign(w.blocks, BlockMask{});
  cpu_mask_.assign(w.blocks, BlockMask{});
  valid_mask_.assign(w.blocks, BlockMask{});
  for (uint32_t p = 0; p < w.pages; ++p)
    if (w.page_valid[p]) valid_mask_[p / kPagesPerBlock].set(p % kPagesPerBlock);
  block_lo_.assign(w.blocks, 0);
  block_hi_.assign(w.blocks, 0);
  for (uint32_t b = 0; b < w.blocks; ++b) {
    uint32_t lo = 0, hi = kPagesPerBlock;
    while (lo < hi && !valid_mask_[b].test(lo)) ++lo;
    while (hi > lo && !valid_mask_[b].test(hi - 1)) --hi;
    block_lo_[b] = uint16_t(lo);
    block_hi_[b] = uint16_t(hi);
  }
  block_pref_gpu_.assign(w.blocks, 0);
  block_touched_.assign(w.blocks, 0);
  // Only as many chunks as there are blocks can ever be used: track no more.
  chunk_block_.assign(tracked_chunks, kNoChunk);
  for (uint32_t i = tracked_chunks; i-- > 0;) free_chunks_.push_back(i);
  capacity_chunks_ = tracked_chunks;

  sms_.resize(size_t(cfg_.gpu.sm_count));
  uint32_t utlbs = uint32_t((cfg_.gpu.sm_count + cfg_.gpu.sms_per_utlb - 1) / cfg_.gpu.sms_per_utlb);
  utlb_outstanding_.assign(utlbs, 0);
  utlb_next_.assign(utlbs, 0);
  if (cfg_.gpu.tlb_entries > 0) tlb_.assign(size_t(cfg_.gpu.sm_count * cfg_.gpu.tlb_entries), 0);

  // Streams per (process, stream id), hosts per process, in trace order.
  const auto& t = w.trace;
  hosts_.resize(w.processes);
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> stream_ids;
  op_stream_.resize(t.ops.size());
  for (uint32_t i = 0; i < t.ops.size(); ++i) {
    const auto& o = t.ops[i];
    uint32_t proc = t.tenants.empty() ? 0 : t.tenants[o.tenant].process;
    auto key = std::make_pair(proc, o.stream);
    auto it = stream_ids.find(key);
    if (it == stream_ids.end()) {
      it = stream_ids.emplace(key, uint32_t(streams_.size())).first;
      streams_.push_back(Stream{proc, {}, false, -1});
    }
    op_stream_[i] = it->second;
    hosts_[proc].ops.push_back(i);
  }
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
  // Tenants: the trace's, or one unnamed tenant.
  stats_.tenants.resize(std::max<size_t>(1, t.tenants.size()));
  for (size_t i = 0; i < t.tenants.size(); ++i)
    stats_.tenants[i] = {t.tenants[i].name, t.tenants[i].model, t.tenants[i].process};
  tenant_batch_.assign(stats_.tenants.size(), 0);
  block_tenant_.assign(w.blocks, kNoTenant);
  for (size_t a = 0; a < t.allocations.size(); ++a) {
    const uint32_t tenant = t.allocations[a].tenant;
    alloc_spans_.push_back({w.alloc_first[a], w.alloc_pages[a], tenant});
    for (uint32_t b = w.alloc_first[a] / kPagesPerBlock;
         b <= (w.alloc_first[a] + w.alloc_pages[a] - 1) / kPagesPerBlock; ++b)
      block_tenant_[b] = block_tenant_[b] == kNoTenant || block_tenant_[b] == tenant ? tenant : kMixedTenants;
  }
  std::sort(alloc_spans_.begin(), alloc_spans_.end(),
            [](const AllocSpan& x, const AllocSpan& y) { return x.first < y.first; });
  evicted_pages_.assign(w.blocks, BlockMask{});
  evicted_at_.assign(w.blocks, -1);
  stats_.ops.resize(t.ops.size());
  for (size_t i = 0; i < t.ops.size(); ++i) {
    stats_.ops[i].kind = trace::to_string(t.ops[i].kind);
    stats_.ops[i].stream = t.ops[i].stream;
  }
}

Simulator::~Simulator() = default;

void Simulator::run() {
  // Processes start as far apart as they did in the recording (host_ns is one clock for all of a trace's
  // processes; 0 in generated traces): a process's first op waits its host_ns after the earliest one's.
  int64_t first_host_ns = INT64_MAX;
  for (const Host& h : hosts_)
    if (!h.ops.empty()) first_host_ns = std::min(first_host_ns, w_.trace.ops[h.ops[0]].host_ns);
  for (uint32_t p = 0; p < hosts_.size(); ++p) {
    if (hosts_[p].ops.empty()) {
      hosts_[p].done = true;
      continue;
    }
    const auto& o = w_.trace.ops[hosts_[p].ops[0]];
    q_.push(std::max<int64_t>(0, o.host_gap_ns) + std::max<int64_t>(0, o.host_ns - first_host_ns), kPrioHost,
            kEvHostIssue, p);
  }
  const uint64_t limit = uint64_t(cfg_.engine.max_events_without_progress);
  const uint64_t max_events = cfg_.engine.max_events > 0 ? uint64_t(cfg_.engine.max_events) : UINT64_MAX;
  uint64_t seen_progress = progress_, since = 0;
  while (!q_.empty()) {
    Event e = q_.pop();
    now_ = e.time;
    dispatch(e);
    if (progress_ != seen_progress) {
      seen_progress = progress_;
      stats_.longest_stall_events = std::max(stats_.longest_stall_events, since);
      if (since) std::fill(std::begin(events_since_progress_), std::end(events_since_progress_), 0);
      since = 0;
    } else {
      ++events_since_progress_[e.type];
      if (++since >= limit) stuck();
    }
    if (q_.popped() >= max_events)
      throw SimError("the run reached engine.max_events (" + std::to_string(max_events) +
                     " events) at simulated time " + std::to_string(now_) + " ns, with " +
                     std::to_string(ctas_done_) + " of " + std::to_string(ctas_launched_) +
                     " CTAs done; raise engine.max_events (0: no limit) to let it finish");
    if (progress_reporter_ && progress_reporter_->active() && (q_.popped() & 0xffff) == 0)
      progress_reporter_->update("simulated " + std::to_string(now_ / 1000000) + " ms, CTAs " +
                                 std::to_string(ctas_done_) + " done of " + std::to_string(ctas_launched_) +
                                 " launched, " + std::to_string(stats_.batches) + " fault batches, " +
                                 std::to_string(q_.popped()) + " events");
  }
  if (progress_reporter_) progress_reporter_->finish();
  stats_.longest_stall_events = std::max(stats_.longest_stall_events, since);
  stats_.sim_time_ns = now_;
  stats_.events = q_.popped();
  for (auto& sm : sms_)
    if (sm.ctas) stats_.sm_busy_ns += now_ - sm.busy_since;
  stats_.pcie_busy_ns[0] = pcie_.busy_ns(Dir::kHtoD);
  stats_.pcie_busy_ns[1] = pcie_.busy_ns(Dir::kDtoH);
  stats_.htod_copies = htod_copies_.copies;
  stats_.htod_copy_groups = htod_copies_.groups;
  finish_tenant_stats();
  const auto& tc = thrashing_->counters();
  stats_.thrashing_pages = tc.thrashing_pages;
  stats_.throttles = tc.throttles;
  stats_.pins = tc.pins;
  for (auto& h : hosts_)
    if (!h.done)
      throw SimError(
          "deadlock: the host of a process never finished its ops (an event wait that is never recorded?)");
  if (ctas_done_ != ctas_launched_) throw SimError("simulation ended with CTAs still running");
}

void Simulator::stuck() const {
  static const char* const kNames[kEvTypes] = {"CTA step",   "CTA end",    "interrupt",   "batch",
                                               "replay",     "host issue", "stream done", "time slice",
                                               "context in", "flush",       "policy timer"};
  uint32_t top = 0;
  for (uint32_t t = 1; t < kEvTypes; ++t)
    if (events_since_progress_[t] > events_since_progress_[top]) top = t;
  std::string key;
  switch (top) {
    case kEvTimeslice:
    case kEvContextIn:
      key = "gpu.timeslice_ns (turns too short for a CTA's work between context switches)";
      break;
    case kEvCtaStep:
      key =
          "gpu.memory_fraction or gpu.memory_bytes (accesses fault again before the CTA can use them), or "
          "gpu.fault_jitter_ns";
      break;
    case kEvInterrupt:
    case kEvBatch:
    case kEvReplay:
    case kEvFlush:
      key =
          "gpu.memory_fraction or gpu.memory_bytes (faults serviced and evicted again: thrashing), or the "
          "driver.* and policies.* keys";
      break;
    default:
      key = "the trace's host ops (an op that never completes)";
  }
  std::string counts;
  for (uint32_t t = 0; t < kEvTypes; ++t)
    if (events_since_progress_[t])
      counts += std::string(counts.empty() ? "" : ", ") + std::to_string(events_since_progress_[t]) + " " +
                kNames[t];
  throw SimError("the run is stuck: no CTA, access group or op completed in the last " +
                 std::to_string(cfg_.engine.max_events_without_progress) + " events (" + counts +
                 ") at simulated time " + std::to_string(now_) + " ns, with " + std::to_string(ctas_done_) +
                 " of " + std::to_string(ctas_launched_) + " CTAs done, " + std::to_string(stalled_.size()) +
                 " stalled on faults and " + std::to_string(stats_.context_switches) +
                 " context switches so far; the likely key is " + key +
                 "; raise engine.max_events_without_progress if the workload really needs more events");
}

void Simulator::dispatch(const Event& e) {
  switch (e.type) {
    case kEvCtaStep:
    case kEvCtaDone:
      if (slots_[e.a].delay_ns > 0) {  // its process was switched out since this event was queued
        q_.push(now_ + slots_[e.a].delay_ns, kPrioCta, e.type, e.a);
        slots_[e.a].delay_ns = 0;
      } else if (slots_[e.a].frozen) {  // its process is out: the event waits for its next turn
        const uint32_t p = process_of_kernel(slots_[e.a].kernel);
        deferred_[p].push_back({e.a, e.type, now_ - out_since_[p]});
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
    case kEvFlush:
      flush(int64_t(e.b));
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
    case kEvHostIssue:
      host_issue(e.a);
      break;
    case kEvStreamDone:
      stream_op_done(e.a);
      break;
    case kEvPolicyTimer:
      policy_timer(TimerOwner(e.a), e.b);
      break;
  }
}

void Simulator::Clock::set_timer(int64_t at_ns, uint64_t tag) {
  s_.q_.push(std::max(at_ns, s_.now_), kPrioDriver, kEvPolicyTimer, owner_, tag);
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

// ---------------------------------------------------------------- SMs and CTAs

void Simulator::launch_kernel(uint32_t kernel, uint32_t stream) {
  const auto& k = w_.trace.kernels[kernel];
  RunningKernel rk;
  rk.kernel = kernel;
  rk.stream = stream;
  rk.process = process_of_kernel(kernel);
  rk.tenant = w_.trace.tenants.empty() ? 0 : k.tenant;
  rk.count = k.cta_count;
  rk.threads = uint32_t(k.threads_per_cta());
  rk.regs = k.regs_per_thread * rk.threads;
  rk.smem = k.smem_bytes;
  if (rk.threads > cfg_.gpu.max_threads_per_sm || rk.regs > cfg_.gpu.regs_per_sm ||
      rk.smem > cfg_.gpu.smem_per_sm_bytes)
    throw SimError("kernel " + std::to_string(kernel) + " (" + k.name +
                   ") does not fit on one SM of the configured GPU");
  ctas_launched_ += rk.count;
  running_.push_back(rk);
  if (rk.count == 0) {
    stats_.kernels[kernel].start_ns = stats_.kernels[kernel].end_ns = now_;
    running_.pop_back();
    q_.push(now_, kPrioHost, kEvStreamDone, stream);
    return;
  }
  TenantLoad& load = tenant_load_[rk.tenant];
  ++load.kernels_running;
  load.ctas_waiting += rk.count;
  if (memory_restricts_) {
    RunningKernel& r = running_.back();
    r.admitted = memory_allocation_->admit(kernel_view(r));
    if (r.admitted) memory_allocation_->on_kernel_start(kernel_view(r));
  }
  allocate_sms();
  if (timeslicing_) context_check();
  fill_sms();
}

KernelView Simulator::kernel_view(const RunningKernel& rk) const { return {rk.kernel, rk.tenant, rk.count}; }

bool Simulator::allocate_sms() {
  const std::vector<SmSet> before = allowed_sms_;
  sm_allocation_->allocate(SmAllocationView{uint32_t(sms_.size()), tenant_load_}, allowed_sms_);
  if (allowed_sms_.size() != tenant_load_.size())
    throw SimError("sm_allocation policy '" + cfg_.policy("sm_allocation") + "' changed the number of tenants");
  for (size_t t = 0; t < allowed_sms_.size(); ++t)
    if (tenant_load_[t].ctas_waiting > 0 && allowed_sms_[t].count() == 0)
      throw SimError("sm_allocation policy '" + cfg_.policy("sm_allocation") + "' gave tenant " +
                     std::to_string(t) + " no SM while it has CTAs to run");
  return allowed_sms_ != before;
}

bool Simulator::admit_waiting() {
  bool any = false;
  for (auto& rk : running_)
    if (!rk.admitted && memory_allocation_->admit(kernel_view(rk))) {
      rk.admitted = any = true;
      memory_allocation_->on_kernel_start(kernel_view(rk));
    }
  return any;
}

// Places the first waiting CTA that may run on SM s: of the earliest launched kernel whose tenant may use
// the SM (sm_allocation), that the memory_allocation policy admitted, and within the tlp policy's limit.
// In-order dispatch: if that CTA does not fit the SM's resources, no later kernel's CTA overtakes it, unless
// the tlp policy granted the SM CTAs beyond its limits.
bool Simulator::try_place(uint32_t s) {
  Sm& sm = sms_[s];
  for (auto& rk : running_) {
    if (rk.next_cta == rk.count || !rk.admitted) continue;
    if (timeslicing_ && int32_t(rk.process) != owner_) continue;  // another process's turn (or a switch)
    if (!allowed_sms_[rk.tenant].test(s)) continue;
    bool over_limit = false;
    if (tlp_limits_) {
      const uint32_t limit = tlp_->cta_limit(s, rk.tenant);
      over_limit = limit > 0 && sm.ctas >= limit;
    }
    const bool fits = sm.ctas + 1 <= cfg_.gpu.max_ctas_per_sm && sm.threads + rk.threads <= cfg_.gpu.max_threads_per_sm &&
                      sm.regs + rk.regs <= cfg_.gpu.regs_per_sm && sm.smem + rk.smem <= cfg_.gpu.smem_per_sm_bytes;
    int64_t delay = 0;
    if (!fits || over_limit) {
      if (sm.extra == 0) {
        if (!fits) return false;  // in-order dispatch: a later kernel does not overtake this one's CTAs
        continue;                 // this tenant's limit does not hold back another's CTAs
      }
      --sm.extra;
      delay = sm.extra_switch_ns;
    }
    start_cta(rk, rk.next_cta++, s, delay);
    return true;
  }
  return false;
}

// Every CTA resident on SM s is stalled on faults: the tlp policy may let it take more CTAs.
void Simulator::sm_all_stalled(uint32_t s) {
  uint64_t waiting = 0;
  for (const TenantLoad& l : tenant_load_) waiting += l.ctas_waiting;
  if (waiting == 0) return;
  const StallAnswer a = tlp_->on_sm_stalled(SmStallView{s, sms_[s].ctas, waiting});
  if (a.extra_ctas == 0) return;
  sms_[s].extra += a.extra_ctas;
  sms_[s].extra_switch_ns = std::max<int64_t>(0, a.switch_ns);
  while (sms_[s].extra > 0 && try_place(s)) {
  }
}

// Breadth-first over SMs, as the hardware's CTA dispatcher: CTA i goes to the i-th SM with room.
void Simulator::fill_sms() {
  bool placed = true;
  uint32_t n = uint32_t(sms_.size());
  while (placed) {
    placed = false;
    for (uint32_t s = 0; s < n; ++s)
      if (try_place(s)) placed = true;
  }
}

void Simulator::start_cta(RunningKernel& rk, uint64_t cta_index, uint32_t s, int64_t delay_ns) {
  // A kernel starts when its first CTA does, as CUPTI times it: the H100's record of a one-CTA kernel
  // queued behind another stream's grid that fills every SM starts 800 us after its launch, when a slot
  // frees (cuda_tracer/programs/kernel_start_probe.cu).
  if (cta_index == 0) stats_.kernels[rk.kernel].start_ns = now_;
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = uint32_t(slots_.size());
    slots_.emplace_back();
  } else {
    slot = free_slots_.back();
    free_slots_.pop_back();
  }
  CtaSlot& c = slots_[slot];
  c = CtaSlot{};
  c.live = true;
  c.start = ++ctas_started_;
  c.kernel = rk.kernel;
  c.sm = s;
  c.cta = w_.trace.kernels[rk.kernel].cta_begin + cta_index;
  c.pos = c.resume = w_.cta_points[c.cta];
  c.end = w_.cta_points[c.cta + 1];
  slot_resources(slot, true);
  --tenant_load_[rk.tenant].ctas_waiting;
  ++tenant_load_[rk.tenant].ctas_running;
  schedule_next_point(slot, delay_ns);
}

// Schedules the CTA's next access group, or its end, after the compute that precedes it.
void Simulator::schedule_next_point(uint32_t slot, int64_t extra_ns) {
  CtaSlot& c = slots_[slot];
  int64_t cta_ns = int64_t(w_.kernel_cta_ns[c.kernel]);
  if (c.pos == c.end) {
    q_.push(now_ + extra_ns + std::max<int64_t>(0, cta_ns - c.progress_ns), kPrioCta, kEvCtaDone, slot);
    return;
  }
  int64_t at = mul_div(w_.points[c.pos].t, uint64_t(cta_ns), trace::kIntervalScale);
  int64_t wait = std::max<int64_t>(0, at - c.progress_ns);
  c.progress_ns = std::max(c.progress_ns, at);
  q_.push(now_ + extra_ns + wait, kPrioCta, kEvCtaStep, slot);
}

void Simulator::raise_fault(uint32_t slot, uint32_t page, uint8_t kind, uint32_t utlb, bool* blocked) {
  if (utlb_outstanding_[utlb] >= uint32_t(cfg_.gpu.utlb_max_outstanding_faults) ||
      buffer_.size() >= size_t(cfg_.gpu.fault_buffer_entries)) {
    ++stats_.faults_not_entered;
    *blocked = true;
    return;
  }
  int64_t arrival = std::max(now_ + cfg_.gpu.fault_latency_ns, utlb_next_[utlb]);
  utlb_next_[utlb] = arrival + cfg_.gpu.fault_issue_ns;
  ++utlb_outstanding_[utlb];
  buffer_.push_back(FaultEntry{arrival, fault_seq_++, page, kind, utlb, slot, slots_[slot].start,
                               w_.trace.kernels[slots_[slot].kernel].tenant});
  ++slots_[slot].in_buffer;
  std::push_heap(buffer_.begin(), buffer_.end(), FaultLater{});
  ++stats_.faults_raised;
  if (!in_service_ && !interrupt_pending_) {
    interrupt_pending_ = true;
    q_.push(arrival + cfg_.driver.isr_latency_ns, kPrioDriver, kEvInterrupt);
  }
}

// Uniform in [0, gpu.fault_jitter_ns): splitmix64 over (seed, draw count), so a run is reproducible.
int64_t Simulator::fault_jitter() {
  uint64_t z = cfg_.seed * 0x9e3779b97f4a7c15ull + ++jitter_draws_ * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return int64_t(z % uint64_t(cfg_.gpu.fault_jitter_ns));
}

// The CTA issues its current group of accesses (all points at the same moment of its run). Each access
// completes on its own, as each thread's does: an access to a page with a valid GPU mapping completes; one
// to a page without faults. The CTA stalls until a replay, then re-issues only the accesses not yet
// complete, so a page evicted after its access completed is not needed again for that access.
// With gpu.fault_jitter_ns > 0 each faulting access reaches the uTLB after its own random delay: the CTA
// pauses at it (its issue cursor), raises it when the delay is over and goes on to the next. So the misses
// of the CTAs sharing a uTLB interleave at random instead of in dispatch and address order, and the uTLB's
// outstanding-fault cap takes pages of many CTAs (as the H100's prefetch shares show: with one page per CTA
// most of each block is still prefetched).
void Simulator::cta_step(uint32_t slot) {
  CtaSlot& c = slots_[slot];
  if (c.stalled) --sms_[c.sm].stalled;
  c.stalled = false;
  uint16_t t = w_.points[c.pos].t;
  uint64_t group_end = c.pos;
  while (group_end < c.end && w_.points[group_end].t == t) ++group_end;
  uint32_t utlb = c.sm / uint32_t(cfg_.gpu.sms_per_utlb);
  bool faulted = c.round_faulted, blocked = false;
  int64_t extra = 0;
  const bool tlb_on = !tlb_.empty();
  const bool jitter = cfg_.gpu.fault_jitter_ns > 0;
  // Where this pass starts: the paused issue cursor, or the first access not yet complete.
  const uint64_t first = c.paused ? c.cursor : c.resume;
  const uint32_t first_off = c.paused ? c.cursor_off : c.resume_off;
  uint64_t index = c.paused ? c.cursor_index : c.resume_index;         // access index within the group
  if (c.paused) c.granted = uint32_t(cfg_.gpu.fault_jitter_accesses);  // these misses have arrived
  c.paused = false;
  uint64_t issued = 0;
  for (uint64_t i = first; i < group_end && !blocked; ++i) {
    const AccessPoint& r = w_.points[i];
    uint32_t off = i == first ? first_off : 0;
    for (uint32_t p = r.page + off; p < r.page + r.count; ++p, ++index) {
      if (c.tracking && (c.done[index >> 6] >> (index & 63) & 1)) continue;
      if (gpu_ok_[p]) {
        ++issued;
        if (tlb_on) {
          uint32_t tag = p / kPagesPerBlock + 1;
          uint32_t& e = tlb_[c.sm * uint32_t(cfg_.gpu.tlb_entries) + tag % uint32_t(cfg_.gpu.tlb_entries)];
          if (e != tag) {
            e = tag;
            ++stats_.tlb_misses;
            extra += cfg_.gpu.tlb_miss_ns;
          }
        }
        if (faulted) c.done[index >> 6] |= uint64_t{1} << (index & 63);
        continue;
      }
      if (jitter && c.granted == 0) {  // these misses are on their way: pause here until they reach the uTLB
        c.paused = true;
        c.round_faulted = faulted;
        c.cursor = i;
        c.cursor_off = p - r.page;
        c.cursor_index = index;
        stats_.accesses_issued += issued;
        q_.push(now_ + fault_jitter(), kPrioCta, kEvCtaStep, slot);
        return;
      }
      if (jitter) --c.granted;
      ++issued;
      if (!faulted) {
        faulted = true;
        if (!c.tracking) {
          // First stall in this group: every access before this one completed.
          uint64_t total = 0;
          for (uint64_t j = c.pos; j < group_end; ++j) total += w_.points[j].count;
          c.done.assign((total + 63) / 64, 0);
          for (uint64_t k = 0; k < index; ++k) c.done[k >> 6] |= uint64_t{1} << (k & 63);
          c.tracking = true;
        }
        c.resume = i;
        c.resume_off = p - r.page;
        c.resume_index = index;
      }
      ++stats_.kernels[c.kernel].faults;
      raise_fault(slot, p, r.kind, utlb, &blocked);
      if (blocked) break;
    }
  }
  stats_.accesses_issued += issued;
  c.round_faulted = false;
  c.granted = 0;
  if (faulted) {
    c.stalled = true;
    stalled_.push_back(slot);
    // Every fault this round raised has been fetched (or flushed) and no replay is still to come: the
    // replays that served them came while the CTA was still issuing (paused by the fault jitter, or its
    // process switched out), so nothing would ever wake it. It re-issues now, as the replayed accesses
    // would. (A blocked access means entries are in the buffer, so a batch and its replay will come.)
    if (!blocked && c.in_buffer == 0 && replays_pending_ == 0) {
      stalled_.pop_back();
      c.stalled = false;
      ++stats_.reissues;
      q_.push(now_, kPrioCta, kEvCtaStep, slot);
      return;
    }
    Sm& sm = sms_[c.sm];
    if (++sm.stalled == sm.ctas && tlp_limits_) sm_all_stalled(c.sm);
    return;
  }
  for (uint64_t i = c.pos; i < group_end; ++i) {
    const AccessPoint& r = w_.points[i];
    stats_.page_accesses += r.count;
    if (eviction_wants_accesses_) {
      for (uint32_t b = r.page / kPagesPerBlock; b <= (r.page + r.count - 1) / kPagesPerBlock; ++b)
        if (block_chunk_[b] != kNoChunk) eviction_->on_access(block_chunk_[b], now_);
    }
  }
  ++progress_;
  c.pos = c.resume = group_end;
  c.resume_off = 0;
  c.resume_index = 0;
  c.tracking = false;
  schedule_next_point(slot, extra);
}

void Simulator::cta_done(uint32_t slot) {
  CtaSlot& c = slots_[slot];
  auto it = std::find_if(running_.begin(), running_.end(),
                         [&](const RunningKernel& r) { return r.kernel == c.kernel; });
  slot_resources(slot, false);
  c.live = false;
  free_slots_.push_back(slot);
  ++ctas_done_;
  ++progress_;
  uint32_t s = c.sm;
  --tenant_load_[it->tenant].ctas_running;
  if (++it->done == it->count) {
    stats_.kernels[it->kernel].end_ns = now_;
    uint32_t stream = it->stream;
    --tenant_load_[it->tenant].kernels_running;
    if (memory_restricts_) memory_allocation_->on_kernel_end(kernel_view(*it));
    running_.erase(it);
    const bool admitted = memory_restricts_ && admit_waiting();
    const bool moved = allocate_sms();
    stream_op_done(stream);
    if (timeslicing_) context_check();
    if (admitted || moved) fill_sms();
  }
  while (try_place(s)) {
  }
}

// ---------------------------------------------------------------- processes taking turns

uint32_t Simulator::process_of_kernel(uint32_t kernel) const {
  const auto& t = w_.trace;
  return t.tenants.empty() ? 0 : t.tenants[t.kernels[kernel].tenant].process;
}

bool Simulator::has_work(uint32_t process) const {
  return std::any_of(running_.begin(), running_.end(),
                     [&](const RunningKernel& r) { return r.process == process; });
}

// Decides the turn: the first process with work takes the idle GPU at once; a process with work takes it
// from an owner that has none (a hand-over, context_switch_ns) or whose turn is over (a preemption, plus
// preempt_ns). Candidates are taken round-robin after the owner. Turns are timeslice_ns long, renewed
// while nobody else waits.
void Simulator::context_check() {
  if (incoming_ >= 0) return;  // a switch is under way
  const uint32_t n = uint32_t(hosts_.size());
  if (owner_ < 0) {
    for (uint32_t p = 0; p < n && owner_ < 0; ++p)
      if (has_work(p)) owner_ = int32_t(p);  // the first turn: no context to save
    if (owner_ < 0) return;
  }
  const bool owner_busy = has_work(uint32_t(owner_));
  int32_t next = -1;
  for (uint32_t i = 1; i < n && next < 0; ++i) {
    const uint32_t p = (uint32_t(owner_) + i) % n;
    if (has_work(p)) next = int32_t(p);
  }
  if (next >= 0 && (!owner_busy || turn_over_)) {
    context_out(uint32_t(next), owner_busy);
    return;
  }
  turn_over_ = false;
  if (owner_busy && !slice_armed_) {  // a turn begins, or is renewed while nobody else waits
    slice_armed_ = true;
    q_.push(now_ + cfg_.gpu.timeslice_ns, kPrioCta, kEvTimeslice, 0, ++slice_gen_);
  }
}

void Simulator::slot_resources(uint32_t slot, bool add) {
  const CtaSlot& c = slots_[slot];
  const auto& k = w_.trace.kernels[c.kernel];
  const uint32_t threads = uint32_t(k.threads_per_cta());
  Sm& sm = sms_[c.sm];
  if (add) {
    if (sm.ctas == 0) sm.busy_since = now_;
    sm.stalled += c.stalled;
    sm.ctas += 1;
    sm.threads += threads;
    sm.regs += k.regs_per_thread * threads;
    sm.smem += k.smem_bytes;
  } else {
    sm.stalled -= c.stalled;
    sm.ctas -= 1;
    sm.threads -= threads;
    sm.regs -= k.regs_per_thread * threads;
    sm.smem -= k.smem_bytes;
    if (sm.ctas == 0) stats_.sm_busy_ns += now_ - sm.busy_since;
  }
}

// Switches the owner out: its resident CTAs are saved (they leave their SMs; their events wait), and
// `to` gets the GPU after the switch.
void Simulator::context_out(uint32_t to, bool preempt) {
  const uint32_t from = uint32_t(owner_);
  out_since_[from] = now_;
  for (uint32_t slot = 0; slot < slots_.size(); ++slot) {
    CtaSlot& c = slots_[slot];
    if (!c.live || c.frozen || process_of_kernel(c.kernel) != from) continue;
    c.frozen = true;
    slot_resources(slot, false);
    frozen_[from].push_back(slot);
  }
  const bool saved = preempt && !frozen_[from].empty();
  owner_ = -1;
  incoming_ = int32_t(to);
  ++slice_gen_;
  slice_armed_ = turn_over_ = false;
  ++stats_.context_switches;
  q_.push(now_ + cfg_.gpu.context_switch_ns + (saved ? cfg_.gpu.preempt_ns : 0), kPrioCta, kEvContextIn);
}

// The incoming process's turn begins: its saved CTAs return to their SMs, their events that fell due
// while it was out run as late as they fell due after its switch-out, and its new CTAs are placed.
void Simulator::context_in() {
  const uint32_t p = uint32_t(incoming_);
  owner_ = incoming_;
  incoming_ = -1;
  for (uint32_t slot : frozen_[p]) {
    CtaSlot& c = slots_[slot];
    c.frozen = false;
    slot_resources(slot, true);
    if (c.wake_on_resume) {  // a replay came while it was out
      c.wake_on_resume = false;
      q_.push(now_, kPrioCta, kEvCtaStep, slot);
    } else if (!c.stalled && !c.deferred) {  // its event is still queued: due later by the time out
      c.delay_ns += now_ - out_since_[p];
    }
  }
  frozen_[p].clear();
  for (const Deferred& d : deferred_[p]) {
    slots_[d.slot].deferred = false;
    q_.push(now_ + d.late, kPrioCta, d.type, d.slot);
  }
  deferred_[p].clear();
  context_check();
  fill_sms();
}

// ---------------------------------------------------------------- tenants

uint32_t Simulator::tenant_of_page(uint32_t page) const {
  const uint32_t bt = block_tenant_[page / kPagesPerBlock];
  if (bt != kMixedTenants) return bt == kNoTenant ? 0 : bt;
  auto it = std::upper_bound(alloc_spans_.begin(), alloc_spans_.end(), page,
                             [](uint32_t p, const AllocSpan& a) { return p < a.first; });
  return it == alloc_spans_.begin() ? 0 : std::prev(it)->tenant;
}

// Bytes of pages [first, first + len) of block b copied in (HtoD) or out (DtoH), to their tenants.
void Simulator::count_tenant_bytes(uint32_t b, uint32_t first, uint32_t len, bool in) {
  const uint32_t base = b * kPagesPerBlock;
  if (block_tenant_[b] != kMixedTenants) {
    TenantRecord& t = stats_.tenants[tenant_of_page(base + first)];
    (in ? t.bytes_in : t.bytes_out) += uint64_t{len} * trace::kPageBytes;
    return;
  }
  for (uint32_t q = first; q < first + len; ++q) {
    TenantRecord& t = stats_.tenants[tenant_of_page(base + q)];
    (in ? t.bytes_in : t.bytes_out) += trace::kPageBytes;
  }
}

// Kernels, CTAs, faults and the time each tenant had a kernel running, from the kernel records.
void Simulator::finish_tenant_stats() {
  std::vector<std::vector<std::pair<int64_t, int64_t>>> spans(stats_.tenants.size());
  for (const KernelRecord& k : stats_.kernels) {
    TenantRecord& t = stats_.tenants[k.tenant];
    ++t.kernels;
    t.ctas += k.ctas;
    t.faults += k.faults;
    if (k.start_ns < 0) continue;
    spans[k.tenant].emplace_back(k.start_ns, k.end_ns);
    t.first_start_ns = t.first_start_ns < 0 ? k.start_ns : std::min(t.first_start_ns, k.start_ns);
    t.last_end_ns = std::max(t.last_end_ns, k.end_ns);
  }
  for (size_t i = 0; i < spans.size(); ++i) {
    std::sort(spans[i].begin(), spans[i].end());
    int64_t reach = INT64_MIN;
    for (auto [a, b] : spans[i]) {
      if (b > reach) stats_.tenants[i].kernel_ns += b - std::max(a, reach);
      reach = std::max(reach, b);
    }
  }
}

// ---------------------------------------------------------------- host and streams

bool Simulator::streams_idle(uint32_t process) const {
  for (auto& s : streams_)
    if (s.process == process && (s.busy || !s.queue.empty())) return false;
  return true;
}

void Simulator::host_continue(uint32_t process, int64_t at) {
  Host& h = hosts_[process];
  ++progress_;
  if (++h.cursor >= h.ops.size()) {
    h.done = true;
    return;
  }
  q_.push(at + std::max<int64_t>(0, w_.trace.ops[h.ops[h.cursor]].host_gap_ns), kPrioHost, kEvHostIssue,
          process);
}

void Simulator::host_issue(uint32_t process) {
  Host& h = hosts_[process];
  uint32_t op = h.ops[h.cursor];
  const auto& o = w_.trace.ops[op];
  uint32_t s = op_stream_[op];
  auto& rec = stats_.ops[op];
  switch (o.kind) {
    case OpKind::kKernel:
    case OpKind::kPrefetch:
    case OpKind::kMemcpy:
    case OpKind::kMemset:
    case OpKind::kEventRecord:
    case OpKind::kEventWait:
      if (o.kind == OpKind::kEventRecord) events_[o.c] = {false, 0};
      streams_[s].queue.push_back(op);
      stream_try_start(s);
      host_continue(process, now_);
      return;
    case OpKind::kAdvise: {
      const DenseRange& r = w_.op_pages[op];
      if (o.c == uint64_t(trace::Advice::kSetPreferredLocation) || o.c == uint64_t(trace::Advice::kUnset))
        for (uint32_t b = r.page / kPagesPerBlock; b <= (r.page + r.count - 1) / kPagesPerBlock; ++b)
          block_pref_gpu_[b] = o.c == uint64_t(trace::Advice::kSetPreferredLocation) && o.device >= 0;
      rec.start_ns = rec.end_ns = now_;
      host_continue(process, now_);
      return;
    }
    case OpKind::kHostAccess: {
      rec.start_ns = now_;
      int64_t end = host_access(op, now_);
      rec.end_ns = end;
      host_continue(process, end);
      return;
    }
    case OpKind::kSync:
    case OpKind::kFree:
      rec.start_ns = now_;
      h.wait = o.c == 1 && o.kind == OpKind::kSync ? Host::kOneStream : Host::kAllStreams;
      h.wait_stream = s;
      host_check_wait(process);
      return;
  }
}

void Simulator::host_check_wait(uint32_t process) {
  Host& h = hosts_[process];
  if (h.wait == Host::kNone || h.done) return;
  bool ok = h.wait == Host::kAllStreams
                ? streams_idle(process)
                : (!streams_[h.wait_stream].busy && streams_[h.wait_stream].queue.empty());
  if (!ok) return;
  h.wait = Host::kNone;
  uint32_t op = h.ops[h.cursor];
  if (w_.trace.ops[op].kind == OpKind::kFree) free_allocation(uint32_t(w_.trace.ops[op].a));
  stats_.ops[op].end_ns = now_;
  host_continue(process, now_);
}

void Simulator::stream_try_start(uint32_t s) {
  Stream& st = streams_[s];
  if (st.busy || st.queue.empty()) return;
  uint32_t op = st.queue.front();
  const auto& o = w_.trace.ops[op];
  auto& rec = stats_.ops[op];
  if (o.kind == OpKind::kEventWait) {
    auto it = events_.find(o.c);
    if (it != events_.end() && !it->second.first) {
      st.blocked_on_event = int64_t(o.c);
      return;
    }
  }
  st.busy = true;
  st.blocked_on_event = -1;
  rec.start_ns = now_;
  switch (o.kind) {
    case OpKind::kKernel:
      launch_kernel(uint32_t(o.a), s);
      return;
    case OpKind::kPrefetch:
      q_.push(prefetch_op(op, now_), kPrioHost, kEvStreamDone, s);
      return;
    case OpKind::kMemcpy: {
      // Copies between the host and plain device memory cross the link; others take no modelled time.
      int64_t end = now_;
      if (o.device == 0) end = pcie_.copy(Dir::kHtoD, o.b, now_);
      if (o.device == 1) end = pcie_.copy(Dir::kDtoH, o.b, now_);
      q_.push(end, kPrioHost, kEvStreamDone, s);
      return;
    }
    case OpKind::kMemset: {
      // A memset of managed memory runs on the GPU: migrate the range there, then fill at copy-engine rate.
      int64_t end = prefetch_op(op, now_);
      end += mul_div(o.b, 1000000000u, uint64_t(cfg_.gpu.memset_bytes_per_s));
      q_.push(end, kPrioHost, kEvStreamDone, s);
      return;
    }
    default:
      q_.push(now_, kPrioHost, kEvStreamDone, s);
      return;
  }
}

void Simulator::stream_op_done(uint32_t s) {
  Stream& st = streams_[s];
  uint32_t op = st.queue.front();
  st.queue.pop_front();
  st.busy = false;
  ++progress_;
  stats_.ops[op].end_ns = now_;
  const auto& o = w_.trace.ops[op];
  if (o.kind == OpKind::kEventRecord) {
    events_[o.c] = {true, now_};
    for (uint32_t i = 0; i < streams_.size(); ++i)
      if (streams_[i].blocked_on_event == int64_t(o.c)) stream_try_start(i);
  }
  stream_try_start(s);
  host_check_wait(st.process);
}

}  // namespace uvmsim
