// The simulator's configuration: typed structs parsed once from JSON. Every key is declared in one schema
// table (config.cpp) with its type, bounds, unit and description; unknown keys and bad values are errors
// that name the key. Precedence: built-in defaults, then the config file, then --set overrides.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace uvmsim {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Built-in defaults are the H100 calibration: sim/configs/h100.json, fitted as results/calibration.md
// shows. A test keeps the two equal.
struct GpuConfig {
  std::string name = "NVIDIA H100 80GB HBM3";
  int64_t sm_count = 132;
  int64_t memory_bytes = 85520809984;  // 81559 MiB
  // > 0: GPU memory = this fraction of the chunks that hold the workload's footprint (overrides bytes).
  double memory_fraction = 0.0;
  int64_t max_threads_per_sm = 2048;
  int64_t max_ctas_per_sm = 32;
  int64_t regs_per_sm = 65536;
  int64_t smem_per_sm_bytes = 233472;
  int64_t sms_per_utlb = 2;
  int64_t utlb_max_outstanding_faults = 32;
  // Miss slots (sim/gmmu/fault_buffer.h): 0, none; else each uTLB holds at most this many outstanding
  // misses of utlb_miss_granule_pages aligned pages each until the driver's next replay.
  int64_t utlb_miss_slots = 0;
  int64_t utlb_miss_granule_pages = 4;
  // With miss slots: after a replay a uTLB takes no new granule for this long (the re-walk of those it held).
  int64_t utlb_slot_rewalk_ns = 0;
  int64_t utlb_write_closes = 1;  // with miss slots: a write fault in a new granule takes the last slot
  // 1: between two replays a uTLB faults on the misses of one warp access only (the first that faulted).
  int64_t utlb_one_warp = 0;
  // A CTA issues with its group's first access those its resident run issued less than this after it (they
  // cannot depend on its value); 0: only those at the same moment (sim/MODEL.md, "Accesses in flight").
  int64_t independent_window_ns = 0;
  int64_t max_faulting_utlbs = 0;  // uTLBs that may fault between two replays (0: all)
  int64_t faulting_cap_reissues_only = 0;  // 1: the cap binds only accesses re-issued at a replay
  // 1: a write (or atomic) miss writes one entry per 128-byte line its warp access touches in the page
  // (the kernel's recorded write_lines); 0: one entry.
  int64_t write_fault_per_line = 0;
  int64_t fault_buffer_entries = 8192;
  int64_t fault_latency_ns = 4149;
  int64_t fault_issue_ns = 0;
  // The fault buffer's write port (sim/gmmu/fault_buffer.h): 0, none (each uTLB's entries arrive on their
  // own); else entries reach the buffer this far apart, the GPCs taking turns entry by entry and a GPC's
  // uTLBs turns of fault_write_burst entries. SM s is in GPC (s / gpc_sm_step) % G, G = the GPCs a partition
  // of sm_count SMs spans: min(gpcs, ceil(sm_count / gpc_sm_step)) (the H200's green contexts: 8 SMs one
  // GPC, 16 two, 32 four, 72 and 132 all eight).
  int64_t fault_write_ns = 0;
  int64_t fault_write_burst = 8;
  int64_t gpcs = 8;
  int64_t gpc_sm_step = 8;
  // Faulting accesses reach the uTLB after a uniform random delay below fault_jitter_ns, in runs of
  // fault_jitter_accesses accesses of one CTA (sim/MODEL.md).
  int64_t fault_jitter_ns = 1000;
  int64_t fault_jitter_accesses = 3;
  // How a CTA orders the accesses of one moment (its warps: threads per CTA / 32, each the next share of the
  // moment's pages in address order): 0, all in address order; 1, a page of each warp in turn; 2, a warp's
  // whole share at a time from a warp drawn per CTA and moment (sim/MODEL.md).
  int64_t warp_interleave = 0;
  // With warp_interleave: a moment's pages go to as few warps as hold them at this many pages a warp (one a
  // lane), not spread over all the CTA's warps (0: spread over all).
  int64_t warp_lane_pages = 0;
  // With utlb_miss_slots: a uTLB takes new granules only this long after its round's first (0: no limit).
  int64_t utlb_round_window_ns = 0;
  // 1: at a replay the stalled CTAs re-issue in a seeded random order, not in the order they stalled; 2: in a
  // seeded order drawn per TPC (SMs 2t, 2t+1) and dispatch round (the CTAs the SM had received before it); 3:
  // each SM's oldest first, the SMs in an order drawn per TPC and replay.
  int64_t replay_wake_shuffle = 0;
  // The driver zero-fills pages resident nowhere with memsets on one engine, in order of submission.
  int64_t zero_fill_bytes_per_s = 1000000000000;
  // 1: a VA block's new GPU chunk is zeroed whole, every page of it resident nowhere, when it is allocated
  // (uvm_va_block.c, block_zero_new_gpu_chunk); 0: only the pages made resident, as they are.
  int64_t zero_fill_chunk = 0;
  int64_t memset_bytes_per_s = 1000000000000;  // cudaMemset of managed memory (a kernel on the SMs)
  int64_t launch_latency_ns = 0;  // from a stream taking a kernel (its previous op done) to its first CTA
  // Processes without MPS take turns on the GPU (cuda_tracer/programs/timeslice_probe.cu on an H100):
  // turns of timeslice_ns while another process waits, context_switch_ns to hand over, preempt_ns more
  // to save the outgoing process's running CTAs. timeslice_ns 0: processes share the SMs (as under MPS).
  int64_t timeslice_ns = 2081000;
  int64_t context_switch_ns = 136000;
  int64_t preempt_ns = 26000;
  int64_t tlb_entries = 0;  // 0: no TLB model; else per-SM entries of 2 MiB reach
  int64_t tlb_miss_ns = 0;
  // SMs shared by their CTAs (sim/gpu/sm_share.h, sim/MODEL.md): the issue and memory loads of an SM
  // holding as many CTAs of one kernel as fit, each SM's and the whole GPU's DRAM bandwidth. Fitted on the
  // H200 (results/sm_sharing.md), whose SMs are the H100's; the H100's DRAM bandwidth is the H200's fitted
  // 4.211e12 scaled by their specified bandwidths (3.35 / 4.8 TB/s).
  double full_sm_issue_load = 3.264;
  double full_sm_memory_load = 1.153;
  int64_t sm_dram_bytes_per_s = 51260000000;
  int64_t dram_bytes_per_s = 2939000000000;
  // Latency of a DRAM access on an idle GPU (the H200's: cuda_tracer/mem_latency.sh, one warp per SM): with
  // gpu.sm_dram_bytes_per_s it turns the bytes a profiled kernel keeps in flight into its memory load.
  int64_t dram_latency_ns = 390;
  // How the DRAM saturates: the SMs wanting x times gpu.dram_bytes_per_s get (1 + x^p)^(-1/p) of what they
  // want (its latency grows with load before the bandwidth runs out, as an SM's does). The H200's: 3,
  // measured on its memory curve (cuda_tracer/mem_latency.sh; `uvmsim sm-sharing --memory-curve`).
  // 0: a hard ceiling, no slowing below it.
  double dram_saturation_exponent = 0;
  // CTAs of one kernel do not take exactly the same time: a CTA's progress is a random walk whose variance
  // grows by this many ns per ns of its duration, so a CTA of duration d takes d plus a uniform draw of
  // standard deviation sqrt(v * d) (at most half of d). The H200's CTAs: about 50 ns (a 2.4 us streaming
  // CTA varies by 16%, a 132 us compute one by 2%; cuda_tracer/cta_time.sh). So the CTAs of a wave end
  // apart, as on the GPU, and a grid queued behind a kernel finds a free slot before its last wave ends.
  // 0: every CTA alike.
  double cta_time_variance_ns = 0;
  // How an SM's issue slots go to its running CTAs. 0: shared in proportion to what each asks (processor
  // sharing). 1: oldest first: each CTA, in the order they started, gets what the SM's issue slots add
  // when its load joins the older CTAs' (the SM's total as with equal shares), as the H200 does: eight FMA
  // CTAs started together on an SM end one after another (cuda_tracer/dispatch.sh, its fma_pair case).
  // 1 gives every CTA a clock of its own (slower to simulate).
  int64_t issue_by_age = 0;
  // CTA dispatch. 0: passes over the SMs in rotation, one CTA to each SM with room. 1: each CTA to the TPC
  // (SMs 2t, 2t+1) holding the fewest resident CTAs of any kernel (ties: in rotation from the TPC after the
  // last one given a CTA), on its SM with fewer (ties: its first), as the H100 places a kernel launched
  // beside another (cuda_tracer/placement.sh). 2 (every calibrated config): as 1 while two running
  // kernels may share an SM (their tenants' allowed SMs meet), as 0 otherwise: a lone kernel, or tenants
  // on disjoint green contexts, keeps the order the driver's costs were fitted under. A CTA's end refills
  // its own SM in all three.
  int64_t dispatch_by_tpc = 2;
};

struct PcieConfig {
  int64_t htod_bytes_per_s = 45502449227;
  int64_t dtoh_bytes_per_s = 54380000000;
  int64_t latency_ns = 1000;
  int64_t copy_setup_ns = 4546;  // per push (one VA block's copies)
  int64_t copy_ns = 12;          // per copy within a push
  int64_t copy_engines = 2;
};

struct DriverConfig {
  // Module parameters (reference/uvm-driver.md).
  int64_t fault_batch_count = 256;
  int64_t fault_replay_update_put_ratio = 50;
  int64_t fault_max_batches_per_service = 20;
  int64_t fault_max_throttle_per_service = 5;
  int64_t fault_coalesce = 1;
  // The prefetcher's and thrashing detection's module parameters are the parameters of their policies
  // (policies.prefetch.params.*, policies.thrashing.params.*).
  // Costs of the servicing thread (calibrated to reference/measurements.md).
  int64_t isr_latency_ns = 8078;
  // The servicing thread's wake-up when a fault finds the driver idle for wake_idle_ns or more (deeper:
  // deep_idle_ns or more): added to isr_latency_ns. 0: none (the H100 configs).
  int64_t wake_idle_ns = 2000;
  int64_t wake_ns = 0;
  int64_t deep_idle_ns = 1000000;
  int64_t deep_wake_ns = 0;
  int64_t batch_fixed_ns = 4944;
  int64_t fault_ns = 11;            // per fault entry of a page not yet in the batch
  int64_t duplicate_fault_ns = 31;  // per entry of a page already in the batch (coalesced or equal)
  int64_t va_block_ns = 12957;
  // Per VA block whose service on the fault path migrates or zero-fills pages, beyond va_block_ns: the
  // block's migration work after its copies are pushed (its mapping, its pages' state). 0: no cost apart.
  int64_t migrate_block_ns = 0;
  int64_t page_ns = 164;  // per page made resident by the fault path (allocate, populate, track)
  int64_t pte_ns = 4509;  // per GPU PTE written (2 MiB, 64 KiB or 4 KiB)
  int64_t cpu_unmap_page_ns = 272;
  int64_t replay_ns = 3914;
  int64_t replay_fetch_ns = 0;  // a replay's completion to the next batch's read of PUT
  int64_t evict_chunk_ns = 10000;
  // A VA block first made resident on the GPU (its GPU chunk allocated): the block's GPU state, its chunk
  // from the allocator, its page-table pages. 0 in the H100 configs (fitted without it).
  int64_t block_populate_ns = 0;
  int64_t prefetch_op_block_ns = 31394;  // explicit cudaMemPrefetchAsync, per VA block
  int64_t prefetch_op_page_ns = 20;
};

struct HostConfig {
  int64_t cpu_fault_ns = 4492;        // CPU page fault on a GPU-resident page: fixed cost
  int64_t cpu_fault_page_ns = 1236;   // per page migrated back (unmap on the GPU, map on the CPU)
  int64_t first_touch_page_ns = 250;  // CPU populating a page resident nowhere
  int64_t touch_page_ns = 5;          // CPU touching a page it already holds
};

// One policy kind's selection: the policy's name and values for its declared parameters (the rest keep
// their defaults). An empty name selects the kind's default policy.
struct PolicyChoice {
  std::string name;
  std::map<std::string, double> params;
};

// The engine's guard against runs that never end.
struct EngineConfig {
  // A run stops with an error naming the likely key after this many events with no CTA, access group or
  // op completing (events, not simulated time: a resident CTA may rightly run for seconds in one event).
  int64_t max_events_without_progress = 20000000;
  // A run stops with an error after this many events in all; 0: no limit (a cap for sweeps and fuzzing).
  int64_t max_events = 0;
  // 1: a CTA whose next access groups are all on mapped pages passes them without an event each (run-ahead,
  // sim/MODEL.md); outputs are the same with 0, only the engine's own counts (events) differ.
  int64_t run_ahead = 1;
  // 1 (with run-ahead): a kernel launched with every page its CTAs touch mapped is resident; its CTAs pass
  // all their groups ahead without checking a page each, until one of those pages loses its mapping (an
  // eviction), which takes the kernel off (sim/MODEL.md). Outputs are the same with 0 but for the engine's
  // own counts (resident_launches, resident_launches_dropped).
  int64_t resident_shortcut = 1;
};

// What the statistics count.
struct StatsConfig {
  // A page that faults again within this long after an eviction took it off the GPU is a refault (per
  // tenant in stats.json).
  int64_t refault_window_ns = 10000000;
};

struct Config {
  // Whether the GPU and driver costs were fitted to measurements of this GPU (sim/configs/README.md).
  bool calibrated = true;
  uint64_t seed = 1;
  EngineConfig engine;
  StatsConfig stats;
  GpuConfig gpu;
  PcieConfig pcie;
  DriverConfig driver;
  HostConfig host;
  // By kind (policies/<kind>/): policies.<kind>.name and policies.<kind>.params.<key>. A kind not here
  // runs its default policy with its defaults.
  std::map<std::string, PolicyChoice> policies;
  // The selected policy of a kind (its default when none is selected).
  std::string policy(const std::string& kind) const;
  // Selects a policy; a different policy than the one selected drops the parameters given for that one.
  void select(const std::string& kind, const std::string& name);
  // The parameters given for a kind's selected policy.
  const std::map<std::string, double>& policy_params(const std::string& kind) const;
};

// One documented key of the schema.
struct KeyInfo {
  std::string path;
  std::string type;  // "int", "float", "string", "bool"
  std::string unit;
  std::string description;
  double min = 0, max = 0;
  std::string default_value;  // as JSON, filled by config_schema()
};
std::vector<KeyInfo> config_schema();

// Builds a config: defaults, then `file` (if not empty), then each "a.b=c" override in order.
Config load_config(const std::string& file, const std::vector<std::string>& overrides);
void apply_json(Config& c, const nlohmann::json& j, const std::string& origin);
void apply_override(Config& c, const std::string& assignment);
// Checks what single keys' bounds cannot (a time slice shorter than a context switch; each kind's policy
// exists and its parameters are declared, integral where they must be and within bounds); ConfigError
// naming the key otherwise. load_config and the simulator call it.
void check_config(const Config& c);
nlohmann::json to_json(const Config& c);

}  // namespace uvmsim
