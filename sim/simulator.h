// One simulation: a prepared workload replayed under one configuration, and the composition root of its
// components: engine (sim/engine/), gpu (SMs, CTA scheduler, contexts: sim/gpu/), gmmu (page state, fault
// buffer, TLB: sim/gmmu/), uvm (fault service, residency, GPU memory: sim/uvm/), interconnect (PCIe:
// sim/interconnect/), host (processes, streams, ops: sim/host/) and stats (sim/stats/). sim/MODEL.md lists
// where the model simplifies the real driver and hardware.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "policies/eviction/eviction_policy.h"
#include "policies/memory_allocation/memory_allocation_policy.h"
#include "policies/prefetch/prefetch_policy.h"
#include "policies/replay/replay_policy.h"
#include "policies/sm_allocation/sm_allocation_policy.h"
#include "policies/thrashing/thrashing_policy.h"
#include "policies/tlp/tlp_policy.h"
#include "sim/config/config.h"
#include "sim/engine/engine.h"
#include "sim/gmmu/fault_buffer.h"
#include "sim/gmmu/page_table.h"
#include "sim/host/host.h"
#include "sim/interconnect/pcie.h"
#include "sim/engine/progress.h"
#include "sim/stats/stats.h"
#include "sim/stats/tenants.h"
#include "sim/workload/workload.h"

namespace uvmsim {

class SimError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Simulator final : private HostServices, private FaultBuffer::Client {
 public:
  Simulator(const Workload& w, const Config& c);
  ~Simulator();
  void set_batch_log(std::ostream* os) { batch_log_ = os; }
  // Shows the run's progress (simulated time, CTAs, events) while it runs; nullptr: none.
  void set_progress(ProgressReporter* p) { progress_reporter_ = p; }
  // Runs to completion; throws SimError if the workload cannot finish (e.g. memory smaller than a block).
  void run();
  const Stats& stats() const { return stats_; }
  // Walks the page table independently of the counters; returns every inconsistency found (none: empty).
  std::vector<std::string> audit() const;

 private:
  // The audit's test (tests/unit/sim/sim_test.cpp) plants an inconsistency the audit must catch.
  friend struct AuditProbe;
  // The events each component owns (Engine: owner id, type).
  enum GpuEvent : uint8_t { kEvCtaStep, kEvCtaDone, kEvTimeslice, kEvContextIn };
  enum UvmEvent : uint8_t { kEvInterrupt, kEvBatch, kEvReplay, kEvFlush };
  enum TimerEvent : uint8_t { kEvPolicyTimer };
  // Until each component is a class of its own, these hand the engine's events to the simulator's
  // handlers for that component.
  class Owner final : public Component {
   public:
    using Handler = void (Simulator::*)(const Event&);
    Owner(Simulator& s, Handler h, std::vector<const char*> names) : s_(s), h_(h), names_(std::move(names)) {}
    void handle(const Event& e) override { (s_.*h_)(e); }
    const char* event_name(uint8_t type) const override { return type < names_.size() ? names_[type] : "?"; }

   private:
    Simulator& s_;
    Handler h_;
    std::vector<const char*> names_;
  };

  struct Sm {
    uint32_t threads = 0, regs = 0, smem = 0, ctas = 0;
    uint32_t stalled = 0;  // resident CTAs stalled on faults
    uint32_t extra = 0;    // CTAs the tlp policy lets the SM take beyond its limits (granted, not yet placed)
    int64_t extra_switch_ns = 0;
    int64_t busy_since = 0;
  };
  struct CtaSlot {
    uint32_t kernel = 0, sm = 0;
    uint64_t cta = 0;
    uint64_t pos = 0, end = 0;  // current point and end of the CTA's points
    uint64_t resume = 0;          // first point of the current group with an access not yet complete
    uint32_t resume_off = 0;      // page offset in that point's range
    uint64_t resume_index = 0;    // index of that access among the group's accesses
    std::vector<uint64_t> done;   // while stalled: one bit per access of the group, set once complete
    bool tracking = false;        // `done` is in use for the current group
    int64_t progress_ns = 0;    // compute done so far
    bool stalled = false;
    // gpu.fault_jitter_ns: the CTA is paused at its issue cursor while the next misses are on their way;
    // granted: how many faulting accesses it may raise before it pauses again (gpu.fault_jitter_accesses
    // once a delay is over); round_faulted: this issue round has raised a fault already.
    bool paused = false, round_faulted = false;
    uint32_t granted = 0;
    uint64_t cursor = 0, cursor_index = 0;
    uint32_t cursor_off = 0;
    bool live = false;
    // Time-slicing: the CTA's process is switched out; its event fell due meanwhile and waits in
    // deferred_; a replay came meanwhile; how much later than queued its pending event is due (the time
    // its process was out).
    bool frozen = false, deferred = false, wake_on_resume = false;
    int64_t delay_ns = 0;
    // Fault entries this CTA raised that are still in the buffer (neither fetched nor flushed), and the
    // CTA's start ordinal that the entries carry (a slot is reused by later CTAs).
    uint32_t in_buffer = 0;
    uint64_t start = 0;
  };
  struct RunningKernel {
    uint32_t kernel = 0;
    uint32_t stream = 0;
    uint32_t process = 0;
    uint32_t tenant = 0;
    bool admitted = true;  // by the memory_allocation policy
    uint64_t next_cta = 0, done = 0, count = 0;
    uint32_t threads = 0, regs = 0, smem = 0;
  };
  // The policies' view of the engine: the time and a timer per policy kind (kEvPolicyTimer, a = kind).
  enum TimerOwner : uint8_t { kTimerSmAllocation, kTimerTlp, kTimerMemoryAllocation, kTimerOwners };
  class Clock final : public PolicyClock {
   public:
    Clock(Simulator& s, TimerOwner owner) : s_(s), owner_(owner) {}
    int64_t now() const override { return s_.now(); }
    void set_timer(int64_t at_ns, uint64_t tag) override;

   private:
    Simulator& s_;
    TimerOwner owner_;
  };

  // The engine's events, by owner.
  void gpu_event(const Event& e);
  void uvm_event(const Event& e);
  void timer_event(const Event& e);
  int64_t now() const { return engine_.now(); }
  void policy_timer(TimerOwner owner, uint64_t tag);
  // engine.max_events_without_progress: the error for a run that has stopped making progress, with the
  // event most frequent since the last progress.
  [[noreturn]] void stuck(uint8_t owner, uint8_t type, const std::string& counts) const;
  // SMs and CTAs.
  void launch_kernel(uint32_t kernel, uint32_t stream) override;
  // Asks the sm_allocation policy for every tenant's SMs; true when they changed.
  bool allocate_sms();
  // Asks the memory_allocation policy again about kernels it has not admitted; true when one was.
  bool admit_waiting();
  KernelView kernel_view(const RunningKernel& rk) const;
  void sm_all_stalled(uint32_t sm);
  void fill_sms();
  bool try_place(uint32_t sm);
  void start_cta(RunningKernel& rk, uint64_t cta, uint32_t sm, int64_t delay_ns = 0);
  void cta_step(uint32_t slot);
  void cta_done(uint32_t slot);
  void schedule_next_point(uint32_t slot, int64_t extra_ns);
  void raise_fault(uint32_t slot, uint32_t page, uint8_t kind, uint32_t utlb, bool* blocked);
  void entry_left(const FaultEntry& e) override;
  void push_replay(int64_t t);
  int64_t fault_jitter();
  // Driver.
  void start_service();
  void service_batch();
  void end_service(int64_t t);
  void replay();
  // Residency, shared by the fault path, explicit prefetch, CPU faults and eviction.
  bool ensure_chunk(uint32_t block, int64_t& cpu, uint32_t pinned_block);
  int64_t make_resident_gpu(uint32_t block, const BlockMask& pages, const BlockMask& faulted, bool user,
                            int64_t& cpu);
  int64_t move_to_cpu(uint32_t block, const BlockMask& pages, const BlockMask& faulted, uint8_t cause,
                      int64_t t);
  // Evicts one chunk the eviction policy picks among those the memory_allocation policy lets it take (not
  // pinned_block's), counting it as evicted by `by_tenant`. None to take: an error if the eviction is
  // needed, else false.
  bool evict_one(int64_t& cpu, uint32_t pinned_block, uint32_t by_tenant, bool needed);
  void release_chunk_if_empty(uint32_t block);
  // The host's requests (HostServices), served by the uvm driver's CPU side (sim/uvm/host_side.cpp).
  int64_t cpu_access(uint32_t op, int64_t t) override;
  int64_t migrate(uint32_t op, int64_t t) override;
  void advise(uint32_t op) override;
  void free_allocation(uint32_t alloc) override;
  // Processes (contexts) taking turns on the GPU (gpu.timeslice_ns; sim/MODEL.md, "Several processes").
  bool has_work(uint32_t process) const;
  void context_check();
  void context_out(uint32_t to, bool preempt);
  void context_in();
  void slot_resources(uint32_t slot, bool add);
  uint32_t process_of_kernel(uint32_t kernel) const;
  int64_t cpu_fault(uint32_t page, int64_t t);

  const Workload& w_;
  Config cfg_;
  Engine engine_;
  Owner gpu_{*this, &Simulator::gpu_event, {"CTA step", "CTA end", "time slice", "context in"}};
  Owner uvm_{*this, &Simulator::uvm_event, {"interrupt", "batch", "replay", "flush"}};
  Owner timers_{*this, &Simulator::timer_event, {"policy timer"}};
  const uint8_t gpu_id_ = engine_.attach(gpu_), uvm_id_ = engine_.attach(uvm_), timers_id_ = engine_.attach(timers_);
  Stats stats_;
  TenantLedger tenants_;
  std::ostream* batch_log_ = nullptr;
  ProgressReporter* progress_reporter_ = nullptr;

  std::unique_ptr<PrefetchPolicy> prefetch_;
  std::unique_ptr<EvictionPolicy> eviction_;
  bool eviction_wants_accesses_ = false;  // asked once: the CTA's hot loop does not call through
  std::unique_ptr<ReplayPolicy> replay_;
  std::unique_ptr<ThrashingPolicy> thrashing_;
  Clock clock_sm_allocation_{*this, kTimerSmAllocation}, clock_tlp_{*this, kTimerTlp},
      clock_memory_allocation_{*this, kTimerMemoryAllocation};
  std::unique_ptr<SmAllocationPolicy> sm_allocation_;
  std::vector<SmSet> allowed_sms_;     // per tenant: the SMs its CTAs may be placed on
  std::vector<TenantLoad> tenant_load_;  // per tenant: what the sm_allocation policy sees
  std::unique_ptr<TlpPolicy> tlp_;
  bool tlp_limits_ = false;  // asked once: the default's answers are constant
  std::unique_ptr<MemoryAllocationPolicy> memory_allocation_;
  bool memory_restricts_ = false;  // likewise
  PcieLink pcie_;
  Host host_{engine_, w_, stats_, pcie_, *this, cfg_.gpu.memset_bytes_per_s};

  // The gmmu's page table.
  PageTable pages_;
  // GPU memory: per block its root chunk (kNoChunk: none).
  std::vector<uint32_t> block_chunk_;
  std::vector<uint8_t> block_pref_gpu_;
  std::vector<uint8_t> block_touched_;  // some page of the block has been resident somewhere
  std::vector<uint32_t> chunk_block_;
  std::vector<uint32_t> free_chunks_;
  uint32_t capacity_chunks_ = 0;
  std::vector<uint32_t> tlb_;  // per SM, direct-mapped tags of 2 MiB blocks (+1; 0 = empty)

  // SMs and CTAs.
  std::vector<Sm> sms_;
  std::vector<CtaSlot> slots_;
  std::vector<uint32_t> free_slots_;
  std::vector<RunningKernel> running_;
  std::vector<uint32_t> stalled_;
  uint64_t ctas_done_ = 0, ctas_launched_ = 0, ctas_started_ = 0;

  // Fault buffer and uTLBs.
  FaultBuffer buffer_;
  uint64_t jitter_draws_ = 0;   // counter of the fault jitter's random stream
  int64_t zero_fill_free_ = 0;  // when the zero-fill engine finishes its last memset
  CopyGroups htod_copies_;      // data phases of the HtoD migration copies (stats htod_copies, _groups)

  // Driver state.
  bool in_service_ = false;
  bool interrupt_pending_ = false;
  uint32_t replays_pending_ = 0;  // replay events queued and not yet run
  uint32_t service_batches_ = 0, service_throttled_ = 0;
  std::vector<FaultEntry> batch_;


  // Time-slicing between processes: one process's CTAs run at a time (gpu.timeslice_ns > 0 and more than
  // one process). owner_: the process on the GPU, -1 before the first and during a switch (to incoming_).
  struct Deferred {
    uint32_t slot;
    uint8_t type;
    int64_t late;  // how long after the switch-out the event fell due
  };
  bool timeslicing_ = false;
  int32_t owner_ = -1, incoming_ = -1;
  uint64_t slice_gen_ = 0;    // the current turn's number: a timeslice event of an earlier turn is stale
  bool slice_armed_ = false;  // a timeslice event of the current turn is pending
  bool turn_over_ = false;    // the owner's turn has run out: it yields to the next process with work
  std::vector<int64_t> out_since_;               // per process: when it was switched out
  std::vector<std::vector<uint32_t>> frozen_;    // per process: its CTAs, saved while it is out
  std::vector<std::vector<Deferred>> deferred_;  // per process: its CTAs' events that fell due meanwhile
};

}  // namespace uvmsim
