#include "sim/config/config.h"

#include <cmath>
#include <fstream>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <variant>

#include "policies/policy.h"
#include "traces/files.h"

namespace uvmsim {
namespace {

using json = nlohmann::json;
constexpr double kBig = 9.0e18;

struct Field {
  KeyInfo info;
  std::variant<int64_t*, double*, std::string*, uint64_t*, bool*> target;
};

// The schema: every key, bound to the member it fills. Comments in config.h say why each exists.
std::vector<Field> fields(Config& c) {
  std::vector<Field> f;
  auto i = [&](const char* p, int64_t* t, double lo, double hi, const char* unit, const char* d) {
    f.push_back({{p, "int", unit, d, lo, hi, {}}, t});
  };
  auto x = [&](const char* p, double* t, double lo, double hi, const char* unit, const char* d) {
    f.push_back({{p, "float", unit, d, lo, hi, {}}, t});
  };
  auto s = [&](const char* p, std::string* t, const char* d) {
    f.push_back({{p, "string", "", d, 0, 0, {}}, t});
  };
  f.push_back({{"calibrated",
                "bool",
                "",
                "whether this config's GPU and driver costs were fitted to measurements of its GPU (false: "
                "derived from public specifications by the rule in sim/configs/README.md); every stats.json "
                "repeats it at its top",
                0,
                1,
                {}},
               &c.calibrated});
  f.push_back({{"seed",
                "int",
                "",
                "seed of every random choice (the fault arrival jitter, gpu.fault_jitter_ns; "
                "gpu.cta_time_variance_ns)",
                0,
                kBig,
                {}},
               &c.seed});
  i("engine.max_events_without_progress", &c.engine.max_events_without_progress, 1000, kBig, "events",
    "stop a run (an error naming the likely key) after this many events with no CTA, access group or op "
    "completing");
  i("engine.max_events", &c.engine.max_events, 0, kBig, "events",
    "stop a run (an error) after this many events in all; 0: no limit");
  i("engine.run_ahead", &c.engine.run_ahead, 0, 1, "",
    "1: a CTA passes access groups on mapped pages without an event each, with identical results (0: one "
    "event per group, for checking)");
  i("engine.resident_shortcut", &c.engine.resident_shortcut, 0, 1, "",
    "1: the CTAs of a kernel launched with all its pages mapped skip the per-page checks of run-ahead until "
    "one of those pages loses its mapping, with identical results (0: every CTA checks its pages)");
  i("stats.refault_window_ns", &c.stats.refault_window_ns, 0, 1125899906842624.0, "ns",
    "a page faulting again within this long after its eviction counts as a refault of its tenant");
  s("gpu.name", &c.gpu.name, "GPU name, for reports");
  i("gpu.sm_count", &c.gpu.sm_count, 1, 4096, "SMs", "streaming multiprocessors");
  i("gpu.memory_bytes", &c.gpu.memory_bytes, 2 << 20, kBig, "bytes", "GPU memory usable by managed data");
  x("gpu.memory_fraction", &c.gpu.memory_fraction, 0, 1000, "",
    "if > 0, GPU memory = this fraction of what holds the workload's footprint: the 2 MiB chunks of the VA "
    "blocks it touches (1.0: nothing evicted), overriding memory_bytes");
  i("gpu.max_threads_per_sm", &c.gpu.max_threads_per_sm, 32, 65536, "threads", "resident threads per SM");
  i("gpu.max_ctas_per_sm", &c.gpu.max_ctas_per_sm, 1, 1024, "CTAs", "resident CTAs per SM");
  i("gpu.regs_per_sm", &c.gpu.regs_per_sm, 1024, 1 << 24, "registers", "registers per SM");
  i("gpu.smem_per_sm_bytes", &c.gpu.smem_per_sm_bytes, 0, 1 << 24, "bytes", "shared memory per SM");
  i("gpu.sms_per_utlb", &c.gpu.sms_per_utlb, 1, 4096, "SMs", "SMs sharing one uTLB (a TPC on Hopper)");
  i("gpu.utlb_max_outstanding_faults", &c.gpu.utlb_max_outstanding_faults, 1, 1 << 20, "faults",
    "faults one uTLB may have outstanding before it stops issuing more until a replay");
  i("gpu.utlb_miss_slots", &c.gpu.utlb_miss_slots, 0, 1 << 20, "misses",
    "outstanding misses one uTLB holds until the next replay, each an aligned granule of "
    "gpu.utlb_miss_granule_pages pages; a fault in a new granule waits for a free one (0: no limit; the "
    "H200's events: 14 granules of 4 pages, results/driver_batches.md)");
  i("gpu.utlb_miss_granule_pages", &c.gpu.utlb_miss_granule_pages, 1, 512, "pages",
    "pages one uTLB miss slot covers (a page-table sector: 4 PTEs of 8 bytes)");
  i("gpu.utlb_slot_rewalk_ns", &c.gpu.utlb_slot_rewalk_ns, 0, 1000000, "ns",
    "with gpu.utlb_miss_slots: after a replay a uTLB that held slots takes no new granule for this long (its "
    "held translations are walked again first); a held granule that faults again re-takes its slot at once "
    "(0: new granules at once)");
  i("gpu.utlb_round_window_ns", &c.gpu.utlb_round_window_ns, 0, 1000000, "ns",
    "with gpu.utlb_miss_slots: after a uTLB's first miss in a new granule since the last replay it takes new "
    "granules only for this long (misses issued before its first fault is reported back); a later one waits "
    "for the replay (0: until its slots are full)");
  i("gpu.independent_window_ns", &c.gpu.independent_window_ns, 0, 1000000, "ns",
    "a CTA issues together the accesses its resident run issued within this of the group's first (sooner "
    "than a dependent load can follow the load it depends on), so a miss does not hold back the accesses "
    "issued just after it (0: only accesses at the same moment of its run)");
  i("gpu.utlb_one_warp", &c.gpu.utlb_one_warp, 0, 1, "",
    "1: between two replays a uTLB faults on the misses of one warp access, the first that faulted on it; "
    "another warp's or CTA's miss waits for the next replay (0: any access's misses fault)");
  i("gpu.utlb_write_closes", &c.gpu.utlb_write_closes, 0, 1, "",
    "with gpu.utlb_miss_slots: 1, a write (or atomic) fault in a new granule takes the uTLB's last slot, so "
    "only accesses in granules it holds fault until the replay; 0, it takes one slot as a read does");
  i("gpu.write_fault_per_line", &c.gpu.write_fault_per_line, 0, 1, "",
    "1: a CTA's write (or atomic) miss on a page writes as many entries as the lines its warp access touches "
    "there (the kernel's write_lines, trace format 6; 1 when not recorded); 0: one entry");
  i("gpu.max_faulting_utlbs", &c.gpu.max_faulting_utlbs, 0, 1 << 20, "uTLBs",
    "at most this many uTLBs fault between two replays; another waits for the next replay (0: no limit)");
  i("gpu.faulting_cap_reissues_only", &c.gpu.faulting_cap_reissues_only, 0, 1, "",
    "with gpu.max_faulting_utlbs: 1, the cap binds only the accesses of CTAs re-issuing at a replay (a "
    "CTA's first miss of an access group, after no stall, faults whatever the count); 0, every access");
  i("gpu.fault_buffer_entries", &c.gpu.fault_buffer_entries, 1, 1 << 24, "entries",
    "replayable fault buffer capacity");
  i("gpu.fault_latency_ns", &c.gpu.fault_latency_ns, 0, 1e9, "ns",
    "from a faulting access to its buffer entry");
  i("gpu.fault_issue_ns", &c.gpu.fault_issue_ns, 0, 1e9, "ns",
    "spacing of successive fault entries of one uTLB");
  i("gpu.fault_write_ns", &c.gpu.fault_write_ns, 0, 1e6, "ns",
    "the fault buffer's write port: entries reach the buffer this far apart, GPCs in turn entry by entry, a "
    "GPC's uTLBs in turns of gpu.fault_write_burst (0: no port, each uTLB's entries on their own; the H200's "
    "events: about 20 ns, results/driver_batches.md)");
  i("gpu.fault_write_burst", &c.gpu.fault_write_burst, 1, 1 << 20, "",
    "entries one uTLB writes in its turn at the port (gpu.fault_write_ns)");
  i("gpu.gpcs", &c.gpu.gpcs, 1, 64, "", "GPCs of the GPU (the port's turns)");
  i("gpu.gpc_sm_step", &c.gpu.gpc_sm_step, 1, 4096, "",
    "SMs of one GPC in a row: SM s is in GPC (s / step) % G, G = min(gpu.gpcs, ceil(sm_count / step))");
  i("gpu.fault_jitter_ns", &c.gpu.fault_jitter_ns, 0, 1e9, "ns",
    "a CTA's faulting accesses reach its uTLB at a random delay in [0, this) (seeded by `seed`)");
  i("gpu.fault_jitter_accesses", &c.gpu.fault_jitter_accesses, 1, 1 << 20, "accesses",
    "with gpu.fault_jitter_ns: faulting accesses of one CTA that arrive together after one delay");
  i("gpu.warp_interleave", &c.gpu.warp_interleave, 0, 2, "",
    "how a CTA orders one moment's accesses, its warps (threads / 32) each taking the next contiguous share "
    "of the pages in address order: 0, all in address order; 1, a page of each warp in turn; 2, a warp's "
    "whole share at a time, from a warp drawn per CTA and moment (seeded)");
  i("gpu.warp_lane_pages", &c.gpu.warp_lane_pages, 0, 1024, "pages",
    "with gpu.warp_interleave: a moment's n pages are shared by min(threads / 32, ceil(n / this)) warps, a "
    "warp holding up to this many (32: a page per lane, as a kernel whose thread t touches page t); 0, by "
    "min(threads / 32, n) warps, every warp of the CTA at work");
  i("gpu.replay_wake_shuffle", &c.gpu.replay_wake_shuffle, 0, 3, "",
    "1: at a replay the CTAs stalled on faults re-issue in a seeded random order (which of an SM's warps "
    "reaches its uTLB first is not recorded); 2: in an order drawn per TPC (SMs 2t and 2t+1) and dispatch "
    "round (the CTAs the SM had received before it), so the two SMs of a TPC re-issue CTAs of the same "
    "round first; 3: each SM its own oldest first, the SMs in an order drawn per TPC and replay (every SM's "
    "oldest before any SM's second); 0: in the order they stalled");
  i("gpu.zero_fill_bytes_per_s", &c.gpu.zero_fill_bytes_per_s, 1, kBig, "bytes/s",
    "the driver's zero-fill of pages resident nowhere: memsets on one engine, one after another");
  i("gpu.zero_fill_chunk", &c.gpu.zero_fill_chunk, 0, 1, "",
    "1: a VA block's new GPU chunk is zeroed whole when it is allocated, every page of it resident nowhere, "
    "whatever the fault asked for (uvm_va_block.c, block_zero_new_gpu_chunk), and nothing more later; 0: "
    "only the pages being made resident that are resident nowhere");
  i("gpu.memset_bytes_per_s", &c.gpu.memset_bytes_per_s, 1, kBig, "bytes/s",
    "cudaMemset of managed memory: fill rate once the range is on the GPU");
  i("gpu.launch_latency_ns", &c.gpu.launch_latency_ns, 0, 1e9, "ns",
    "a kernel's CTAs are dispatched this long after its stream takes it (its previous op done, or the host "
    "issued it to an idle stream)");
  i("gpu.timeslice_ns", &c.gpu.timeslice_ns, 0, 1e11, "ns",
    "turn of one process on the GPU while another process has work; 0: processes share the SMs (MPS); "
    "else at least gpu.context_switch_ns + gpu.preempt_ns");
  i("gpu.context_switch_ns", &c.gpu.context_switch_ns, 0, 1e9, "ns",
    "handing the GPU from one process to another (no CTA of either runs meanwhile)");
  i("gpu.preempt_ns", &c.gpu.preempt_ns, 0, 1e9, "ns",
    "added to a switch that preempts the outgoing process's running CTAs (saving their state)");
  i("gpu.tlb_entries", &c.gpu.tlb_entries, 0, 4096, "entries",
    "per-SM TLB entries of 2 MiB reach; 0 disables the TLB model");
  i("gpu.tlb_miss_ns", &c.gpu.tlb_miss_ns, 0, 1e9, "ns", "cost of a TLB miss on a resident page");
  x("gpu.full_sm_issue_load", &c.gpu.full_sm_issue_load, 0.001, 1000, "",
    "issue load of an SM holding as many CTAs of one kernel as fit (1: its issue slots just saturate); a "
    "CTA's share slows as the running CTAs' loads on its SM add up (fitted: results/sm_sharing.md)");
  x("gpu.full_sm_memory_load", &c.gpu.full_sm_memory_load, 0.001, 1000, "",
    "memory load of such an SM relative to gpu.sm_dram_bytes_per_s (fitted: results/sm_sharing.md)");
  i("gpu.sm_dram_bytes_per_s", &c.gpu.sm_dram_bytes_per_s, 1, kBig, "bytes/s",
    "DRAM bandwidth one SM can draw (h200.json: measured, cuda_tracer/mem_latency.sh; the h100 configs keep "
    "an earlier fit)");
  i("gpu.dram_bytes_per_s", &c.gpu.dram_bytes_per_s, 1, kBig, "bytes/s",
    "DRAM bandwidth of the whole GPU, shared by its SMs (h200.json: measured, cuda_tracer/mem_latency.sh)");
  x("gpu.cta_time_variance_ns", &c.gpu.cta_time_variance_ns, 0, 1e6, "ns",
    "variance of a CTA's duration per ns of it: a CTA of duration d takes d plus a uniform draw of standard "
    "deviation sqrt(this * d), at most d / 2 (per CTA, seeded by seed); the H200's: 50 "
    "(cuda_tracer/cta_time.sh); 0: every CTA of a kernel alike");
  i("gpu.issue_by_age", &c.gpu.issue_by_age, 0, 1, "",
    "1: an SM's issue slots go to its CTAs oldest first (each gets what the slots add when its load joins "
    "the older CTAs'), as on the H200 (cuda_tracer/dispatch.sh, fma_pair); 0: in proportion to what each "
    "asks; 1 gives each CTA its own clock (slower)");
  i("gpu.dispatch_by_tpc", &c.gpu.dispatch_by_tpc, 0, 2, "",
    "1: the dispatcher gives each CTA to the TPC (SMs 2t, 2t+1) with the fewest resident CTAs, on its SM "
    "with fewer, as the H100 places a kernel launched beside another (cuda_tracer/placement.sh); 2: so while "
    "two running kernels may share an SM (their tenants' allowed SMs meet), and in rotation otherwise (the "
    "order the driver's costs were fitted under); 0: passes over the SMs in rotation");
  i("gpu.dram_latency_ns", &c.gpu.dram_latency_ns, 1, 1e6, "ns",
    "latency of a DRAM access on an idle GPU (measured on the H200, cuda_tracer/mem_latency.sh); a profiled "
    "kernel's memory load is the bytes its CTAs keep in flight over this latency times "
    "gpu.sm_dram_bytes_per_s");
  x("gpu.dram_saturation_exponent", &c.gpu.dram_saturation_exponent, 0, 64, "",
    "how the DRAM saturates: SMs wanting x times gpu.dram_bytes_per_s get (1 + x^p)^(-1/p) of it, so "
    "latency grows with load below the ceiling (h200.json: 3, measured on the memory curve of "
    "cuda_tracer/mem_latency.sh, `uvmsim sm-sharing --memory-curve`); 0: a hard ceiling");
  i("pcie.htod_bytes_per_s", &c.pcie.htod_bytes_per_s, 1, kBig, "bytes/s", "host-to-device bandwidth");
  i("pcie.dtoh_bytes_per_s", &c.pcie.dtoh_bytes_per_s, 1, kBig, "bytes/s", "device-to-host bandwidth");
  i("pcie.latency_ns", &c.pcie.latency_ns, 0, 1e9, "ns",
    "from the end of a transfer to its completion being seen");
  i("pcie.copy_setup_ns", &c.pcie.copy_setup_ns, 0, 1e9, "ns",
    "per push to a copy engine (the copies of one VA block's migration, run in order on one engine)");
  i("pcie.copy_ns", &c.pcie.copy_ns, 0, 1e9, "ns", "per copy within a push, before its data phase");
  i("pcie.copy_engines", &c.pcie.copy_engines, 1, 64, "engines", "copy engines per direction");
  i("driver.fault_batch_count", &c.driver.fault_batch_count, 1, 1 << 20, "faults",
    "uvm_perf_fault_batch_count");
  i("driver.fault_replay_update_put_ratio", &c.driver.fault_replay_update_put_ratio, 0, 100, "%",
    "uvm_perf_fault_replay_update_put_ratio: with BATCH_FLUSH, the flush re-reads PUT only when more than "
    "this share of the batch were duplicates (else it stops at the PUT of the fetch)");
  i("driver.fault_max_batches_per_service", &c.driver.fault_max_batches_per_service, 1, 1 << 20, "batches",
    "uvm_perf_fault_max_batches_per_service");
  i("driver.fault_max_throttle_per_service", &c.driver.fault_max_throttle_per_service, 1, 1 << 20, "batches",
    "uvm_perf_fault_max_throttle_per_service");
  i("driver.fault_coalesce", &c.driver.fault_coalesce, 0, 1, "", "uvm_perf_fault_coalesce");
  i("driver.isr_latency_ns", &c.driver.isr_latency_ns, 0, 1e9, "ns",
    "from a fault entry to the bottom half running");
  i("driver.wake_idle_ns", &c.driver.wake_idle_ns, 0, 1e12, "ns",
    "a fault that finds the driver idle this long (since its last service ended) waits driver.wake_ns more");
  i("driver.wake_ns", &c.driver.wake_ns, 0, 1e9, "ns",
    "the servicing thread's wake-up from sleep after an idle of driver.wake_idle_ns, beyond isr_latency_ns "
    "(0: none)");
  i("driver.deep_idle_ns", &c.driver.deep_idle_ns, 0, 1e12, "ns",
    "an idle this long wakes with driver.deep_wake_ns instead (the CPU in a deeper idle state)");
  i("driver.deep_wake_ns", &c.driver.deep_wake_ns, 0, 1e9, "ns",
    "the wake-up after an idle of driver.deep_idle_ns, beyond isr_latency_ns (0: as driver.wake_ns)");
  i("driver.batch_fixed_ns", &c.driver.batch_fixed_ns, 0, 1e9, "ns",
    "fixed cost of fetching and preprocessing a batch");
  i("driver.fault_ns", &c.driver.fault_ns, 0, 1e9, "ns",
    "per fault entry fetched, of a page not yet in the batch");
  i("driver.duplicate_fault_ns", &c.driver.duplicate_fault_ns, 0, 1e9, "ns",
    "per fault entry fetched whose page is already in the batch (coalesced, or equal after sorting)");
  i("driver.va_block_ns", &c.driver.va_block_ns, 0, 1e9, "ns", "per VA block serviced in a batch");
  i("driver.migrate_block_ns", &c.driver.migrate_block_ns, 0, 1e9, "ns",
    "per VA block whose fault service migrates or zero-fills pages, beyond va_block_ns: its work after its "
    "copies are pushed (mapping, page state)");
  i("driver.page_ns", &c.driver.page_ns, 0, 1e9, "ns", "per page made resident on the fault path");
  i("driver.pte_ns", &c.driver.pte_ns, 0, 1e9, "ns", "per GPU page-table entry written");
  i("driver.cpu_unmap_page_ns", &c.driver.cpu_unmap_page_ns, 0, 1e9, "ns",
    "per CPU mapping removed on migration");
  i("driver.replay_ns", &c.driver.replay_ns, 0, 1e9, "ns", "issuing a replay and waiting for it");
  i("driver.replay_fetch_ns", &c.driver.replay_fetch_ns, 0, 1e9, "ns",
    "a replay's completion to the next batch's fetch (the driver's wait on the replay returning and its read "
    "of the buffer's PUT): the accesses the replay re-issued that reach the buffer by then are in that "
    "batch");
  i("driver.evict_chunk_ns", &c.driver.evict_chunk_ns, 0, 1e9, "ns",
    "fixed CPU cost of evicting one root chunk");
  i("driver.block_populate_ns", &c.driver.block_populate_ns, 0, 1e9, "ns",
    "CPU cost of a VA block's first residence on the GPU (its chunk allocated: the block's GPU state, the "
    "chunk from the allocator, its page-table pages), before its pages are copied or zeroed");
  i("driver.prefetch_op_block_ns", &c.driver.prefetch_op_block_ns, 0, 1e9, "ns",
    "cudaMemPrefetchAsync: CPU cost per VA block");
  i("driver.prefetch_op_page_ns", &c.driver.prefetch_op_page_ns, 0, 1e9, "ns",
    "cudaMemPrefetchAsync: CPU cost per page migrated");
  i("host.cpu_fault_ns", &c.host.cpu_fault_ns, 0, 1e9, "ns", "CPU fault on a GPU-resident page, fixed part");
  i("host.cpu_fault_page_ns", &c.host.cpu_fault_page_ns, 0, 1e9, "ns", "CPU fault, per page migrated back");
  i("host.first_touch_page_ns", &c.host.first_touch_page_ns, 0, 1e9, "ns",
    "CPU populating a page resident nowhere");
  i("host.touch_page_ns", &c.host.touch_page_ns, 0, 1e9, "ns", "CPU touching a page it holds");
  return f;
}

// Keys that moved: the driver's prefetch and thrashing module parameters are their policies' parameters,
// and policies are chosen by kind with .name and .params (one spelling for every kind).
const std::map<std::string, std::string>& renamed() {
  static const std::map<std::string, std::string> r = {
      {"driver.prefetch_threshold", "policies.prefetch.params.threshold"},
      {"driver.prefetch_min_faults", "policies.prefetch.params.min_faults"},
      {"driver.thrashing_threshold", "policies.thrashing.params.threshold"},
      {"driver.thrashing_pin_threshold", "policies.thrashing.params.pin_threshold"},
      {"driver.thrashing_lapse_usec", "policies.thrashing.params.lapse_usec"},
      {"driver.thrashing_nap", "policies.thrashing.params.nap"},
      {"driver.thrashing_epoch", "policies.thrashing.params.epoch"},
      {"driver.thrashing_pin", "policies.thrashing.params.pin"},
      {"driver.thrashing_max_resets", "policies.thrashing.params.max_resets"},
      {"policy_params", "policies.<kind>.params.<key>"},
  };
  return r;
}

[[noreturn]] void moved(const std::string& origin, const std::string& key, const std::string& to) {
  throw ConfigError(origin + ": config key '" + key + "' is now '" + to + "'");
}

const KindInfo& known_kind(const std::string& origin, const std::string& kind) {
  const KindInfo* k = PolicyCatalog::instance().find(kind);
  if (!k) {
    std::string known;
    for (auto& [n, i] : PolicyCatalog::instance().kinds()) known += (known.empty() ? "" : ", ") + n;
    throw ConfigError(origin + ": unknown config key 'policies." + kind + "' (policy kinds: " + known + ")");
  }
  return *k;
}

double policy_number(const std::string& origin, const std::string& key, const json& v) {
  if (!v.is_number())
    throw ConfigError(origin + ": config key '" + key + "': expected a number, got " + v.dump());
  return v.get<double>();
}

// "policies": {"<kind>": {"name": "...", "params": {"<key>": number}}}
void apply_policies(Config& c, const json& j, const std::string& origin) {
  if (!j.is_object())
    throw ConfigError(origin + ": config key 'policies': expected an object of policy kinds");
  for (auto k = j.begin(); k != j.end(); ++k) {
    const std::string kind = k.key(), key = "policies." + kind;
    known_kind(origin, kind);
    if (k->is_string()) moved(origin, key, key + ".name");
    if (!k->is_object())
      throw ConfigError(origin + ": config key '" + key + "': expected {\"name\": ..., \"params\": {...}}");
    for (auto f = k->begin(); f != k->end(); ++f) {
      if (f.key() == "name") {
        if (!f->is_string()) throw ConfigError(origin + ": config key '" + key + ".name': expected a string");
        c.select(kind, f->get<std::string>());
      } else if (f.key() == "params") {
        if (!f->is_object())
          throw ConfigError(origin + ": config key '" + key + ".params': expected an object");
        for (auto q = f->begin(); q != f->end(); ++q)
          c.policies[kind].params[q.key()] = policy_number(origin, key + ".params." + q.key(), *q);
      } else {
        throw ConfigError(origin + ": unknown config key '" + key + "." + f.key() +
                          "' (a kind has name and params)");
      }
    }
  }
}

Field* find(std::vector<Field>& fs, const std::string& path) {
  for (auto& f : fs)
    if (f.info.path == path) return &f;
  return nullptr;
}

void set_number(Field& f, double v, const std::string& origin) {
  auto bad = [&](const std::string& why) {
    throw ConfigError(origin + ": config key '" + f.info.path + "': " + why);
  };
  if (!std::isfinite(v)) bad("not a finite number");
  if (v < f.info.min || v > f.info.max)
    bad("value " + json(v).dump() + " outside [" + json(f.info.min).dump() + ", " + json(f.info.max).dump() +
        "]");
  if (f.info.type == "int") {
    if (v != std::floor(v)) bad("expected an integer, got " + json(v).dump());
    if (auto p = std::get_if<int64_t*>(&f.target)) **p = static_cast<int64_t>(v);
    if (auto p = std::get_if<uint64_t*>(&f.target)) **p = static_cast<uint64_t>(v);
  } else {
    *std::get<double*>(f.target) = v;
  }
}

void set_value(Field& f, const json& v, const std::string& origin) {
  if (f.info.type == "bool") {
    if (!v.is_boolean())
      throw ConfigError(origin + ": config key '" + f.info.path + "': expected true or false, got " +
                        v.dump());
    *std::get<bool*>(f.target) = v.get<bool>();
    return;
  }
  if (f.info.type == "string") {
    if (!v.is_string()) throw ConfigError(origin + ": config key '" + f.info.path + "': expected a string");
    *std::get<std::string*>(f.target) = v.get<std::string>();
    return;
  }
  if (!v.is_number())
    throw ConfigError(origin + ": config key '" + f.info.path + "': expected a number, got " + v.dump());
  set_number(f, v.get<double>(), origin);
}

void walk(Config& c, std::vector<Field>& fs, const json& j, const std::string& prefix,
          const std::string& origin) {
  for (auto it = j.begin(); it != j.end(); ++it) {
    std::string path = prefix.empty() ? it.key() : prefix + "." + it.key();
    if (auto r = renamed().find(path); r != renamed().end()) moved(origin, path, r->second);
    if (path == "policies") {
      apply_policies(c, *it, origin);
      continue;
    }
    if (Field* f = find(fs, path)) {
      set_value(*f, *it, origin);
    } else if (it->is_object()) {
      bool known_prefix = false;
      for (auto& f2 : fs) known_prefix |= f2.info.path.rfind(path + ".", 0) == 0;
      if (!known_prefix) throw ConfigError(origin + ": unknown config key '" + path + "'");
      walk(c, fs, *it, path, origin);
    } else {
      throw ConfigError(origin + ": unknown config key '" + path + "'");
    }
  }
}

}  // namespace

std::vector<KeyInfo> config_schema() {
  Config c;
  std::vector<KeyInfo> out;
  for (auto& f : fields(c)) {
    out.push_back(f.info);
    std::visit([&](auto* p) { out.back().default_value = json(*p).dump(); }, f.target);
  }
  for (auto& [kind, k] : PolicyCatalog::instance().kinds()) {
    out.push_back({"policies." + kind + ".name", "string", "",
                   k.description + " (policies: " + k.names() + ")", 0, 0, json(k.default_policy).dump()});
    for (auto& [name, p] : k.policies)
      for (auto& q : p.params)
        out.push_back(
            {"policies." + kind + ".params." + q.name, q.type == ParamType::kInt ? "int" : "float", q.unit,
             "(" + name + ") " + q.description, q.min, q.max,
             (q.type == ParamType::kInt ? json(int64_t(q.default_value)) : json(q.default_value)).dump()});
  }
  return out;
}

void apply_json(Config& c, const json& j, const std::string& origin) {
  if (!j.is_object()) throw ConfigError(origin + ": a config must be a JSON object");
  auto fs = fields(c);
  walk(c, fs, j, "", origin);
}

void apply_override(Config& c, const std::string& assignment) {
  auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) throw ConfigError("--set '" + assignment + "': expected key=value");
  std::string key = assignment.substr(0, eq), value = assignment.substr(eq + 1);
  std::string origin = "--set " + assignment;
  if (key.rfind("policy_params.", 0) == 0) moved(origin, key, "policies.<kind>.params.<key>");
  if (auto r = renamed().find(key); r != renamed().end()) moved(origin, key, r->second);
  if (key.rfind("policies.", 0) == 0) {
    const std::string rest = key.substr(9);
    const auto dot = rest.find('.');
    const std::string kind = rest.substr(0, dot);
    known_kind(origin, kind);
    if (dot == std::string::npos) moved(origin, key, key + ".name");
    const std::string field = rest.substr(dot + 1);
    if (field == "name") {
      c.select(kind, value);
    } else if (field.rfind("params.", 0) == 0 && field.size() > 7) {
      json v;
      try {
        v = json::parse(value);
      } catch (const json::exception&) {
        throw ConfigError(origin + ": config key '" + key + "': expected a number, got '" + value + "'");
      }
      c.policies[kind].params[field.substr(7)] = policy_number(origin, key, v);
    } else {
      throw ConfigError(origin + ": unknown config key '" + key +
                        "' (policies.<kind>.name or policies.<kind>.params.<key>)");
    }
    return;
  }
  auto fs = fields(c);
  Field* f = find(fs, key);
  if (!f) throw ConfigError(origin + ": unknown config key '" + key + "'");
  if (f->info.type == "string") {
    *std::get<std::string*>(f->target) = value;
    return;
  }
  json v;
  try {
    v = json::parse(value);
  } catch (const json::exception&) {
    throw ConfigError(origin + ": config key '" + key + "': expected " +
                      (f->info.type == "bool" ? "true or false" : "a number") + ", got '" + value + "'");
  }
  set_value(*f, v, origin);
}

Config load_config(const std::string& file, const std::vector<std::string>& overrides) {
  Config c;
  if (!file.empty()) {
    std::vector<uint8_t> text;
    try {
      text = files::read_regular_file(file, 64 << 20);
    } catch (const files::FileError& e) {
      throw ConfigError(std::string("config ") + e.what());
    }
    json j;
    try {
      j = json::parse(text.begin(), text.end());
    } catch (const json::parse_error& e) {
      throw ConfigError(file + ": invalid JSON at byte " + std::to_string(e.byte) + ": " + e.what());
    }
    apply_json(c, j, file);
  }
  for (auto& o : overrides) apply_override(c, o);
  check_config(c);
  return c;
}

void check_config(const Config& c) {
  for (auto& [kind, choice] : c.policies) {
    const KindInfo& k = known_kind("config", kind);
    const std::string name = c.policy(kind);
    const PolicyInfo* p = k.find(name);
    if (!p)
      throw ConfigError("config key 'policies." + kind + ".name': unknown policy '" + name +
                        "' (known: " + k.names() + ")");
    try {
      PolicyParams("policies." + kind + ".params.", p->params, choice.params);
    } catch (const std::invalid_argument& e) {
      throw ConfigError(std::string(e.what()) + " (policy '" + name +
                        "'; uvmsim policies lists its parameters)");
    }
  }
  const GpuConfig& g = c.gpu;
  if (g.timeslice_ns > 0 && g.timeslice_ns < g.context_switch_ns + g.preempt_ns)
    throw ConfigError("config key 'gpu.timeslice_ns': a turn of " + std::to_string(g.timeslice_ns) +
                      " ns is shorter than a context switch (gpu.context_switch_ns + gpu.preempt_ns = " +
                      std::to_string(g.context_switch_ns + g.preempt_ns) +
                      " ns): processes would spend their turns switching (0 shares the SMs, as MPS does)");
}

json to_json(const Config& cin) {
  Config c = cin;
  json j = json::object();
  for (auto& f : fields(c)) {
    json* node = &j;
    std::string path = f.info.path;
    size_t start = 0, dot;
    while ((dot = path.find('.', start)) != std::string::npos) {
      node = &(*node)[path.substr(start, dot - start)];
      start = dot + 1;
    }
    std::string leaf = path.substr(start);
    std::visit([&](auto* p) { (*node)[leaf] = *p; }, f.target);
  }
  j["policies"] = json::object();
  for (auto& [kind, k] : PolicyCatalog::instance().kinds()) {
    const std::string name = c.policy(kind);
    json& node = j["policies"][kind];
    node["name"] = name;
    node["params"] = json::object();
    if (const PolicyInfo* p = k.find(name)) {
      const PolicyParams values("", p->params, c.policy_params(kind));
      for (auto& q : p->params)
        node["params"][q.name] =
            q.type == ParamType::kInt ? json(values.get_int(q.name)) : json(values.get(q.name));
    }
  }
  return j;
}

std::string Config::policy(const std::string& kind) const {
  auto it = policies.find(kind);
  if (it != policies.end() && !it->second.name.empty()) return it->second.name;
  const KindInfo* k = PolicyCatalog::instance().find(kind);
  return k ? k->default_policy : std::string();
}

void Config::select(const std::string& kind, const std::string& name) {
  PolicyChoice& c = policies[kind];
  if (policy(kind) != name) c.params.clear();
  c.name = name;
}

const std::map<std::string, double>& Config::policy_params(const std::string& kind) const {
  static const std::map<std::string, double> kNone;
  auto it = policies.find(kind);
  return it == policies.end() ? kNone : it->second.params;
}

}  // namespace uvmsim
