// The uvm component: the UVM driver. The replayable-fault bottom half (batches fetched from the gmmu's fault
// buffer, coalesced, sorted and serviced per VA block, with the prefetch, replay and thrashing policies),
// residency and GPU memory in 2 MiB root chunks (the eviction and memory_allocation policies), migrations
// over the interconnect, and the CPU's side: CPU faults, explicit prefetch, advice and frees.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "policies/eviction/eviction_policy.h"
#include "policies/memory_allocation/memory_allocation_policy.h"
#include "policies/prefetch/prefetch_policy.h"
#include "policies/replay/replay_policy.h"
#include "policies/thrashing/thrashing_policy.h"
#include "sim/config/config.h"
#include "sim/engine/engine.h"
#include "sim/gmmu/fault_buffer.h"
#include "sim/gmmu/page_table.h"
#include "sim/interconnect/pcie.h"
#include "sim/stats/stats.h"
#include "sim/stats/tenants.h"
#include "sim/stats/timeline.h"
#include "sim/workload/workload.h"

namespace uvmsim {

class Gpu;

// GPU memory in 2 MiB root chunks, as the config gives it: gpu.memory_fraction of the chunks that hold the
// workload's footprint (one per VA block touched, rounded up), else gpu.memory_bytes; at least 1, at most
// 2^30.
uint32_t capacity_chunks(const Config& c, const Workload& w);

class Uvm final : public Component {
 public:
  Uvm(Engine& engine, const Workload& w, const Config& c, Stats& stats, TenantLedger& tenants,
      PageTable& pages, FaultBuffer& buffer, PcieLink& pcie);
  ~Uvm() override;
  void connect(Gpu& gpu) { gpu_ = &gpu; }
  void set_batch_log(std::ostream* os) { batch_log_ = os; }
  // Records every batch serviced (validation); null: none.
  void set_batch_records(std::vector<BatchRecord>* out) { batch_records_ = out; }
  // Where evictions are recorded (null: nowhere).
  void set_timeline(Timeline* t) { timeline_ = t; }

  // The gpu: a fault entered the buffer, arriving at `arrival` (the interrupt follows unless the bottom
  // half is running or already signalled).
  void fault_entered(int64_t arrival);
  bool replay_pending() const { return replays_pending_ > 0; }
  // The eviction policy wants every access to a resident block (asked once: the CTA loop does not call
  // through otherwise).
  bool wants_accesses() const { return eviction_wants_accesses_; }
  void accessed(uint32_t block, int64_t now) {
    if (block_chunk_[block] != kNoChunk) eviction_->on_access(block_chunk_[block], now);
  }
  // The memory_allocation policy, asked by the CTA scheduler (restricts() false: admit all, skip asking).
  bool restricts() const { return memory_restricts_; }
  MemoryAllocationPolicy& memory_allocation() { return *memory_allocation_; }

  // The host's ops.
  int64_t cpu_access(uint32_t op, int64_t t);
  int64_t migrate(uint32_t op, int64_t t);
  void advise(uint32_t op);
  void free_allocation(uint32_t alloc);

  void handle(const Event& e) override;
  uint8_t id() const { return id_; }
  const char* event_name(uint8_t type) const override;
  // At the end of the run: the policies' and copy engines' counts into the statistics.
  void finish();
  // The conservation audit's part over GPU memory: every page's residency against its block's chunk and
  // the capacity. Returns the GPU-resident pages counted.
  uint64_t audit(const std::function<void(const std::string&)>& say) const;

 private:
  enum UvmEvent : uint8_t { kEvInterrupt, kEvBatch, kEvReplay, kEvFlush, kEvPolicyTimer };
  class Clock final : public PolicyClock {
   public:
    explicit Clock(Uvm& u) : u_(u) {}
    int64_t now() const override { return u_.engine_.now(); }
    void set_timer(int64_t at_ns, uint64_t tag) override {
      u_.engine_.at(std::max(at_ns, u_.engine_.now()), kPrioDriver, u_.id_, kEvPolicyTimer, 0, tag);
    }

   private:
    Uvm& u_;
  };

  int64_t now() const { return engine_.now(); }
  // The bottom half.
  void start_service();
  void service_batch();
  void end_service(int64_t t);
  void push_replay(int64_t t);
  // Residency, shared by the fault path, explicit prefetch, CPU faults and eviction.
  bool ensure_chunk(uint32_t block, int64_t& cpu, uint32_t pinned_block);
  int64_t make_resident_gpu(uint32_t block, const BlockMask& pages, const BlockMask& faulted, bool user,
                            int64_t& cpu);
  int64_t move_to_cpu(uint32_t block, const BlockMask& pages, const BlockMask& faulted, uint8_t cause,
                      int64_t t);
  // Evicts one chunk the eviction policy picks among those the memory_allocation policy lets it take (not
  // pinned_block's), counting it as evicted by `by_tenant`. None to take: an error if the eviction is
  // needed, else false.
  // `overlap`: the copy is not waited for; the chunk may be taken again once it completes (chunk_ready_).
  bool evict_one(int64_t& cpu, uint32_t pinned_block, uint32_t by_tenant, bool needed, bool overlap = false);
  void release_chunk_if_empty(uint32_t block);
  int64_t cpu_fault(uint32_t page, int64_t t);

  Engine& engine_;
  const uint8_t id_;
  const Workload& w_;
  const Config& cfg_;
  Stats& stats_;
  TenantLedger& tenants_;
  PageTable& pages_;
  FaultBuffer& buffer_;
  PcieLink& pcie_;
  Gpu* gpu_ = nullptr;
  std::ostream* batch_log_ = nullptr;
  std::vector<BatchRecord>* batch_records_ = nullptr;
  Timeline* timeline_ = nullptr;
  size_t service_first_record_ = 0;  // the current service call's first batch record

  std::unique_ptr<PrefetchPolicy> prefetch_;
  std::unique_ptr<EvictionPolicy> eviction_;
  bool eviction_wants_accesses_ = false;
  std::unique_ptr<ReplayPolicy> replay_;
  std::unique_ptr<ThrashingPolicy> thrashing_;
  Clock clock_{*this};
  std::unique_ptr<MemoryAllocationPolicy> memory_allocation_;
  bool memory_restricts_ = false;

  // GPU memory: per block its root chunk (kNoChunk: none) and per chunk its block.
  std::vector<uint32_t> block_chunk_;
  std::vector<uint32_t> chunk_block_;
  std::vector<int64_t> chunk_ready_;  // per chunk: when an overlapped eviction's copy out of it completes
  std::vector<uint32_t> free_chunks_;
  uint32_t capacity_chunks_ = 0;
  std::vector<uint8_t> block_pref_gpu_;  // cudaMemAdviseSetPreferredLocation to the GPU
  std::vector<uint8_t> block_touched_;   // some page of the block has been resident somewhere
  int64_t zero_fill_free_ = 0;           // when the zero-fill engine finishes its last memset
  CopyGroups htod_copies_;  // data phases of the HtoD migration copies (stats htod_copies, _groups)

  // The bottom half's state.
  bool in_service_ = false;
  bool interrupt_pending_ = false;
  int64_t service_end_ = 0;  // when the last service ended (the run's start before any): the driver idles
                             // from then until the next interrupt
  int64_t fetch_lag_ = 0;    // the next batch's fetch after its replay: driver.replay_fetch_ns, or 0
  uint32_t replays_pending_ = 0;  // replay events queued and not yet run
  uint32_t service_batches_ = 0, service_throttled_ = 0;
  std::vector<FaultEntry> batch_;

  int64_t interrupt_latency(int64_t arrival);
};

}  // namespace uvmsim
