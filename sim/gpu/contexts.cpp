// The gpu component: processes (contexts) taking turns on the GPU without MPS (gpu.timeslice_ns;
// sim/MODEL.md, "Several processes").
#include <algorithm>

#include "sim/gpu/gpu.h"
#include "sim/host/host.h"
#include "sim/uvm/uvm.h"

namespace uvmsim {

uint32_t Gpu::process_of_kernel(uint32_t kernel) const {
  const auto& t = w_.trace;
  return t.tenants.empty() ? 0 : t.tenants[t.kernels[kernel].tenant].process;
}

bool Gpu::has_work(uint32_t process) const {
  return std::any_of(running_.begin(), running_.end(),
                     [&](const RunningKernel& r) { return r.process == process; });
}

// Decides the turn: the first process with work takes the idle GPU at once; a process with work takes it
// from an owner that has none (a hand-over, context_switch_ns) or whose turn is over (a preemption, plus
// preempt_ns). Candidates are taken round-robin after the owner. Turns are timeslice_ns long, renewed
// while nobody else waits.
void Gpu::context_check() {
  if (incoming_ >= 0) return;  // a switch is under way
  const uint32_t n = w_.processes;
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
    engine_.at(now() + cfg_.gpu.timeslice_ns, kPrioCta, id_, kEvTimeslice, 0, ++slice_gen_);
  }
}

// Switches the owner out: its resident CTAs are saved (they leave their SMs; their events wait), and
// `to` gets the GPU after the switch.
void Gpu::context_out(uint32_t to, bool preempt) {
  const uint32_t from = uint32_t(owner_);
  out_since_[from] = now();
  for (uint32_t slot = 0; slot < slots_.size(); ++slot) {
    CtaSlot& c = slots_[slot];
    if (!c.live || c.frozen || process_of_kernel(c.kernel) != from) continue;
    c.frozen = true;
    if (c.in_lane) {  // its compute stops: its event waits at the time it would have come
      const Lane& l = lanes_[c.lane];
      const double v = l.v_of(slot);
      c.frozen_left = v - l.clock(now());
      push_fixed(slot, c.pending_type, std::max(now(), l.due(v)));
      c.frozen_compute = true;
    }
    slot_resources(slot, false);
    frozen_[from].push_back(slot);
  }
  const bool saved = preempt && !frozen_[from].empty();
  owner_ = -1;
  incoming_ = int32_t(to);
  ++slice_gen_;
  slice_armed_ = turn_over_ = false;
  ++stats_.context_switches;
  engine_.at(now() + cfg_.gpu.context_switch_ns + (saved ? cfg_.gpu.preempt_ns : 0), kPrioCta, id_,
             kEvContextIn);
}

// The incoming process's turn begins: its saved CTAs return to their SMs, their events that fell due
// while it was out run as late as they fell due after its switch-out, and its new CTAs are placed.
void Gpu::context_in() {
  const uint32_t p = uint32_t(incoming_);
  owner_ = incoming_;
  incoming_ = -1;
  for (uint32_t slot : frozen_[p]) {
    CtaSlot& c = slots_[slot];
    c.frozen = false;
    slot_resources(slot, true);
    if (c.wake_on_resume) {  // a replay came while it was out
      c.wake_on_resume = false;
      push_fixed(slot, kEvCtaStep, now());
    } else if (c.pending && c.frozen_compute) {  // its compute goes on, with what was left of it
      c.frozen_compute = false;
      engine_.cancel(slot_handle(slot));
      c.pending = false;
      c.offset = lanes_[c.lane].clock(now()) + c.frozen_left - double(c.target_ns);
      c.continuous = true;
      join_lane(slot);
    } else if (c.pending) {  // its event is still queued: due later by the time out
      push_fixed(slot, c.fixed_type, c.due + now() - out_since_[p]);
    }
  }
  frozen_[p].clear();
  for (const Deferred& d : deferred_[p]) {
    slots_[d.slot].deferred = false;
    push_fixed(d.slot, d.type, now() + d.late);
  }
  deferred_[p].clear();
  context_check();
  fill_sms();
  update_dram_factor();
}

}  // namespace uvmsim
