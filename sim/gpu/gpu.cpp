#include "sim/gpu/gpu.h"

#include "sim/config/make_policy.h"
#include "sim/host/host.h"
#include "sim/uvm/uvm.h"

namespace uvmsim {

Gpu::Gpu(Engine& engine, const Workload& w, const Config& c, Stats& stats, const PageTable& pages,
         FaultBuffer& buffer, const ServingProfile* profile)
    : engine_(engine),
      id_(engine.attach(*this)),
      w_(w),
      cfg_(c),
      stats_(stats),
      pages_(pages),
      buffer_(buffer),
      tlb_(uint32_t(c.gpu.sm_count), uint32_t(c.gpu.tlb_entries)),
      limits_{uint64_t(c.gpu.max_ctas_per_sm), uint64_t(c.gpu.max_threads_per_sm),
              uint64_t(c.gpu.regs_per_sm), uint64_t(c.gpu.smem_per_sm_bytes)},
      share_(w.trace, w.kernel_dram_bytes, w.kernel_profile, c.gpu) {
  const uint32_t tenants = uint32_t(std::max<size_t>(1, w.trace.tenants.size()));
  const uint32_t sm_count = uint32_t(c.gpu.sm_count);
  sm_allocation_ = make_policy<SmAllocationKind>(c, {sm_count, tenants, clock_sm_allocation_, profile});
  allowed_sms_.assign(tenants, SmSet::none(sm_count));
  sm_limit_.resize(tenants);
  tenant_load_.assign(tenants, TenantLoad{});
  tlp_ = make_policy<TlpKind>(c, {sm_count, uint32_t(c.gpu.max_ctas_per_sm), clock_tlp_});
  tlp_limits_ = tlp_->limits();
  stats_.sm_count = uint64_t(sm_count);
  sms_.resize(sm_count);
  timeslicing_ = c.gpu.timeslice_ns > 0 && w.processes > 1;
  out_since_.assign(w.processes, 0);
  frozen_.resize(w.processes);
  deferred_.resize(w.processes);
}

Gpu::~Gpu() = default;

void Gpu::set_partitions(const std::vector<uint32_t>& sms) {
  const uint32_t count = uint32_t(sms_.size());
  uint64_t next = 0;
  partition_.assign(allowed_sms_.size(), SmSet::all(count));
  for (size_t t = 0; t < sms.size() && t < partition_.size(); ++t) {
    if (sms[t] == 0) continue;
    if (next + sms[t] > count)
      throw SimError("the tenants' SM partitions (\"sms\") add up to more than the GPU's " +
                     std::to_string(count) + " SMs");
    partition_[t] = SmSet::range(count, uint32_t(next), sms[t]);
    next += sms[t];
  }
  if (next == 0) partition_.clear();
}

void Gpu::limit_kernel_sms(uint32_t kernel, uint32_t sms) {
  if (kernel_sms_.empty()) {
    if (sms == 0) return;  // no limit was ever set: none to clear
    kernel_sms_.assign(w_.trace.kernels.size(), 0);
  }
  kernel_sms_.at(kernel) = sms;
}

void Gpu::connect(Uvm& uvm, Host& host) {
  uvm_ = &uvm;
  host_ = &host;
  // Run-ahead passes access groups early: only where no access has an effect at its own time (a TLB
  // lookup, an access notification to the eviction policy) and no process is switched out mid-group.
  run_ahead_ = cfg_.engine.run_ahead && !tlb_.enabled() && !timeslicing_ && !uvm.wants_accesses();
  ranked_ = cfg_.gpu.issue_by_age != 0;
  if (run_ahead_) engine_.after_each_event(*this);
  shortcut_ = run_ahead_ && cfg_.engine.resident_shortcut && w_.kernel_runs.size() == w_.trace.kernels.size();
  if (shortcut_) resident_.assign(w_.trace.kernels.size(), 0);
}

void Gpu::handle(const Event& e) {
  switch (GpuEvent(e.type)) {
    case kEvCtaStep:
    case kEvCtaDone:
    case kEvCtaCompute: {
      CtaSlot& c = slots_[e.a];
      c.pending = c.frozen_compute = false;
      if (c.frozen) {  // its process is out: the event waits for its next turn
        const uint32_t p = process_of_kernel(c.kernel);
        deferred_[p].push_back({e.a, e.type, now() - out_since_[p]});
        c.deferred = true;
      } else if (e.type == kEvCtaStep) {
        cta_step(e.a);
      } else if (e.type == kEvCtaDone) {
        cta_done(e.a);
      } else {  // a fixed delay is over: the CTA computes towards its target
        join_lane(e.a);
      }
      break;
    }
    case kEvLane:
      lane_due(sms_[e.a].first_lane);
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
    case kEvPolicyTimer:
      policy_timer(TimerOwner(e.a), e.b);
      break;
  }
  flush_speeds();
}

const char* Gpu::event_name(uint8_t type) const {
  static const char* const kNames[] = {"CTA step",         "CTA end",     "time slice", "context in",
                                       "gpu policy timer", "CTA compute", "lane"};
  return type < 7 ? kNames[type] : "?";
}

// A policy's timer: the policy runs, then the scheduler asks again what the policy decides.
void Gpu::policy_timer(TimerOwner owner, uint64_t tag) {
  switch (owner) {
    case kTimerSmAllocation:
      sm_allocation_->on_timer(tag);
      if (allocate_sms()) fill_sms();
      break;
    case kTimerTlp:
      tlp_->on_timer(tag);
      fill_sms();
      break;
  }
}

void Gpu::readmit() {
  if (admit_waiting()) fill_sms();
  flush_speeds();
}

void Gpu::finish() {
  for (auto& sm : sms_)
    if (sm.ctas) stats_.sm_busy_ns += now() - sm.busy_since;
}

}  // namespace uvmsim
