#include "sim/stats/stats.h"

#include <bit>
#include <functional>
#include <nlohmann/json.hpp>

namespace uvmsim {

using json = nlohmann::json;

void Distribution::add(uint64_t v) {
  ++count;
  sum += v;
  if (v > max) max = v;
  size_t bin = v == 0 ? 0 : size_t(std::bit_width(v));
  if (bins.size() <= bin) bins.resize(bin + 1, 0);
  ++bins[bin];
}

namespace {

struct Scalar {
  StatInfo info;
  std::function<json(const Stats&)> value;
};

const char* kCauseNames[kCauseCount] = {"user", "coherence", "prefetch", "eviction"};

std::vector<Scalar> scalars() {
  std::vector<Scalar> v;
  auto add = [&](const char* n, const char* u, const char* d, std::function<json(const Stats&)> f) {
    v.push_back({{n, u, d}, std::move(f)});
  };
#define UVMSIM_STAT(member, unit, desc) \
  add(#member, unit, desc, [](const Stats& s) { return json(s.member); })
  UVMSIM_STAT(sim_time_ns, "ns", "simulated time at the end of the run");
  UVMSIM_STAT(events, "events", "events the engine processed");
  UVMSIM_STAT(longest_stall_events, "events",
              "most events in a row with no CTA, access group or op completing (the guard stops a run at "
              "engine.max_events_without_progress)");
  UVMSIM_STAT(resident_launches, "launches",
              "kernel launches whose pages were all mapped at launch, run on the engine's resident-kernel "
              "shortcut (engine.resident_shortcut)");
  UVMSIM_STAT(resident_launches_dropped, "launches",
              "of those, launches a lost mapping (an eviction) took off the shortcut while they ran");
  UVMSIM_STAT(page_accesses, "pages", "page accesses of CTAs completed (each range page once per touch)");
  UVMSIM_STAT(accesses_issued, "pages", "page accesses issued, re-issues after replays included");
  UVMSIM_STAT(faults_raised, "faults", "fault entries written to the fault buffer");
  UVMSIM_STAT(faults_not_entered, "faults", "faulting accesses held back by a full buffer or uTLB cap");
  UVMSIM_STAT(faults_fetched, "faults", "raw fault entries the driver fetched");
  UVMSIM_STAT(faults_coalesced, "faults", "entries merged by coalescing");
  UVMSIM_STAT(faults_unique, "faults", "distinct pages serviced by the driver");
  UVMSIM_STAT(faults_stale, "faults", "serviced pages that were already accessible");
  UVMSIM_STAT(faults_flushed, "faults", "entries discarded by a replay flush");
  UVMSIM_STAT(faults_throttled, "faults", "faults skipped by the thrashing throttle");
  UVMSIM_STAT(batches, "batches", "fault batches serviced");
  UVMSIM_STAT(service_calls, "calls", "bottom-half runs (interrupts serviced)");
  UVMSIM_STAT(driver_wakes, "calls", "of them, runs that found the driver asleep (driver.wake_ns)");
  UVMSIM_STAT(driver_deep_wakes, "calls",
              "of them, runs that found it asleep for long (driver.deep_wake_ns)");
  UVMSIM_STAT(replays, "replays", "replays issued");
  UVMSIM_STAT(reissues, "CTAs",
              "CTAs that re-issued at once on stalling: every fault they raised had been replayed while they "
              "were still issuing (paused by the fault jitter or switched out)");
  UVMSIM_STAT(context_switches, "switches",
              "the GPU handed from one process's CTAs to another's (time-slicing)");
  UVMSIM_STAT(ctas_beside_other_kernels, "CTAs",
              "CTAs that started on an SM holding another kernel's CTAs (co-running kernels sharing SMs; "
              "gpu.dispatch_by_tpc)");
  UVMSIM_STAT(bytes_zero_filled, "bytes", "GPU pages populated by zero-fill (no copy)");
  UVMSIM_STAT(htod_copies, "copies", "HtoD migration copies, one per contiguous run of pages of one cause");
  UVMSIM_STAT(htod_copy_groups, "groups",
              "runs of HtoD migration copies with no gap over 5 us (about one per batch)");
  UVMSIM_STAT(bytes_freed_on_gpu, "bytes", "GPU-resident bytes released by frees");
  UVMSIM_STAT(pages_faulted_in, "pages", "faulted pages made resident on the GPU");
  UVMSIM_STAT(pages_prefetched, "pages", "pages made resident on the GPU by the prefetch policy");
  UVMSIM_STAT(chunks_allocated, "chunks", "2 MiB root chunks allocated to VA blocks");
  UVMSIM_STAT(chunks_evicted, "chunks", "root chunks evicted");
  UVMSIM_STAT(pages_evicted, "pages", "resident pages copied out by eviction");
  UVMSIM_STAT(thrashing_pages, "pages", "pages marked thrashing");
  UVMSIM_STAT(throttles, "throttles", "THROTTLE hints given");
  UVMSIM_STAT(pins, "pins", "PIN hints given");
  UVMSIM_STAT(remote_maps, "pages", "pages mapped remotely instead of migrated");
  UVMSIM_STAT(cpu_faults, "faults", "CPU faults on GPU-resident pages");
  UVMSIM_STAT(cpu_fault_pages, "pages", "pages migrated back by CPU faults");
  UVMSIM_STAT(tlb_misses, "misses", "TLB misses on resident pages (TLB model on)");
  UVMSIM_STAT(gpu_capacity_bytes, "bytes", "GPU memory available to managed data");
  UVMSIM_STAT(footprint_bytes, "bytes", "distinct 4 KiB pages the workload touches");
#undef UVMSIM_STAT
  add("sm_utilisation", "fraction", "time-averaged share of SMs holding a CTA", [](const Stats& s) {
    return json(s.sim_time_ns > 0 && s.sm_count
                    ? double(s.sm_busy_ns) / double(s.sim_time_ns) / double(s.sm_count)
                    : 0.0);
  });
  add("pcie_htod_utilisation", "fraction", "share of time the HtoD link moved data", [](const Stats& s) {
    return json(s.sim_time_ns > 0 ? double(s.pcie_busy_ns[0]) / double(s.sim_time_ns) : 0.0);
  });
  add("pcie_dtoh_utilisation", "fraction", "share of time the DtoH link moved data", [](const Stats& s) {
    return json(s.sim_time_ns > 0 ? double(s.pcie_busy_ns[1]) / double(s.sim_time_ns) : 0.0);
  });
  return v;
}

// Each field of a tenant's record: its name, unit and meaning (stats-schema) and its value (stats.json).
struct TenantField {
  StatInfo info;
  std::function<json(const TenantRecord&)> value;
};

const std::vector<TenantField>& tenant_fields() {
#define UVMSIM_TENANT(member, unit, desc)                                       \
  TenantField {                                                                 \
    {#member, unit, desc}, [](const TenantRecord& t) { return json(t.member); } \
  }
  static const std::vector<TenantField> fields = {
      UVMSIM_TENANT(name, "", "each tenant of the trace (one unnamed tenant if it has none): its name"),
      UVMSIM_TENANT(model, "", "the model it runs"),
      UVMSIM_TENANT(process, "", "the process (address space) it lives in"),
      UVMSIM_TENANT(kernels, "kernels", "its kernel launches"),
      UVMSIM_TENANT(ctas, "CTAs", "its kernels' CTAs"),
      UVMSIM_TENANT(first_start_ns, "ns", "when its first kernel started (-1: none ran)"),
      UVMSIM_TENANT(last_end_ns, "ns", "when its last kernel ended (-1: none ran)"),
      UVMSIM_TENANT(kernel_ns, "ns", "time with at least one of its kernels running"),
      UVMSIM_TENANT(faults, "faults", "faulting accesses its CTAs raised (re-issues included)"),
      UVMSIM_TENANT(batches, "batches", "fault batches that held at least one of its entries"),
      UVMSIM_TENANT(bytes_in, "bytes", "its pages copied host to device, every cause"),
      UVMSIM_TENANT(bytes_out, "bytes", "its pages copied device to host, every cause"),
      UVMSIM_TENANT(chunks_evicted_from, "chunks",
                    "its 2 MiB chunks evicted (a chunk's tenant: that of its lowest resident page)"),
      UVMSIM_TENANT(chunks_evicted_by, "chunks", "chunks evicted to make room for its pages"),
      UVMSIM_TENANT(
          refaults, "pages",
          "its pages that faulted again within stats.refault_window_ns after an eviction took them"),
  };
#undef UVMSIM_TENANT
  return fields;
}

json dist(const Distribution& d) {
  return json{{"count", d.count}, {"sum", d.sum}, {"mean", d.mean()}, {"max", d.max}, {"log2_bins", d.bins}};
}

}  // namespace

std::vector<StatInfo> describe_stats() {
  std::vector<StatInfo> out;
  for (auto& s : scalars()) out.push_back(s.info);
  const char* dist =
      " (a distribution: count, sum, mean, max, log2_bins: bin 0 holds 0, bin i [2^(i-1), 2^i))";
  out.push_back({"faults_per_batch", "faults", std::string("raw fault entries per batch") + dist});
  out.push_back({"unique_faults_per_batch", "faults", std::string("distinct pages per batch") + dist});
  out.push_back({"va_blocks_per_batch", "blocks", std::string("2 MiB VA blocks serviced per batch") + dist});
  out.push_back({"batch_ns", "ns", std::string("duration of a batch from fetch to replay") + dist});
  out.push_back({"bytes_htod.<cause>", "bytes", "host-to-device bytes by cause: user, coherence, prefetch"});
  out.push_back(
      {"bytes_dtoh.<cause>", "bytes", "device-to-host bytes by cause: user, coherence, prefetch, eviction"});
  out.push_back({"kernels[].name", "", "each kernel in trace order: its name"});
  out.push_back({"kernels[].tenant", "", "the tenant (model instance) that launched it"});
  out.push_back({"kernels[].stream", "", "its stream"});
  out.push_back({"kernels[].start_ns", "ns", "when its first CTA started"});
  out.push_back({"kernels[].end_ns", "ns", "when its last CTA ended"});
  out.push_back({"kernels[].ctas", "CTAs", "its CTAs"});
  out.push_back({"kernels[].faults", "faults", "faulting accesses its CTAs raised (re-issues included)"});
  for (auto& f : tenant_fields())
    out.push_back({std::string("tenants[].") + f.info.name, f.info.unit, f.info.description});
  out.push_back({"ops[].kind", "", "each op of the trace in order: kernel, host_access, prefetch, ..."});
  out.push_back({"ops[].stream", "", "its stream"});
  out.push_back({"ops[].start_ns", "ns", "when it started (-1: never)"});
  out.push_back({"ops[].end_ns", "ns", "when it completed (-1: never)"});
  return out;
}

uint64_t htod_bytes(const Stats& s) {
  uint64_t b = 0;
  for (int c = 0; c < kCauseCount; ++c) b += s.bytes_htod[c];
  return b;
}

uint64_t dtoh_bytes(const Stats& s) {
  uint64_t b = 0;
  for (int c = 0; c < kCauseCount; ++c) b += s.bytes_dtoh[c];
  return b;
}

double prefetch_share_pct(const Stats& s) {
  const double all = double(s.bytes_htod[kCausePrefetch] + s.bytes_htod[kCauseCoherence]);
  return all > 0 ? 100.0 * double(s.bytes_htod[kCausePrefetch]) / all : 0.0;
}

json stats_to_json(const Stats& s) {
  json j = json::object();
  for (auto& sc : scalars()) j[sc.info.name] = sc.value(s);
  j["faults_per_batch"] = dist(s.faults_per_batch);
  j["unique_faults_per_batch"] = dist(s.unique_faults_per_batch);
  j["va_blocks_per_batch"] = dist(s.va_blocks_per_batch);
  j["batch_ns"] = dist(s.batch_ns);
  for (int c = 0; c < kCauseCount; ++c) {
    j["bytes_htod"][kCauseNames[c]] = s.bytes_htod[c];
    j["bytes_dtoh"][kCauseNames[c]] = s.bytes_dtoh[c];
  }
  json ks = json::array();
  for (auto& k : s.kernels)
    ks.push_back({{"name", k.name},
                  {"tenant", k.tenant},
                  {"stream", k.stream},
                  {"start_ns", k.start_ns},
                  {"end_ns", k.end_ns},
                  {"ctas", k.ctas},
                  {"faults", k.faults}});
  j["kernels"] = ks;
  json os = json::array();
  for (auto& o : s.ops)
    os.push_back({{"kind", o.kind}, {"stream", o.stream}, {"start_ns", o.start_ns}, {"end_ns", o.end_ns}});
  j["ops"] = os;
  json ts = json::array();
  for (auto& t : s.tenants) {
    json r = json::object();
    for (auto& f : tenant_fields()) r[f.info.name] = f.value(t);
    ts.push_back(std::move(r));
  }
  j["tenants"] = ts;
  return j;
}

}  // namespace uvmsim
