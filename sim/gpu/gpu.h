// The gpu component: SMs and their resources, the CTA dispatcher (asking the sm_allocation and tlp
// policies, and the uvm's memory_allocation policy for admission), each CTA's progress through its access
// groups (accesses that find no valid mapping raise faults into the gmmu's fault buffer and stall the CTA
// until a replay), and processes (contexts) taking turns without MPS (gpu.timeslice_ns).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "policies/memory_allocation/memory_allocation_policy.h"
#include "policies/sm_allocation/sm_allocation_policy.h"
#include "policies/tlp/tlp_policy.h"
#include "sim/config/config.h"
#include "sim/engine/engine.h"
#include "sim/gmmu/fault_buffer.h"
#include "sim/gmmu/page_table.h"
#include "sim/gmmu/tlb.h"
#include "sim/gpu/lane.h"
#include "sim/gpu/sm_share.h"
#include "sim/stats/stats.h"
#include "sim/stats/timeline.h"
#include "sim/workload/workload.h"

namespace uvmsim {

class Host;
class Uvm;

class Gpu final : public Component, public FaultBuffer::Client {
 public:
  // `profile`: the tenants' serving profile, for an sm_allocation policy that reads it (null: none).
  Gpu(Engine& engine, const Workload& w, const Config& c, Stats& stats, const PageTable& pages,
      FaultBuffer& buffer, const ServingProfile* profile = nullptr);
  ~Gpu() override;
  void connect(Uvm& uvm, Host& host);
  // Green-context partitions: tenant t's CTAs run only on SMs of its own (sms[t] of them; 0: the whole GPU,
  // shared), laid out on disjoint contiguous SMs in tenant order. The sm_allocation policy chooses within a
  // partition; where its choice leaves a tenant none of its partition, the whole partition. Throws
  // SimError when they add up to more than the GPU.
  void set_partitions(const std::vector<uint32_t>& sms);
  // Where kernels' runs and SMs' stalled CTAs are recorded (null: nowhere).
  void set_timeline(Timeline* t) { timeline_ = t; }
  // A per-layer SM decision (a batching policy's BatchDecision::layer_sms, through the server): the kernel's
  // next launches run on at most `sms` of the SMs its tenant is allowed (0: all of them), those of them with
  // the fewest resident CTAs at its launch (ties: the lowest index), kept until it ends. One kernel of a
  // tenant at a time holds such a limit (a serving tenant's kernels run in order on its stream).
  void limit_kernel_sms(uint32_t kernel, uint32_t sms);
  // Where the page table logs the pages that lose their GPU mapping; null without run-ahead.
  std::vector<uint32_t>* unmap_log() { return run_ahead_ ? &unmapped_ : nullptr; }
  void after_event() override;
  // The host launches a kernel on a stream; the stream's op completes when its last CTA does.
  void launch_kernel(uint32_t kernel, uint32_t stream);
  // The driver replayed: every CTA stalled on faults issues its outstanding accesses again.
  void replay();
  // The memory_allocation policy's timer came due: kernels it held back may be admitted now.
  void readmit();
  // The driver serviced a fault of this tenant with an eviction (for the tlp policy).
  void eviction_fault(uint32_t tenant) {
    if (tlp_limits_) tlp_->on_eviction_fault(tenant);
  }
  void entry_left(const FaultEntry& e) override;
  void handle(const Event& e) override;
  uint8_t id() const { return id_; }
  const char* event_name(uint8_t type) const override;
  bool is_timeslice_event(uint8_t type) const { return type == kEvTimeslice || type == kEvContextIn; }
  bool is_step_event(uint8_t type) const { return type == kEvCtaStep || type == kEvLane; }
  // At the end of the run: time SMs were busy.
  void finish();
  uint64_t ctas_done() const { return ctas_done_; }
  uint64_t ctas_launched() const { return ctas_launched_; }
  size_t stalled() const { return stalled_.size(); }

 private:
  // kEvCtaStep, kEvCtaDone, kEvCtaCompute: a CTA's fixed-time events (a = its slot); kEvLane: the first
  // event of an SM's lanes (a = the SM; Sm::first_lane), whose CTA then steps or ends.
  enum GpuEvent : uint8_t {
    kEvCtaStep,
    kEvCtaDone,
    kEvTimeslice,
    kEvContextIn,
    kEvPolicyTimer,
    kEvCtaCompute,
    kEvLane
  };
  enum TimerOwner : uint8_t { kTimerSmAllocation, kTimerTlp };
  // A policy's view of the engine: the time and a timer (kEvPolicyTimer, a = the policy's kind).
  class Clock final : public PolicyClock {
   public:
    Clock(Gpu& g, TimerOwner owner) : g_(g), owner_(owner) {}
    int64_t now() const override { return g_.engine_.now(); }
    void set_timer(int64_t at_ns, uint64_t tag) override {
      g_.engine_.at(std::max(at_ns, g_.engine_.now()), kPrioDriver, g_.id_, kEvPolicyTimer, owner_, tag);
    }

   private:
    Gpu& g_;
    TimerOwner owner_;
  };
  struct Sm {
    uint32_t threads = 0, regs = 0, smem = 0, ctas = 0;
    uint32_t stalled = 0;  // resident CTAs stalled on faults
    uint64_t received = 0;  // CTAs dispatched to it so far
    uint32_t extra = 0;    // CTAs the tlp policy lets the SM take beyond its limits (granted, not yet placed)
    int64_t extra_switch_ns = 0;
    int64_t busy_since = 0;
    // SM sharing: the loads of its running CTAs (resident, not stalled on faults), its lanes (one per kernel
    // with CTAs resident, sim/gpu/lane.h), and whether their speeds are to be recomputed.
    uint64_t issue_load = 0, memory_load = 0, memory_cost = 0, pipe_load = 0;
    std::vector<uint32_t> lanes;
    bool dirty = false;
    // The last two speeds computed on this SM, by kernel and the loads they were computed at (a pure
    // function's results: most SMs run one or two kernels).
    struct Speed {
      uint32_t kernel = UINT32_MAX;
      uint64_t issue_load = 0, memory_load = 0, pipe_load = 0;
      double dram_factor = 0, speed = 0;
    } speeds[2];
    uint8_t speeds_next = 0;
    // Its lane event (publish_lanes): the lane whose first event it is, and whether a lane of it changed.
    uint32_t first_lane = UINT32_MAX;
    bool touched = false;
  };
  struct CtaSlot {
    uint32_t kernel = 0, sm = 0;
    uint32_t lane = 0;  // its kernel's lane on its SM, while resident
    uint64_t cta = 0;
    uint64_t round = 0;          // its SM's count of CTAs received before it (gpu.replay_wake_shuffle 2)
    uint64_t pos = 0, end = 0;   // current point and end of the CTA's points
    uint64_t resume = 0;         // first point of the current group with an access not yet complete
    uint32_t resume_off = 0;     // page offset in that point's range
    uint64_t resume_index = 0;   // index of that access among the group's accesses
    std::vector<uint64_t> done;  // while stalled: one bit per access of the group, set once complete
    // gpu.warp_interleave: the current group's accesses in issue order (built when the group first issues
    // past the all-mapped case; order_pos: the group it is for). Then cursor_index and resume_index count
    // positions in this order, not accesses in address order.
    struct Issue {
      uint32_t page, index;
      uint8_t kind;
      uint8_t warp;  // the warp whose share holds it
    };
    std::vector<Issue> order;
    uint64_t order_pos = UINT64_MAX;
    bool tracking = false;       // `done` is in use for the current group
    // Compute, in the kernel's reference time: done so far (when its last computing event came), and where
    // its pending compute ends (the access group it is headed for, or its end).
    int64_t progress_ns = 0, target_ns = 0;
    int64_t cta_ns = 0;  // its duration in reference time: its kernel's, spread (gpu.cta_time_variance_ns)
    uint16_t window_t = 0;  // gpu.independent_window_ns in its points' time unit (its kernel's resident run)
    // While computing in its lane: the lane's clock reads reference time + offset. continuous: the CTA has
    // computed without a break since the offset was set (so its next compute goes on from it).
    double offset = 0;
    bool continuous = false;
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
    // deferred_; a replay came meanwhile. frozen_compute: it was computing when switched out, and has
    // frozen_left reference time of that compute left.
    bool frozen = false, deferred = false, wake_on_resume = false, frozen_compute = false;
    double frozen_left = 0;
    // Its pending event, at most one: an entry in its lane (in_lane: computing towards target_ns, then
    // pending_type), or a fixed-time event of the engine (fixed_type at due: a delay before computing,
    // kEvCtaCompute, or a timer). counted: its loads are on its SM's sums.
    bool pending = false, in_lane = false, counted = false;
    uint8_t pending_type = 0, fixed_type = 0;
    int64_t due = 0;
    // Fault entries this CTA raised that are still in the buffer (neither fetched nor flushed), and the
    // CTA's start ordinal that the entries carry (a slot is reused by later CTAs).
    uint32_t in_buffer = 0;
    uint64_t start = 0;
    // Run-ahead (engine.run_ahead): the access groups [pos, ahead_end) were on mapped pages when the CTA
    // finished the group before them; it passes them without an event each while none of their pages loses
    // its mapping (sim/MODEL.md). Each comes when the lane's clock reads its reference time + offset; their
    // pages lie in ahead_pages_[slot] (kNotAhead when it passes none). The pending event is the one after
    // them.
    uint64_t ahead_end = 0;
    uint64_t ahead_accesses = 0;  // page accesses of those groups
  };
  struct RunningKernel {
    uint32_t kernel = 0;
    uint32_t stream = 0;
    uint32_t process = 0;
    uint32_t tenant = 0;
    bool admitted = true;  // by the memory_allocation policy
    bool resident = false;  // launched on the resident-kernel shortcut, and not taken off it since
    uint64_t missing_pages = 0;  // its pages without a GPU mapping at launch (sm_allocation wants_pages)
    uint64_t next_cta = 0, done = 0, count = 0;
    uint32_t threads = 0, regs = 0, smem = 0;
  };
  struct Deferred {
    uint32_t slot;
    uint8_t type;
    int64_t late;  // how long after the switch-out the event fell due
  };

  int64_t now() const { return engine_.now(); }
  void policy_timer(TimerOwner owner, uint64_t tag);
  // Asks the sm_allocation policy for every tenant's SMs; true when they changed.
  bool allocate_sms();
  // Asks the memory_allocation policy to admit the kernel (and tells it the kernel starts); true if it did.
  bool try_admit(RunningKernel& rk);
  // Asks the memory_allocation policy again about kernels it has not admitted; true when one was.
  bool admit_waiting();
  KernelView kernel_view(const RunningKernel& rk) const;
  void sm_all_stalled(uint32_t sm);
  void fill_sms();
  // gpu.dispatch_by_tpc: CTAs to the least occupied TPCs, until none fits.
  void fill_by_tpc();
  // Whether two running kernels' tenants may place CTAs on a common SM (gpu.dispatch_by_tpc 2).
  bool kernels_may_share_sms() const;
  bool try_place(uint32_t sm);
  void start_cta(RunningKernel& rk, uint64_t cta, uint32_t sm, int64_t delay_ns = 0);
  void cta_step(uint32_t slot);
  void cta_done(uint32_t slot);
  // Schedules the CTA's next access group, or its end: it computes towards it in its lane, after a fixed
  // delay of extra_ns if any.
  void schedule_next_point(uint32_t slot, int64_t extra_ns);
  // The end of the CTA's access group that starts at `pos`: the points within its window of the first.
  uint64_t group_end(const CtaSlot& c, uint64_t pos) const;
  // Page accesses of points [begin, end).
  uint64_t pages_in(uint64_t begin, uint64_t end) const;
  // The reference time at which the CTA reaches its point `pos` (its end at its last point).
  int64_t ref_at(const CtaSlot& c, uint64_t pos) const;
  // Run-ahead: after a group completed, the groups after it that are on mapped pages are passed without
  // events (true), or none is (false: schedule the next group). settle_ahead brings the CTA to where it
  // would be had each group had its event: the groups that would have run by now are done (all of them
  // when its pending event came), and the first that would not is its pending event.
  bool start_ahead(uint32_t slot);
  // The resident-kernel shortcut (engine.resident_shortcut): a kernel whose pages (Workload::kernel_runs)
  // are all mapped at its launch is resident until one of them loses its mapping; meanwhile its CTAs pass
  // all their groups ahead without a check per page, as start_ahead's checks would find them all mapped.
  void enter_resident(RunningKernel& rk);
  // The kernel's pages as runs [first, last] (Workload::kernel_runs; none where the workload has no runs).
  std::span<const std::pair<uint32_t, uint32_t>> footprint(uint32_t kernel) const;
  // CTAs of the kernel an SM holds at once within the hardware's limits.
  uint32_t hw_ctas(uint32_t kernel) const;
  // After an event in which pages lost their mappings: resident kernels with such a page are taken off.
  void drop_resident();
  void leave_resident(uint32_t kernel);
  bool footprint_touched(uint32_t kernel) const;
  void settle_ahead(uint32_t slot, bool all);
  // Clean groups' page accesses counted, and progress.
  void accesses_done(uint64_t pages);
  // Whether the CTA in the slot passes groups ahead (its pages are in ahead_pages_).
  bool ahead(uint32_t slot) const { return ahead_pages_[slot] != kNotAhead; }
  // SM sharing (sim/gpu/sm_share.h, sim/gpu/lane.h): a CTA's fixed-time event (replacing its pending one);
  // the CTA computing in its lane towards target_ns (from its offset if continuous, else from now) and
  // out of it again; the first event of an SM's lanes given to the engine; the lane of a kernel on an SM,
  // taken and given back with the CTAs resident there.
  void push_fixed(uint32_t slot, uint8_t type, int64_t at);
  // The engine's handles (Engine::at_handle) of a CTA's fixed-time event and of an SM's lane event.
  static uint32_t slot_handle(uint32_t slot) { return 2 * slot; }
  static uint32_t sm_handle(uint32_t sm) { return 2 * sm + 1; }
  void join_lane(uint32_t slot);
  void leave_lane(uint32_t slot);
  // A lane whose first event changed; the engine is given the first event of each SM with a touched lane
  // (or told it has none) at the end of every event and call the gpu takes (publish_lanes, from
  // flush_speeds).
  void touch_lane(uint32_t lane);
  void publish_lanes();
  uint32_t take_lane(uint32_t sm, uint32_t kernel, uint32_t slot);
  void give_lane(uint32_t sm, uint32_t lane);
  // A lane's event comes: its first CTA steps or ends.
  void lane_due(uint32_t lane);
  // Its loads on or off its SM's sums; the lanes of SMs whose sums changed take their new speeds (after
  // each event the gpu handles and each call it takes); the GPU's DRAM factor, recomputed when kernels
  // start and end. CTAs placed meanwhile are scheduled by the flush, at their SMs' final loads.
  double speed_on(uint32_t sm, uint32_t kernel);  // SmShare::speed at the SM's loads, cached
  // With gpu.issue_by_age: the speeds of the SM's lanes (one CTA each) by their CTAs' ages, into
  // ranked_speeds_ by lane.
  void rank_speeds(uint32_t sm);
  void set_counted(uint32_t slot, bool on);
  void mark_dirty(uint32_t sm);
  void flush_speeds();
  void update_dram_factor();
  // `blocked`: an entry was refused, the CTA issues nothing more this pass; `deferred`: the uTLB serves
  // another warp access this round (gpu.utlb_one_warp), the access waits for the replay that one brings.
  void raise_fault(uint32_t slot, uint32_t page, uint8_t kind, uint32_t utlb, bool reissue, uint32_t warp,
                   bool* blocked, bool* deferred);
  void build_issue_order(CtaSlot& c, uint64_t group_end, uint32_t warps);
  int64_t fault_jitter();
  // Processes (contexts) taking turns on the GPU (gpu.timeslice_ns; sim/MODEL.md, "Several processes").
  bool has_work(uint32_t process) const;
  void context_check();
  void context_out(uint32_t to, bool preempt);
  void context_in();
  void slot_resources(uint32_t slot, bool add);
  uint32_t process_of_kernel(uint32_t kernel) const;

  Engine& engine_;
  const uint8_t id_;
  const Workload& w_;
  const Config& cfg_;
  Stats& stats_;
  const PageTable& pages_;
  FaultBuffer& buffer_;
  Tlb tlb_;  // the gmmu's per-SM TLB, consulted on every access the CTA issues
  struct SmLimits {
    uint64_t ctas, threads, regs, smem;
  } const limits_;  // an SM's resources (gpu.max_ctas_per_sm, ...), read by every placement
  Uvm* uvm_ = nullptr;
  Host* host_ = nullptr;

  Clock clock_sm_allocation_{*this, kTimerSmAllocation}, clock_tlp_{*this, kTimerTlp};
  std::unique_ptr<SmAllocationPolicy> sm_allocation_;
  std::vector<SmSet> allowed_sms_;       // per tenant: the SMs its CTAs may be placed on
  std::vector<SmSet> partition_;  // per tenant with a green-context partition (empty: none has one)
  Timeline* timeline_ = nullptr;
  std::vector<uint32_t> kernel_sms_;  // per kernel: its limit_kernel_sms (empty: none was set)
  // Per tenant: the running kernel holding an SM limit (UINT32_MAX: none), the limit, and the SMs chosen for
  // it (none chosen yet: empty).
  struct SmLimit {
    uint32_t kernel = UINT32_MAX, sms = 0;
    SmSet chosen;
  };
  std::vector<SmLimit> sm_limit_;
  std::vector<TenantLoad> tenant_load_;  // per tenant: what the sm_allocation policy sees
  std::unique_ptr<TlpPolicy> tlp_;
  bool tlp_limits_ = false;  // asked once: the default's answers are constant

  SmShare share_;
  double dram_factor_ = 1;
  std::vector<uint32_t> dirty_sms_;
  std::vector<std::pair<uint32_t, int64_t>> starting_;  // CTAs placed since the last flush, with their delay
  uint32_t next_sm_ = 0;  // where the dispatcher's next breadth-first pass starts
  uint32_t next_tpc_ = 0;  // gpu.dispatch_by_tpc: the first TPC in rotation for ties
  std::vector<Sm> sms_;
  std::vector<Lane> lanes_;
  std::vector<uint32_t> free_lanes_;
  std::vector<uint32_t> touched_lanes_;
  std::vector<uint32_t> touched_sms_;  // SMs with a touched lane
  std::vector<CtaSlot> slots_;
  // Per slot: the pages [lo, hi] of the groups its CTA passes ahead, kNotAhead when it does not (a dense
  // array that after_event scans when pages lose their mappings).
  static constexpr std::pair<uint32_t, uint32_t> kNotAhead{UINT32_MAX, 0};
  std::vector<std::pair<uint32_t, uint32_t>> ahead_pages_;
  std::vector<uint32_t> free_slots_;
  std::vector<RunningKernel> running_;
  std::vector<uint32_t> stalled_;
  uint64_t ctas_done_ = 0, ctas_launched_ = 0, ctas_started_ = 0;
  uint64_t jitter_draws_ = 0;  // counter of the fault jitter's random stream
  uint64_t replay_draws_ = 0;  // counter of the replay's wake order's random stream
  bool run_ahead_ = false;     // engine.run_ahead, where nothing needs every access at its time
  bool shortcut_ = false;      // engine.resident_shortcut, with run-ahead
  std::vector<uint8_t> resident_;        // per kernel: its pages are all mapped (it is on the shortcut)
  std::vector<uint32_t> resident_list_;  // the kernels with resident_ set
  bool ranked_ = false;        // gpu.issue_by_age: issue slots oldest first, a lane per CTA
  std::vector<double> ranked_speeds_;                        // by lane
  std::vector<std::pair<uint64_t, uint32_t>> rank_scratch_;  // (CTA start ordinal, lane) of one SM
  // rank_speeds' results by what they are a function of (kernel, the older CTAs' load, the SM's memory
  // and pipe loads, the DRAM factor): a direct-mapped memo, since an SM of one kernel's CTAs asks the same
  // questions wave after wave. A hit returns the very value computed before.
  struct RankMemo {
    uint64_t older_bits = 0, memory_load = 0, pipe_load = 0, dram_bits = 0;
    uint32_t kernel = UINT32_MAX;
    double speed = 0;
  };
  std::vector<RankMemo> rank_memo_;
  std::vector<uint32_t> unmapped_;  // pages that lost their GPU mapping during the current event
  std::vector<std::pair<uint32_t, uint32_t>> unmapped_runs_;  // the same as runs [first, last] (after_event)

  // Time-slicing between processes: one process's CTAs run at a time (gpu.timeslice_ns > 0 and more than
  // one process). owner_: the process on the GPU, -1 before the first and during a switch (to incoming_).
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
