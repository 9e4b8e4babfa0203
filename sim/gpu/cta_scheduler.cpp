// The gpu component: kernels launched onto SMs, the CTA dispatcher (asking the sm_allocation, tlp and
// memory_allocation policies), each CTA's progress through its access groups, and SM resources.
#include <algorithm>
#include <bit>
#include <climits>
#include <cmath>
#include <queue>
#include <tuple>

#include "sim/gpu/gpu.h"
#include "sim/host/host.h"
#include "sim/uvm/uvm.h"

namespace uvmsim {

namespace {
// splitmix64's finaliser: a well-mixed 64-bit value from any input.
uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
}  // namespace

void Gpu::launch_kernel(uint32_t kernel, uint32_t stream) {
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
  if (rk.threads > limits_.threads || rk.regs > limits_.regs || rk.smem > limits_.smem)
    throw SimError("kernel " + std::to_string(kernel) + " (" + k.name +
                   ") does not fit on one SM of the configured GPU");
  ctas_launched_ += rk.count;
  ++stats_.kernels[kernel].launches;
  if (shortcut_ && rk.count > 0) enter_resident(rk);
  running_.push_back(rk);
  if (rk.count == 0) {
    stats_.kernels[kernel].start_ns = stats_.kernels[kernel].end_ns = now();
    running_.pop_back();
    host_->op_done_at(now(), stream);
    return;
  }
  TenantLoad& load = tenant_load_[rk.tenant];
  ++load.kernels_running;
  load.ctas_waiting += rk.count;
  if (sm_allocation_->wants_pages()) {
    RunningKernel& r = running_.back();
    for (const auto& [first, last] : footprint(kernel))
      r.missing_pages += (last - first + 1) - pages_.count_mapped(first, last - first + 1);
    load.missing_pages += r.missing_pages;
    load.kernel_ctas += rk.count;
    load.ctas_per_sm = hw_ctas(kernel);
  }
  if (uvm_->restricts()) {
    running_.back().admitted = false;
    try_admit(running_.back());
  }
  if (!kernel_sms_.empty() && kernel_sms_[kernel] > 0)
    sm_limit_[rk.tenant] = {kernel, kernel_sms_[kernel], SmSet{}};
  allocate_sms();
  stats_.kernels[kernel].sms = uint32_t(allowed_sms_[rk.tenant].count());
  if (timeslicing_) context_check();
  fill_sms();
  update_dram_factor();
  flush_speeds();
}

KernelView Gpu::kernel_view(const RunningKernel& rk) const { return {rk.kernel, rk.tenant, rk.count}; }

bool Gpu::allocate_sms() {
  const std::vector<SmSet> before = allowed_sms_;
  sm_allocation_->allocate(SmAllocationView{uint32_t(sms_.size()), tenant_load_}, allowed_sms_);
  if (allowed_sms_.size() != tenant_load_.size())
    throw SimError("sm_allocation policy '" + cfg_.policy("sm_allocation") +
                   "' changed the number of tenants");
  for (size_t t = 0; t < partition_.size(); ++t) {
    SmSet within = allowed_sms_[t];
    within &= partition_[t];
    // An idle tenant (may_idle) stays idle; a choice outside its partition gives it the partition.
    allowed_sms_[t] = within.count() > 0 || allowed_sms_[t].count() == 0 ? within : partition_[t];
  }
  for (size_t t = 0; t < sm_limit_.size(); ++t) {
    SmLimit& l = sm_limit_[t];
    if (l.kernel == UINT32_MAX || allowed_sms_[t].count() <= l.sms) continue;
    if (l.chosen == SmSet{}) {
      std::vector<uint32_t> order;
      for (uint32_t sm = 0; sm < sms_.size(); ++sm)
        if (allowed_sms_[t].test(sm)) order.push_back(sm);
      std::stable_sort(order.begin(), order.end(),
                       [&](uint32_t a, uint32_t b) { return sms_[a].ctas < sms_[b].ctas; });
      l.chosen = SmSet::none(uint32_t(sms_.size()));
      for (size_t i = 0; i < l.sms; ++i) l.chosen.set(order[i]);
    }
    SmSet within = allowed_sms_[t];
    within &= l.chosen;
    if (within.count() > 0) allowed_sms_[t] = within;  // the policy moved the tenant elsewhere: its choice
  }
  for (size_t t = 0; t < allowed_sms_.size(); ++t)
    if (tenant_load_[t].ctas_waiting > 0 && allowed_sms_[t].count() == 0 && !sm_allocation_->may_idle())
      throw SimError("sm_allocation policy '" + cfg_.policy("sm_allocation") + "' gave tenant " +
                     std::to_string(t) + " no SM while it has CTAs to run");
  return allowed_sms_ != before;
}

bool Gpu::try_admit(RunningKernel& rk) {
  if (!uvm_->memory_allocation().admit(kernel_view(rk))) return false;
  rk.admitted = true;
  uvm_->memory_allocation().on_kernel_start(kernel_view(rk));
  return true;
}

bool Gpu::admit_waiting() {
  bool any = false;
  for (auto& rk : running_)
    if (!rk.admitted) any |= try_admit(rk);
  return any;
}

// Places the first waiting CTA that may run on SM s: of the earliest launched kernel whose tenant may use
// the SM (sm_allocation), that the memory_allocation policy admitted, and within the tlp policy's limit.
// In-order dispatch: if that CTA does not fit the SM's resources, no later kernel's CTA overtakes it, unless
// the tlp policy granted the SM CTAs beyond its limits.
bool Gpu::try_place(uint32_t s) {
  Sm& sm = sms_[s];
  for (auto& rk : running_) {
    if (rk.next_cta == rk.count || !rk.admitted) continue;
    if (timeslicing_ && int32_t(rk.process) != owner_) continue;  // another process's turn (or a switch)
    if (!allowed_sms_[rk.tenant].test(s)) continue;
    bool over_limit = false;
    if (tlp_limits_) {
      const uint32_t limit = tlp_->cta_limit(s, rk.tenant);
      over_limit = limit == TlpPolicy::kStopped || (limit > 0 && sm.ctas >= limit);
    }
    const bool fits = sm.ctas + 1 <= limits_.ctas && sm.threads + rk.threads <= limits_.threads &&
                      sm.regs + rk.regs <= limits_.regs && sm.smem + rk.smem <= limits_.smem;
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
void Gpu::sm_all_stalled(uint32_t s) {
  uint64_t waiting = 0;
  for (const TenantLoad& l : tenant_load_) waiting += l.ctas_waiting;
  if (waiting == 0) return;
  uint32_t hw = 0;
  for (const RunningKernel& rk : running_)
    if (rk.next_cta < rk.count && rk.admitted && allowed_sms_[rk.tenant].test(s)) {
      hw = hw_ctas(rk.kernel);
      break;
    }
  const StallAnswer a = tlp_->on_sm_stalled(SmStallView{s, sms_[s].ctas, waiting, hw, now()});
  if (a.extra_ctas == 0) return;
  sms_[s].extra += a.extra_ctas;
  sms_[s].extra_switch_ns = std::max<int64_t>(0, a.switch_ns);
  while (sms_[s].extra > 0 && try_place(s)) {
  }
}

// Breadth-first over SMs, as the hardware's CTA dispatcher: CTA i goes to the i-th SM with room, counting
// from the SM after the one that took the previous dispatch's last CTA (so a kernel launched next to
// another does not pile onto the SMs the first one filled first: they share SMs, sim/gpu/sm_share.h). With
// gpu.dispatch_by_tpc, by TPC occupancy instead (fill_by_tpc): always (1), or while two running kernels may
// share an SM (2: their tenants' allowed SMs meet; kernels on disjoint green contexts do not).
void Gpu::fill_sms() {
  if (cfg_.gpu.dispatch_by_tpc == 1 || (cfg_.gpu.dispatch_by_tpc == 2 && kernels_may_share_sms())) {
    fill_by_tpc();
    return;
  }
  bool placed = true;
  const uint32_t n = uint32_t(sms_.size());
  while (placed) {
    placed = false;
    const uint32_t from = next_sm_;
    for (uint32_t i = 0; i < n; ++i) {
      const uint32_t s = from + i < n ? from + i : from + i - n;
      if (try_place(s)) {
        placed = true;
        next_sm_ = s + 1 < n ? s + 1 : 0;
      }
    }
  }
}

bool Gpu::kernels_may_share_sms() const {
  for (size_t i = 0; i < running_.size(); ++i)
    for (size_t j = i + 1; j < running_.size(); ++j)
      if (allowed_sms_[running_[i].tenant].intersects(allowed_sms_[running_[j].tenant])) return true;
  return false;
}

// Each CTA to the TPC with the fewest resident CTAs (ties: in rotation from next_tpc_), on its SM with fewer
// (ties: its first): the H100's placement of a kernel launched while another holds some SMs
// (cuda_tracer/recordings/placement_h100*.jsonl: a holder spinning on half the SMs, one CTA each; a second
// kernel's CTAs go to the other SM of each TPC until it holds two more than the busy one, and beside a
// 100-CTA holder a 100-CTA kernel takes the 32 free SMs and then one SM of each TPC). A TPC where nothing
// fits leaves the queue.
void Gpu::fill_by_tpc() {
  const uint32_t n = uint32_t(sms_.size()), tpcs = (n + 1) / 2;
  const auto load = [&](uint32_t t) { return sms_[2 * t].ctas + (2 * t + 1 < n ? sms_[2 * t + 1].ctas : 0); };
  using Entry = std::tuple<uint32_t, uint32_t, uint32_t>;  // load, rank in rotation, TPC
  std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> queue;
  const uint32_t from = next_tpc_ % tpcs;
  for (uint32_t t = 0; t < tpcs; ++t) queue.push({load(t), (t + tpcs - from) % tpcs, t});
  while (!queue.empty()) {
    const auto [l, rank, t] = queue.top();
    (void)l;
    queue.pop();
    uint32_t first = 2 * t, second = 2 * t + 1;
    if (second < n && sms_[second].ctas < sms_[first].ctas) std::swap(first, second);
    if (try_place(first) || (second < n && try_place(second))) {
      next_tpc_ = t + 1 < tpcs ? t + 1 : 0;
      queue.push({load(t), rank, t});
    }
  }
}

void Gpu::start_cta(RunningKernel& rk, uint64_t cta_index, uint32_t s, int64_t delay_ns) {
  // A kernel starts when its first CTA does, as CUPTI times it: the H100's record of a one-CTA kernel
  // queued behind another stream's grid that fills every SM starts 800 us after its launch, when a slot
  // frees (cuda_tracer/programs/kernel_start_probe.cu).
  if (cta_index == 0) stats_.kernels[rk.kernel].start_ns = now();
  const auto& here = sms_[s].lanes;
  if (std::any_of(here.begin(), here.end(), [&](uint32_t l) { return lanes_[l].kernel != rk.kernel; }))
    ++stats_.ctas_beside_other_kernels;
  uint32_t slot;
  if (free_slots_.empty()) {
    slot = uint32_t(slots_.size());
    slots_.emplace_back();
    ahead_pages_.push_back(kNotAhead);
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
  c.round = sms_[s].received++;
  c.cta = w_.trace.kernels[rk.kernel].cta_begin + cta_index;
  c.pos = c.resume = w_.cta_points[c.cta];
  c.end = w_.cta_points[c.cta + 1];
  c.cta_ns = share_.kernel(c.kernel).cta_ns;
  c.window_t =
      uint16_t(std::min<int64_t>(trace::kIntervalScale, mul_div(uint64_t(cfg_.gpu.independent_window_ns),
                                                                trace::kIntervalScale, uint64_t(c.cta_ns))));
  if (cfg_.gpu.cta_time_variance_ns > 0) {
    // Uniform in [-1, 1) times sqrt(3) * sd (that standard deviation), from the CTA's start count; sd is
    // sqrt(variance * duration), at most half the duration over sqrt(3).
    const double u =
        double(mix64(uint64_t(cfg_.seed) ^ (c.start * 0xd1b54a32d192ed03ull)) >> 11) * 0x1p-52 - 1;
    const double d = double(c.cta_ns);
    const double sd = std::min(std::sqrt(cfg_.gpu.cta_time_variance_ns * d), d / 2 / std::sqrt(3.0));
    c.cta_ns = std::max<int64_t>(1, std::llround(d + u * std::sqrt(3.0) * sd));
  }
  slot_resources(slot, true);
  --tenant_load_[rk.tenant].ctas_waiting;
  ++tenant_load_[rk.tenant].ctas_running;
  starting_.push_back({slot, delay_ns});  // scheduled by flush_speeds, at its SM's final load
}

// Schedules the CTA's next access group, or its end, after the compute that precedes it. Progress is
// counted in the kernel's reference time (a CTA's duration in its resident run); the CTA covers it at its
// lane's speed, which its SM's running CTAs set (sim/gpu/sm_share.h, sim/gpu/lane.h).
void Gpu::schedule_next_point(uint32_t slot, int64_t extra_ns) {
  CtaSlot& c = slots_[slot];
  c.pending_type = c.pos == c.end ? kEvCtaDone : kEvCtaStep;
  c.target_ns = std::max(c.progress_ns, ref_at(c, c.pos));
  if (extra_ns == 0)
    join_lane(slot);
  else  // a fixed delay first, then the compute (if any)
    push_fixed(slot, c.target_ns > c.progress_ns ? uint8_t(kEvCtaCompute) : c.pending_type, now() + extra_ns);
}

int64_t Gpu::ref_at(const CtaSlot& c, uint64_t pos) const {
  return pos == c.end ? c.cta_ns : mul_div(w_.points[pos].t, uint64_t(c.cta_ns), trace::kIntervalScale);
}

uint64_t Gpu::group_end(const CtaSlot& c, uint64_t pos) const {
  const uint32_t last = uint32_t(w_.points[pos].t) + c.window_t;
  while (pos < c.end && w_.points[pos].t <= last) ++pos;
  return pos;
}

uint64_t Gpu::pages_in(uint64_t begin, uint64_t end) const {
  uint64_t pages = 0;
  for (uint64_t i = begin; i < end; ++i) pages += w_.points[i].count;
  return pages;
}

void Gpu::accesses_done(uint64_t pages) {
  stats_.accesses_issued += pages;
  stats_.page_accesses += pages;
  engine_.progressed();
}

std::span<const std::pair<uint32_t, uint32_t>> Gpu::footprint(uint32_t kernel) const {
  if (kernel >= w_.kernel_runs.size()) return {};
  const auto [b, e] = w_.kernel_runs[kernel];
  return std::span(w_.footprint_runs).subspan(b, e - b);
}

uint32_t Gpu::hw_ctas(uint32_t kernel) const {
  return ctas_per_sm(w_.trace.kernels[kernel], uint32_t(limits_.threads), uint32_t(limits_.ctas),
                     uint32_t(limits_.regs), uint32_t(limits_.smem));
}

void Gpu::enter_resident(RunningKernel& rk) {
  const uint32_t k = rk.kernel;
  if (!resident_[k]) {
    for (const auto& [first, last] : footprint(k))
      if (!pages_.all_mapped(first, last - first + 1)) return;
    resident_[k] = 1;
    resident_list_.push_back(k);
  }
  rk.resident = true;
  ++stats_.resident_launches;
}

bool Gpu::footprint_touched(uint32_t kernel) const {
  const auto runs = footprint(kernel);
  for (const auto& [lo, hi] : unmapped_runs_) {
    // the first run of the kernel's that ends at lo or later: touched when it starts by hi
    const auto it =
        std::lower_bound(runs.begin(), runs.end(), lo,
                         [](const std::pair<uint32_t, uint32_t>& r, uint32_t v) { return r.second < v; });
    if (it != runs.end() && it->first <= hi) return true;
  }
  return false;
}

void Gpu::drop_resident() {
  for (size_t i = 0; i < resident_list_.size();) {
    const uint32_t k = resident_list_[i];
    if (!footprint_touched(k)) {
      ++i;
      continue;
    }
    for (RunningKernel& rk : running_)
      if (rk.kernel == k && rk.resident) {
        rk.resident = false;
        ++stats_.resident_launches_dropped;
      }
    leave_resident(k);  // swaps the last kernel into place i
  }
}

void Gpu::leave_resident(uint32_t kernel) {
  resident_[kernel] = 0;
  auto it = std::find(resident_list_.begin(), resident_list_.end(), kernel);
  *it = resident_list_.back();
  resident_list_.pop_back();
}

bool Gpu::start_ahead(uint32_t slot) {
  CtaSlot& c = slots_[slot];
  uint32_t lo = UINT32_MAX, hi = 0;
  uint64_t pos = c.pos, pages = 0;
  if (shortcut_ && resident_[c.kernel] && unmapped_.empty()) {
    // Every page of the kernel is mapped (none has lost its mapping since its launch, this event included):
    // the checks below would pass every group. Its pages' bounds stand for the CTA's (after_event skips the
    // CTAs of resident kernels, and checks each point of the others').
    if (pos == c.end) return false;
    const auto runs = footprint(c.kernel);
    lo = runs.front().first;
    hi = runs.back().second;
    pages = pages_in(pos, c.end);
    pos = c.end;
  }
  // One pass over the points: a group is passed when all its points are on mapped pages.
  while (pos < c.end) {
    const uint64_t end = group_end(c, pos);
    uint64_t i = pos, n = 0;
    bool mapped = true;
    for (; i < end; ++i) {
      const AccessPoint& r = w_.points[i];
      if (!pages_.all_mapped(r.page, r.count)) {
        mapped = false;
        break;
      }
      n += r.count;
      lo = std::min(lo, r.page);
      hi = std::max(hi, r.page + r.count - 1);
    }
    if (!mapped) break;
    pos = i;
    pages += n;
  }
  if (pos == c.pos) return false;
  c.ahead_end = pos;
  c.ahead_accesses = pages;
  ahead_pages_[slot] = {lo, hi};
  c.pending_type = pos == c.end ? kEvCtaDone : kEvCtaStep;
  c.target_ns = std::max(c.progress_ns, ref_at(c, pos));
  join_lane(slot);
  return true;
}

// The groups passed ahead come when the lane's clock reads their reference times + the CTA's offset.
void Gpu::settle_ahead(uint32_t slot, bool all) {
  CtaSlot& c = slots_[slot];
  ahead_pages_[slot] = kNotAhead;
  if (all) {  // every group passed: their accesses were counted when they were
    accesses_done(c.ahead_accesses);
    c.pos = c.resume = c.ahead_end;
    return;
  }
  while (c.pos < c.ahead_end) {
    const int64_t ref = std::max(c.progress_ns, ref_at(c, c.pos));
    const int64_t due = lanes_[c.lane].due(c.offset + double(ref));
    if (!engine_.has_run(due, kPrioCta, c.start)) {  // this group's event is still to come
      c.resume = c.pos;
      leave_lane(slot);
      c.pending_type = kEvCtaStep;
      c.target_ns = ref;
      join_lane(slot);
      return;
    }
    const uint64_t end = group_end(c, c.pos);
    accesses_done(pages_in(c.pos, end));
    c.pos = c.resume = end;
  }
}

// Run-ahead: a CTA passing groups whose pages lost their mapping during this event stops at the first
// that would not have run by now (it faults there, as it would have).
void Gpu::after_event() {
  if (unmapped_.empty()) return;
  // The pages as runs of consecutive pages (an evicted chunk is one run), in order.
  std::sort(unmapped_.begin(), unmapped_.end());
  unmapped_runs_.clear();
  for (uint32_t p : unmapped_)
    if (!unmapped_runs_.empty() && p <= unmapped_runs_.back().second + 1)
      unmapped_runs_.back().second = p;
    else
      unmapped_runs_.push_back({p, p});
  const auto touched = [&](uint32_t lo, uint32_t hi) {  // a page of [lo, hi] lost its mapping
    auto it =
        std::lower_bound(unmapped_runs_.begin(), unmapped_runs_.end(), lo,
                         [](const std::pair<uint32_t, uint32_t>& r, uint32_t v) { return r.second < v; });
    return it != unmapped_runs_.end() && it->first <= hi;
  };
  if (shortcut_) drop_resident();
  const uint32_t first = unmapped_.front(), last = unmapped_.back();
  for (uint32_t slot = 0; slot < ahead_pages_.size(); ++slot) {
    const auto [lo, hi] = ahead_pages_[slot];  // kNotAhead unless the CTA is ahead
    if (hi < first || lo > last || !touched(lo, hi)) continue;
    CtaSlot& c = slots_[slot];
    if (shortcut_ && resident_[c.kernel]) continue;  // none of its kernel's pages lost its mapping
    for (uint64_t i = c.pos; i < c.ahead_end; ++i)
      if (touched(w_.points[i].page, w_.points[i].page + w_.points[i].count - 1)) {
        settle_ahead(slot, false);
        break;
      }
  }
  unmapped_.clear();
  publish_lanes();
}

void Gpu::push_fixed(uint32_t slot, uint8_t type, int64_t at) {
  CtaSlot& c = slots_[slot];
  if (c.in_lane) leave_lane(slot);
  c.pending = true;
  c.continuous = false;
  c.fixed_type = type;
  c.due = at;
  engine_.at_handle(slot_handle(slot), at, kPrioCta, id_, type, slot, c.start);
}

void Gpu::join_lane(uint32_t slot) {
  CtaSlot& c = slots_[slot];
  Lane& l = lanes_[c.lane];
  if (!c.continuous) {  // it computes from now on, from where its progress stands
    c.offset = l.clock(now()) - double(c.progress_ns);
    c.continuous = true;
  }
  c.pending = c.in_lane = true;
  l.insert({c.offset + double(c.target_ns), c.start, slot});
  touch_lane(c.lane);
}

void Gpu::leave_lane(uint32_t slot) {
  CtaSlot& c = slots_[slot];
  lanes_[c.lane].remove(slot);
  touch_lane(c.lane);
  c.pending = c.in_lane = false;
}

void Gpu::touch_lane(uint32_t id) {
  Lane& l = lanes_[id];
  if (!l.touched) {
    l.touched = true;
    touched_lanes_.push_back(id);
  }
  // (a lane given back and taken on another SM within one event is touched on both)
  Sm& sm = sms_[l.sm];
  if (sm.touched) return;
  sm.touched = true;
  touched_sms_.push_back(l.sm);
}

// The engine holds one lane event per SM: the first of its lanes' first events, in the engine's order (time,
// then key; lane events share a priority). So it pops them in the order it would pop every lane's, and a
// change of speed on an SM moves one event, not one per lane.
void Gpu::publish_lanes() {
  for (uint32_t id : touched_lanes_) {
    Lane& l = lanes_[id];
    l.touched = false;
    l.find_head(now());
  }
  touched_lanes_.clear();
  for (uint32_t s : touched_sms_) {
    Sm& sm = sms_[s];
    sm.touched = false;
    uint32_t first = UINT32_MAX;
    int64_t due = 0;
    uint64_t key = 0;
    for (uint32_t id : sm.lanes) {
      const Lane& l = lanes_[id];
      if (l.empty()) continue;
      if (first == UINT32_MAX || l.head_due() < due || (l.head_due() == due && l.head().key < key)) {
        first = id;
        due = l.head_due();
        key = l.head().key;
      }
    }
    sm.first_lane = first;
    if (first == UINT32_MAX)
      engine_.cancel(sm_handle(s));
    else
      engine_.at_handle(sm_handle(s), due, kPrioCta, id_, kEvLane, s, key);
  }
  touched_sms_.clear();
}

void Gpu::lane_due(uint32_t id) {
  const uint32_t slot = lanes_[id].head().slot;
  leave_lane(slot);
  CtaSlot& c = slots_[slot];
  if (ahead(slot)) settle_ahead(slot, true);
  c.progress_ns = c.target_ns;
  if (c.pending_type == kEvCtaStep)
    cta_step(slot);
  else
    cta_done(slot);
}

uint32_t Gpu::take_lane(uint32_t s, uint32_t kernel, uint32_t slot) {
  Sm& sm = sms_[s];
  if (!ranked_)
    for (uint32_t id : sm.lanes)
      if (lanes_[id].kernel == kernel) {
        ++lanes_[id].members;
        return id;
      }
  uint32_t id;
  if (free_lanes_.empty()) {
    id = uint32_t(lanes_.size());
    lanes_.emplace_back();
  } else {
    id = free_lanes_.back();
    free_lanes_.pop_back();
  }
  Lane& l = lanes_[id];
  l.reset(kernel, now());
  l.rebase(now(), speed_on(s, kernel));
  l.members = 1;
  l.slot = ranked_ ? slot : UINT32_MAX;
  l.sm = s;
  sm.lanes.push_back(id);
  mark_dirty(s);
  return id;
}

void Gpu::give_lane(uint32_t s, uint32_t id) {
  if (--lanes_[id].members > 0) return;
  auto& lanes = sms_[s].lanes;
  lanes.erase(std::find(lanes.begin(), lanes.end(), id));
  free_lanes_.push_back(id);
}

double Gpu::speed_on(uint32_t s, uint32_t kernel) {
  Sm& sm = sms_[s];
  for (const Sm::Speed& v : sm.speeds)
    if (v.kernel == kernel && v.issue_load == sm.issue_load && v.memory_load == sm.memory_load &&
        v.pipe_load == sm.pipe_load && v.dram_factor == dram_factor_)
      return v.speed;
  Sm::Speed& v = sm.speeds[sm.speeds_next];
  sm.speeds_next ^= 1;
  v = {kernel,         sm.issue_load,
       sm.memory_load, sm.pipe_load,
       dram_factor_,   share_.speed(kernel, sm.issue_load, sm.memory_load, dram_factor_, sm.pipe_load)};
  return v.speed;
}

// Issue slots oldest first (gpu.issue_by_age): the running CTAs in the order they started (start ordinal)
// each get what the SM's slots add when their load joins the older ones' (SmShare::age_load); together, what
// the SM's whole load gets with equal shares. A CTA's speed is SmShare::speed at the load that share stands
// for. A CTA stalled on faults keeps the equal-share speed (it does not compute).
void Gpu::rank_speeds(uint32_t s) {
  const Sm& sm = sms_[s];
  if (ranked_speeds_.size() < lanes_.size()) ranked_speeds_.resize(lanes_.size());
  rank_scratch_.clear();
  for (uint32_t id : sm.lanes) {
    const uint32_t slot = lanes_[id].slot;
    if (slots_[slot].counted)
      rank_scratch_.push_back({slots_[slot].start, id});
    else
      ranked_speeds_[id] = speed_on(s, lanes_[id].kernel);
  }
  if (rank_scratch_.size() < 2) {  // alone, a CTA gets what it asks for
    for (const auto& [start, id] : rank_scratch_) ranked_speeds_[id] = speed_on(s, lanes_[id].kernel);
    return;
  }
  std::sort(rank_scratch_.begin(), rank_scratch_.end());
  const double one = double(SmShare::kLoadOne);
  if (rank_memo_.empty()) rank_memo_.resize(size_t{1} << 14);
  const uint64_t dram_bits = std::bit_cast<uint64_t>(dram_factor_);
  double older = 0;
  for (const auto& [start, id] : rank_scratch_) {
    const uint32_t kernel = lanes_[id].kernel;
    const double own = double(share_.kernel(kernel).issue) / one;
    const uint64_t older_bits = std::bit_cast<uint64_t>(older);
    RankMemo& m = rank_memo_[mix64(older_bits ^
                                   mix64(sm.memory_load ^ mix64(sm.pipe_load ^ mix64(dram_bits ^ kernel)))) &
                             (rank_memo_.size() - 1)];
    if (m.kernel != kernel || m.older_bits != older_bits || m.memory_load != sm.memory_load ||
        m.pipe_load != sm.pipe_load || m.dram_bits != dram_bits) {
      const double load = SmShare::age_load(older, own);
      m = {older_bits,
           sm.memory_load,
           sm.pipe_load,
           dram_bits,
           kernel,
           std::max(share_.speed(kernel, uint64_t(load * one), sm.memory_load, dram_factor_, sm.pipe_load),
                    1e-9)};
    }
    ranked_speeds_[id] = m.speed;
    older += own;
  }
}

void Gpu::set_counted(uint32_t slot, bool on) {
  CtaSlot& c = slots_[slot];
  if (c.counted == on) return;
  c.counted = on;
  const SmShare::Kernel& k = share_.kernel(c.kernel);
  Sm& sm = sms_[c.sm];
  if (on) {
    sm.issue_load += k.issue;
    sm.memory_load += k.memory;
    sm.memory_cost += k.memory_cost;
    sm.pipe_load += k.pipe;
  } else {
    sm.issue_load -= k.issue;
    sm.memory_load -= k.memory;
    sm.memory_cost -= k.memory_cost;
    sm.pipe_load -= k.pipe;
  }
  mark_dirty(c.sm);
}

void Gpu::mark_dirty(uint32_t s) {
  if (sms_[s].dirty) return;
  sms_[s].dirty = true;
  dirty_sms_.push_back(s);
}

void Gpu::flush_speeds() {
  for (uint32_t s : dirty_sms_) {
    Sm& sm = sms_[s];
    sm.dirty = false;
    if (ranked_) rank_speeds(s);
    for (uint32_t id : sm.lanes) {
      Lane& l = lanes_[id];
      const double speed = ranked_ ? ranked_speeds_[id] : speed_on(s, l.kernel);
      if (speed == l.speed()) continue;
      l.rebase(now(), speed);
      if (!l.empty()) touch_lane(id);
    }
  }
  dirty_sms_.clear();
  // A CTA starting without a delay passes its first groups ahead as it would after a group (run-ahead).
  for (const auto& [slot, delay] : starting_)
    if (!(run_ahead_ && delay == 0 && start_ahead(slot))) schedule_next_point(slot, delay);
  starting_.clear();
  publish_lanes();
}

void Gpu::update_dram_factor() {
  double draw = 0;
  for (const Sm& sm : sms_) draw += share_.sm_cost(sm.memory_load, sm.memory_cost);
  const double f = share_.dram_factor(draw);
  if (f == dram_factor_) return;
  dram_factor_ = f;
  for (uint32_t s = 0; s < sms_.size(); ++s)
    if (!sms_[s].lanes.empty()) mark_dirty(s);
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
void Gpu::cta_step(uint32_t slot) {
  CtaSlot& c = slots_[slot];
  const bool reissue = c.stalled;  // woken by a replay (gpu.faulting_cap_reissues_only)
  if (c.stalled) {
    --sms_[c.sm].stalled;
    if (timeline_) timeline_->stall(now(), c.sm, sms_[c.sm].stalled);
    c.stalled = false;
    set_counted(slot, true);
  }
  const uint64_t group_end = Gpu::group_end(c, c.pos);
  uint32_t utlb = c.sm / uint32_t(cfg_.gpu.sms_per_utlb);
  bool faulted = c.round_faulted, blocked = false, deferred = false;
  int64_t extra = 0;
  const bool tlb_on = tlb_.enabled();
  const bool jitter = cfg_.gpu.fault_jitter_ns > 0;
  // Where this pass starts: the paused issue cursor, or the first access not yet complete.
  const uint64_t first = c.paused ? c.cursor : c.resume;
  const uint32_t first_off = c.paused ? c.cursor_off : c.resume_off;
  uint64_t index = c.paused ? c.cursor_index : c.resume_index;         // access index within the group
  if (c.paused) c.granted = uint32_t(cfg_.gpu.fault_jitter_accesses);  // these misses have arrived
  c.paused = false;
  uint64_t issued = 0;
  // A fresh group all on mapped pages, with nothing to look up per access: every access completes.
  uint64_t i = first;
  if (!tlb_on && !c.tracking && !faulted && first_off == 0) {
    uint64_t n = 0;
    for (uint64_t j = first; j < group_end && n != UINT64_MAX; ++j)
      n = pages_.all_mapped(w_.points[j].page, w_.points[j].count) ? n + w_.points[j].count : UINT64_MAX;
    if (n != UINT64_MAX) {
      issued = n;
      i = group_end;
    }
  }
  // One access: `index` its place among the group's accesses in address order, `pos` its place in issue
  // order; at_cursor(true) keeps where the pass pauses, at_cursor(false) where the group resumes after its
  // first fault. Returns false to stop the pass.
  const auto access = [&](uint32_t p, uint8_t kind, uint32_t warp, uint64_t index, uint64_t pos,
                          auto&& at_cursor) {
    if (c.tracking && (c.done[index >> 6] >> (index & 63) & 1)) return true;
    if (pages_.mapped(p)) {
      ++issued;
      if (tlb_on && tlb_.miss(c.sm, p / kPagesPerBlock)) {
        ++stats_.tlb_misses;
        extra += cfg_.gpu.tlb_miss_ns;
      }
      if (faulted) c.done[index >> 6] |= uint64_t{1} << (index & 63);
      return true;
    }
    if (jitter && c.granted == 0) {  // these misses are on their way: pause here until they reach the uTLB
      c.paused = true;
      c.round_faulted = faulted;
      at_cursor(true);
      stats_.accesses_issued += issued;
      push_fixed(slot, kEvCtaStep, now() + fault_jitter());
      return false;
    }
    if (jitter) --c.granted;
    ++issued;
    if (!faulted) {
      faulted = true;
      if (!c.tracking) {
        // First stall in this group: every access issued before this one completed.
        c.done.assign((pages_in(c.pos, group_end) + 63) / 64, 0);
        for (uint64_t q = 0; q < pos; ++q) {
          const uint64_t done_index = c.order_pos == c.pos ? c.order[q].index : q;
          c.done[done_index >> 6] |= uint64_t{1} << (done_index & 63);
        }
        c.tracking = true;
      }
      at_cursor(false);
    }
    ++stats_.kernels[c.kernel].faults;
    raise_fault(slot, p, kind, utlb, reissue, warp, &blocked, &deferred);
    return !blocked;
  };
  const uint32_t warps =
      cfg_.gpu.warp_interleave ? uint32_t((w_.trace.kernels[c.kernel].threads_per_cta() + 31) / 32) : 1;
  if (i < group_end && warps > 1) {
    build_issue_order(c, group_end, warps);
    for (uint64_t k = index; k < c.order.size(); ++k) {
      const CtaSlot::Issue& a = c.order[k];
      if (!access(a.page, a.kind, a.warp, a.index, k, [&](bool cursor) {
            if (cursor) {
              c.cursor = c.pos, c.cursor_off = 0, c.cursor_index = k;
            } else {
              c.resume = c.pos, c.resume_off = 0, c.resume_index = k;
            }
          }))
        break;
    }
  } else {
    for (; i < group_end && !blocked; ++i) {
      const AccessPoint& r = w_.points[i];
      uint32_t off = i == first ? first_off : 0;
      bool go = true;
      for (uint32_t p = r.page + off; p < r.page + r.count && go; ++p, ++index)
        go = access(p, r.kind, 0, index, index, [&](bool cursor) {
          if (cursor) {
            c.cursor = i, c.cursor_off = p - r.page, c.cursor_index = index;
          } else {
            c.resume = i, c.resume_off = p - r.page, c.resume_index = index;
          }
        });
      if (!go) {
        if (c.paused) return;
        break;
      }
    }
  }
  if (c.paused) return;
  stats_.accesses_issued += issued;
  c.round_faulted = false;
  c.granted = 0;
  if (faulted) {
    c.stalled = true;
    c.continuous = false;
    stalled_.push_back(slot);
    // Every fault this round raised has been fetched (or flushed) and no replay is still to come: the
    // replays that served them came while the CTA was still issuing (paused by the fault jitter, or its
    // process switched out), so nothing would ever wake it. It re-issues now, as the replayed accesses
    // would. (A blocked access means entries are in the buffer, so a batch and its replay will come; a
    // deferred one, that another access's entry went in since the last replay, whose replay will come.)
    if (!blocked && !deferred && c.in_buffer == 0 && !uvm_->replay_pending()) {
      stalled_.pop_back();
      c.stalled = false;
      ++stats_.reissues;
      push_fixed(slot, kEvCtaStep, now());
      return;
    }
    set_counted(slot, false);  // its warps wait on faults: the SM's other CTAs issue in their place
    Sm& sm = sms_[c.sm];
    ++sm.stalled;
    if (timeline_) timeline_->stall(now(), c.sm, sm.stalled);
    if (sm.stalled == sm.ctas && tlp_limits_) sm_all_stalled(c.sm);
    return;
  }
  for (uint64_t i = c.pos; i < group_end; ++i) {
    const AccessPoint& r = w_.points[i];
    stats_.page_accesses += r.count;
    if (uvm_->wants_accesses()) {
      for (uint32_t b = r.page / kPagesPerBlock; b <= (r.page + r.count - 1) / kPagesPerBlock; ++b)
        uvm_->accessed(b, now());
    }
  }
  engine_.progressed();
  c.pos = c.resume = group_end;
  c.resume_off = 0;
  c.resume_index = 0;
  c.order_pos = UINT64_MAX;
  c.tracking = false;
  if (run_ahead_ && extra == 0 && start_ahead(slot)) return;
  schedule_next_point(slot, extra);
}

// gpu.warp_interleave: the group's accesses (points [c.pos, group_end), pages in address order) split into
// one contiguous share per warp (the first warps take one more where they do not divide evenly), issued a
// page of each warp in turn: warp 0's first, warp 1's first, ..., warp 0's second. Built once per group.
void Gpu::build_issue_order(CtaSlot& c, uint64_t group_end, uint32_t warps) {
  if (c.order_pos == c.pos) return;
  c.order_pos = c.pos;
  c.order.clear();
  uint64_t n = 0;
  for (uint64_t i = c.pos; i < group_end; ++i) n += w_.points[i].count;
  c.order.resize(n);
  // gpu.warp_lane_pages: as few warps as hold the pages at that many a warp; else every warp (at most n)
  const uint64_t lane_pages = uint64_t(cfg_.gpu.warp_lane_pages);
  const uint64_t at_work = lane_pages ? (n + lane_pages - 1) / lane_pages : n;
  const uint64_t w = std::min<uint64_t>(warps, at_work), share = n / w, more = n % w;  // [0, more): share + 1
  const uint64_t big = more * (share + 1);  // the accesses of those warps
  // gpu.warp_interleave 2: which warp reaches the uTLB first is not recorded; one is drawn per CTA and group
  // (seeded), and the shares before it are skipped to the end
  const bool in_turn = cfg_.gpu.warp_interleave == 1;
  uint64_t skip = 0;
  if (!in_turn) {
    const uint64_t first =
        mix64(uint64_t(cfg_.seed) * 0x9e3779b97f4a7c15ull ^ c.start * 0xbf58476d1ce4e5b9ull ^ c.pos) % w;
    skip = first <= more ? first * (share + 1) : big + (first - more) * share;
  }
  uint64_t index = 0;
  for (uint64_t i = c.pos; i < group_end; ++i) {
    const AccessPoint& r = w_.points[i];
    for (uint32_t p = r.page; p < r.page + r.count; ++p, ++index) {
      // index -> its warp and its place in the issue order
      const uint64_t warp = index < big ? index / (share + 1) : more + (index - big) / share;
      uint64_t at;
      if (in_turn) {
        // index -> (warp, lane); turns before lane `lane`: lane * w places (every warp has a page at lanes
        // below share), and at lane == share only the first `more` warps have one
        const uint64_t lane = index < big ? index % (share + 1) : (index - big) % share;
        at = lane < share ? lane * w + warp : share * w + warp;
      } else {
        // warps one after another from warp `first`, each its share in address order: the address order
        // rotated to start at that warp's share
        at = index >= skip ? index - skip : index + n - skip;
      }
      c.order[at] = {p, uint32_t(index), r.kind, uint8_t(warp)};
    }
  }
}

void Gpu::cta_done(uint32_t slot) {
  CtaSlot& c = slots_[slot];
  auto it = std::find_if(running_.begin(), running_.end(),
                         [&](const RunningKernel& r) { return r.kernel == c.kernel; });
  slot_resources(slot, false);
  c.live = false;
  free_slots_.push_back(slot);
  ++ctas_done_;
  engine_.progressed();
  uint32_t s = c.sm;
  --tenant_load_[it->tenant].ctas_running;
  const bool kernel_ended = ++it->done == it->count;
  if (kernel_ended) {
    KernelRecord& kr = stats_.kernels[it->kernel];
    kr.end_ns = now();
    if (timeline_) timeline_->kernel(it->kernel, it->tenant, kr.start_ns, kr.end_ns);
    kr.launched_ns += kr.end_ns - kr.start_ns;
    uint32_t stream = it->stream;
    TenantLoad& load = tenant_load_[it->tenant];
    --load.kernels_running;
    if (sm_allocation_->wants_pages()) {
      load.missing_pages -= it->missing_pages;
      load.kernel_ctas -= it->count;
    }
    if (uvm_->restricts()) uvm_->memory_allocation().on_kernel_end(kernel_view(*it));
    const uint32_t kernel = it->kernel;
    if (sm_limit_[it->tenant].kernel == kernel) sm_limit_[it->tenant] = {};
    running_.erase(it);
    if (shortcut_ && resident_[kernel] &&
        std::none_of(running_.begin(), running_.end(),
                     [&](const RunningKernel& r) { return r.kernel == kernel; }))
      leave_resident(kernel);  // the list holds running kernels only
    const bool admitted = uvm_->restricts() && admit_waiting();
    const bool moved = allocate_sms();
    host_->op_done(stream);
    if (timeslicing_) context_check();
    if (admitted || moved) fill_sms();
  }
  while (try_place(s)) {
  }
  if (kernel_ended) update_dram_factor();
}

void Gpu::slot_resources(uint32_t slot, bool add) {
  const CtaSlot& c = slots_[slot];
  const auto& k = w_.trace.kernels[c.kernel];
  const uint32_t threads = uint32_t(k.threads_per_cta());
  Sm& sm = sms_[c.sm];
  if (add) {
    slots_[slot].lane = take_lane(c.sm, c.kernel, slot);
    if (!c.stalled) set_counted(slot, true);
    if (sm.ctas == 0) sm.busy_since = now();
    sm.stalled += c.stalled;
    sm.ctas += 1;
    sm.threads += threads;
    sm.regs += k.regs_per_thread * threads;
    sm.smem += k.smem_bytes;
  } else {
    set_counted(slot, false);
    give_lane(c.sm, c.lane);
    sm.stalled -= c.stalled;
    sm.ctas -= 1;
    sm.threads -= threads;
    sm.regs -= k.regs_per_thread * threads;
    sm.smem -= k.smem_bytes;
    if (sm.ctas == 0) stats_.sm_busy_ns += now() - sm.busy_since;
  }
}

// gpu.write_fault_per_line: a write's warp access misses once per 128-byte line it touches in the page (the
// uTLB does not merge them), so it writes the kernel's write_lines entries for the page.
void Gpu::raise_fault(uint32_t slot, uint32_t page, uint8_t kind, uint32_t utlb, bool reissue, uint32_t warp,
                      bool* blocked, bool* deferred) {
  const uint32_t kernel = slots_[slot].kernel;
  const trace::Kernel& k = w_.trace.kernels[kernel];
  const uint32_t entries =
      kind != 0 && cfg_.gpu.write_fault_per_line ? std::max<uint32_t>(1, k.write_lines) : 1;
  for (uint32_t e = 0; e < entries; ++e) {
    const int64_t arrival =
        buffer_.raise(now(), page, kind, utlb, slot, slots_[slot].start, k.tenant, kernel, reissue, warp);
    if (arrival == FaultBuffer::kOtherAccess) {  // waits for the replay; the CTA's later accesses go on
      ++stats_.faults_not_entered;
      *deferred = true;
      return;
    }
    if (arrival < 0) {
      ++stats_.faults_not_entered;
      *blocked = true;
      return;
    }
    ++slots_[slot].in_buffer;
    ++stats_.faults_raised;
    uvm_->fault_entered(arrival);
  }
}

// Uniform in [0, gpu.fault_jitter_ns): splitmix64 over (seed, draw count), so a run is reproducible.
int64_t Gpu::fault_jitter() {
  return int64_t(mix64(cfg_.seed * 0x9e3779b97f4a7c15ull + ++jitter_draws_ * 0xbf58476d1ce4e5b9ull) %
                 uint64_t(cfg_.gpu.fault_jitter_ns));
}

void Gpu::entry_left(const FaultEntry& e) {
  CtaSlot& c = slots_[e.slot];
  if (c.live && c.start == e.cta_start) --c.in_buffer;
}

// The driver replayed: each CTA stalled on faults issues again (one switched out does on its next turn).
void Gpu::replay() {
  ++stats_.replays;
  buffer_.replayed(now());
  std::vector<uint32_t> wake;
  wake.swap(stalled_);
  if (cfg_.gpu.replay_wake_shuffle == 2 || cfg_.gpu.replay_wake_shuffle == 3) {
    // 2: the two SMs of a TPC received consecutive CTAs together and run them alike: one seeded draw per
    // (TPC, dispatch round: how many CTAs the SM had received before), stall order among equal draws.
    // 3: each SM re-issues its stalled CTAs oldest first (its own stall order); across SMs, one seeded draw
    // per TPC and replay orders the SMs: every SM's oldest before any SM's second.
    const bool by_round = cfg_.gpu.replay_wake_shuffle == 2;
    std::vector<std::pair<std::pair<uint64_t, uint64_t>, uint32_t>> keyed;  // ((rank, draw), slot)
    keyed.reserve(wake.size());
    std::vector<uint64_t> rank(sms_.size(), 0);
    const uint64_t r = ++replay_draws_;
    for (uint32_t slot : wake) {
      const CtaSlot& c = slots_[slot];
      const uint64_t draw = mix64(uint64_t(cfg_.seed) * 0x94d049bb133111ebull + r * 0x9e3779b97f4a7c15ull +
                                  (c.sm / 2) * 0xbf58476d1ce4e5b9ull + (by_round ? c.round : 0));
      keyed.push_back({{by_round ? 0 : rank[c.sm]++, draw}, slot});
    }
    std::stable_sort(keyed.begin(), keyed.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    for (size_t i = 0; i < wake.size(); ++i) wake[i] = keyed[i].second;
  } else if (cfg_.gpu.replay_wake_shuffle) {
    // Which stalled CTA re-issues first is not recorded: a seeded shuffle (Fisher-Yates over splitmix64)
    for (size_t i = wake.size(); i > 1; --i) {
      const uint64_t r = mix64(uint64_t(cfg_.seed) * 0x94d049bb133111ebull + ++replay_draws_);
      std::swap(wake[i - 1], wake[r % i]);
    }
  }
  for (uint32_t slot : wake) {
    CtaSlot& c = slots_[slot];
    if (!c.live || !c.stalled) continue;
    if (c.frozen) {
      c.wake_on_resume = true;  // its process is switched out: it re-issues on its next turn
    } else {
      cta_step(slot);
    }
  }
  flush_speeds();
}

}  // namespace uvmsim
