// Statistics of one run: typed members incremented directly by their components, never looked up by
// string on the hot path. describe() registers each with name, unit and description for the JSON writer.
#pragma once

#include <algorithm>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace uvmsim {

// Distribution of a non-negative integer quantity: count, sum, max and power-of-two bins
// (bin 0 holds 0, bin i holds [2^(i-1), 2^i)).
struct Distribution {
  uint64_t count = 0, sum = 0, max = 0;
  std::vector<uint64_t> bins;
  void add(uint64_t v);
  double mean() const { return count ? double(sum) / double(count) : 0.0; }
};

enum Cause : uint8_t { kCauseUser = 0, kCauseCoherence, kCausePrefetch, kCauseEviction, kCauseCount };

struct KernelRecord {
  std::string name;
  uint32_t tenant = 0, stream = 0;
  int64_t start_ns = -1, end_ns = -1;
  uint64_t ctas = 0, faults = 0;
  uint32_t sms = 0;  // SMs its tenant's CTAs could use when it (last) launched
  // Launches of it (a serving run launches a kernel template once per batch; start_ns and end_ns are the
  // last launch's) and their durations summed.
  uint64_t launches = 0;
  int64_t launched_ns = 0;
};

// One tenant (a model instance): what its kernels did and what the driver did to its pages. A page's
// tenant is the tenant of its allocation; a chunk's, the tenant of its block's lowest resident page.
struct TenantRecord {
  std::string name, model;
  uint32_t process = 0;
  uint64_t kernels = 0, ctas = 0;
  int64_t first_start_ns = -1, last_end_ns = -1;  // its first kernel's start, its last kernel's end
  int64_t kernel_ns = 0;                          // time with at least one of its kernels running
  uint64_t faults = 0;                            // faulting accesses its CTAs raised
  uint64_t batches = 0;                           // fault batches holding at least one of its entries
  uint64_t bytes_in = 0, bytes_out = 0;           // its pages copied HtoD and DtoH (every cause)
  uint64_t chunks_evicted_from = 0;               // its chunks evicted
  uint64_t chunks_evicted_by = 0;                 // chunks evicted to make room for its pages
  uint64_t refaults = 0;  // its pages faulting again within stats.refault_window_ns of their eviction
};

struct OpRecord {
  std::string kind;
  uint32_t stream = 0;
  int64_t start_ns = -1, end_ns = -1;
};

// HtoD migration copies closer than this belong to one group: the copies of one fault batch run back to
// back, and the H100's counter pass shows groups separated by tens of microseconds (`uvmsim validate`
// compares the counts).
constexpr int64_t kCopyGroupGapNs = 5000;

// Counts copies and their groups (a copy starting more than kCopyGroupGapNs after every earlier copy ended
// opens a group): `uvmsim validate` adds the recorded copies sorted by start, the model its migration copies
// as it submits them.
struct CopyGroups {
  uint64_t copies = 0, groups = 0;
  int64_t end = 0;  // latest end of a copy added so far
  void add(int64_t copy_start, int64_t copy_end) {
    if (copies == 0 || copy_start > end + kCopyGroupGapNs) ++groups;
    end = copies++ == 0 ? copy_end : std::max(end, copy_end);
  }
};

// One fault batch as validation compares it with the driver's (traces/driver_batches.h): its raw entries,
// the distinct pages and 2 MiB VA blocks they name, the kernel most entries came from, the arrival of its
// earliest entry in the fault buffer and the time its replay took effect.
struct BatchRecord {
  int64_t first_arrival_ns = 0, replay_ns = -1;  // -1: no replay of its own yet
  uint32_t entries = 0, pages = 0, blocks = 0;
  uint32_t utlbs = 0;  // uTLBs with an entry in it
  uint32_t kernel = 0;
};

struct Stats {
  int64_t sim_time_ns = 0;
  uint64_t events = 0;
  // Most events in a row with no progress (the guard: engine.max_events_without_progress).
  uint64_t longest_stall_events = 0;
  // The engine's resident-kernel shortcut (engine.resident_shortcut): launches that ran on it, and those of
  // them an eviction took off it.
  uint64_t resident_launches = 0, resident_launches_dropped = 0;
  uint64_t page_accesses = 0;
  uint64_t accesses_issued = 0;     // page accesses issued, re-issues after replays included
  uint64_t faults_raised = 0;       // entries written to the fault buffer
  uint64_t faults_not_entered = 0;  // held back by a full buffer or a uTLB at its outstanding cap
  uint64_t faults_fetched = 0;      // raw entries the driver read
  uint64_t faults_coalesced = 0;    // merged by coalescing
  uint64_t faults_unique = 0;       // distinct pages serviced
  uint64_t faults_stale = 0;        // page already accessible when serviced
  uint64_t faults_flushed = 0;      // discarded by a flush
  uint64_t faults_throttled = 0;
  uint64_t batches = 0;
  uint64_t service_calls = 0;
  uint64_t driver_wakes = 0, driver_deep_wakes = 0;
  uint64_t replays = 0;
  uint64_t reissues = 0;  // CTAs re-issuing at once: their faults were replayed while they still issued
  uint64_t context_switches = 0;  // turns handed from one process to another (gpu.timeslice_ns)
  uint64_t ctas_beside_other_kernels = 0;  // CTAs that started on an SM holding another kernel's CTAs
  Distribution faults_per_batch, unique_faults_per_batch, va_blocks_per_batch, batch_ns;
  uint64_t bytes_htod[kCauseCount] = {};
  uint64_t bytes_dtoh[kCauseCount] = {};
  uint64_t bytes_zero_filled = 0;
  uint64_t htod_copies = 0;       // HtoD migration copies (one per contiguous run of one cause)
  uint64_t htod_copy_groups = 0;  // runs of those copies with no gap over kCopyGroupGapNs between them
  uint64_t bytes_freed_on_gpu = 0;
  uint64_t pages_faulted_in = 0;
  uint64_t pages_prefetched = 0;
  uint64_t chunks_allocated = 0;
  uint64_t chunks_evicted = 0;
  uint64_t pages_evicted = 0;
  uint64_t thrashing_pages = 0;
  uint64_t throttles = 0;
  uint64_t pins = 0;
  uint64_t remote_maps = 0;
  uint64_t cpu_faults = 0;
  uint64_t cpu_fault_pages = 0;
  uint64_t tlb_misses = 0;
  int64_t sm_busy_ns = 0;  // summed over SMs: time with at least one resident CTA
  int64_t pcie_busy_ns[2] = {};
  uint64_t sm_count = 0;
  uint64_t gpu_capacity_bytes = 0;
  uint64_t footprint_bytes = 0;
  std::vector<KernelRecord> kernels;
  std::vector<OpRecord> ops;
  std::vector<TenantRecord> tenants;  // the trace's tenants, or one unnamed tenant when it has none
};

// Bytes moved each way, all causes together.
uint64_t htod_bytes(const Stats& s);
uint64_t dtoh_bytes(const Stats& s);
// Share of fault-driven HtoD bytes (coherence and prefetch) moved by the prefetcher, in % (0 without any).
double prefetch_share_pct(const Stats& s);

nlohmann::json stats_to_json(const Stats& s);
// name, unit and meaning of every statistic of stats.json's "stats" object (`uvmsim stats-schema`).
struct StatInfo {
  std::string name, unit, description;
};
std::vector<StatInfo> describe_stats();

}  // namespace uvmsim
