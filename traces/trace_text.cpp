// Human-readable views of a trace: info (summary), dump (every record) and CSV export.
#include <algorithm>
#include <cstdio>

#include "traces/coverage.h"
#include "traces/driver_batches.h"
#include "traces/trace_io.h"

namespace uvmsim::trace {

const char* to_string(OpKind k) {
  static const char* n[] = {"kernel", "host_access", "prefetch", "advise",       "free",
                            "sync",   "memcpy",      "memset",   "event_record", "event_wait"};
  return n[static_cast<int>(k)];
}
const char* to_string(AccessKind k) {
  static const char* n[] = {"read", "write", "atomic"};
  return n[static_cast<int>(k)];
}
const char* to_string(AllocKind k) {
  static const char* n[] = {"managed", "device", "pinned_host"};
  return n[static_cast<int>(k)];
}
const char* to_string(AllocRole k) {
  static const char* n[] = {"weight", "activation", "input", "output", "workspace", "other"};
  return n[static_cast<int>(k)];
}
const char* to_string(ObservedKind k) {
  static const char* n[] = {"gpu_fault",  "htod",       "dtoh",      "thrashing",
                            "throttling", "remote_map", "cpu_fault", "kernel_exec"};
  return n[static_cast<int>(k)];
}
const char* to_string(PassKind k) {
  static const char* n[] = {"timing", "counters", "access_capture", "resident", "generated", "driver_events"};
  return n[static_cast<int>(k)];
}
const char* to_string(DriverEventKind k) {
  static const char* n[] = {"fault_entry",
                            "replay",
                            "migration",
                            "eviction",
                            "thrashing",
                            "throttle_start",
                            "throttle_end",
                            "buffer_overflow",
                            "fatal_fault",
                            "cpu_fault",
                            "map_remote",
                            "read_duplicate",
                            "read_duplicate_invalidate"};
  return n[static_cast<int>(k)];
}
const char* to_string(Producer k) { return k == Producer::kTracer ? "tracer" : "generator"; }

namespace {
// A tenant's GPU footprint: the distinct pages its kernels touch, in weight allocations and in the others
// (activations, inputs, outputs, workspace), and the peak of its live pages, a page being live from the
// first kernel that touches it to the last (in launch order): what the tenant needs resident at once if
// every tensor were freed after its last use.
struct Footprint {
  uint64_t weight = 0, activation = 0, peak = 0;  // pages
};

std::vector<Footprint> footprints(const Trace& t) {
  std::vector<Footprint> out(t.tenants.size());
  // Per tenant, per launch (in op order): the disjoint page intervals the kernel touches.
  struct Span {
    uint64_t begin, end;  // pages [begin, end)
    uint64_t seq;
  };
  std::vector<std::vector<Span>> spans(t.tenants.size());
  std::vector<uint64_t> seq(t.tenants.size(), 0);
  std::vector<std::pair<uint64_t, uint64_t>> iv;
  for (const Op& o : t.ops) {
    if (o.kind != OpKind::kKernel) continue;
    const Kernel& k = t.kernels[o.a];
    iv.clear();
    for (uint64_t c = k.cta_begin; c < k.cta_begin + k.cta_count; ++c)
      for (uint64_t r = t.ctas[c].range_begin; r < t.ctas[c].range_begin + t.ctas[c].range_count; ++r)
        iv.emplace_back(t.ranges[r].page, t.ranges[r].page + t.ranges[r].count);
    std::sort(iv.begin(), iv.end());
    const uint64_t s = seq[k.tenant]++;
    for (auto [a, b] : iv) {
      auto& v = spans[k.tenant];
      if (!v.empty() && v.back().seq == s && a <= v.back().end)
        v.back().end = std::max(v.back().end, b);
      else
        v.push_back({a, b, s});
    }
  }
  for (size_t ti = 0; ti < t.tenants.size(); ++ti) {
    const auto& v = spans[ti];
    if (v.empty()) continue;
    // Elementary segments between all interval ends; each segment's first and last use.
    std::vector<uint64_t> cuts;
    for (const Span& x : v) cuts.push_back(x.begin), cuts.push_back(x.end);
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    const size_t n = cuts.size() - 1;
    std::vector<uint64_t> first(n, UINT64_MAX), last(n, 0);
    for (const Span& x : v) {
      for (size_t i = size_t(std::lower_bound(cuts.begin(), cuts.end(), x.begin) - cuts.begin());
           i < n && cuts[i] < x.end; ++i)
        first[i] = std::min(first[i], x.seq), last[i] = std::max(last[i], x.seq);
    }
    // Weight pages: segments inside the tenant's weight allocations.
    std::vector<std::pair<uint64_t, uint64_t>> weights;
    for (const Allocation& a : t.allocations)
      if (a.tenant == ti && a.role == AllocRole::kWeight)
        weights.emplace_back(a.va >> kPageShift, ((a.va + a.bytes - 1) >> kPageShift) + 1);
    std::sort(weights.begin(), weights.end());
    std::vector<int64_t> delta(seq[ti] + 1, 0);
    for (size_t i = 0; i < n; ++i) {
      if (first[i] == UINT64_MAX) continue;
      const uint64_t a = cuts[i], b = cuts[i + 1];
      uint64_t in_weights = 0;
      auto it = std::upper_bound(weights.begin(), weights.end(), std::pair(a, UINT64_MAX));
      if (it != weights.begin()) --it;
      for (; it != weights.end() && it->first < b; ++it)
        if (it->second > a) in_weights += std::min(b, it->second) - std::max(a, it->first);
      out[ti].weight += in_weights;
      out[ti].activation += (b - a) - in_weights;
      delta[first[i]] += int64_t(b - a);
      delta[last[i] + 1] -= int64_t(b - a);
    }
    int64_t live = 0;
    for (int64_t d : delta) out[ti].peak = std::max<uint64_t>(out[ti].peak, uint64_t(live += d));
  }
  return out;
}
}  // namespace

void print_info(const Trace& t, const std::string& hash, std::ostream& os) {
  const Header& h = t.header;
  os << "format        uvmt v" << t.header.format_version << "  content hash " << hash << "\n";
  os << "producer      " << to_string(h.producer) << " " << h.producer_version << "\n";
  if (!h.command.empty()) os << "command       " << h.command << "\n";
  os << "device        " << h.device_name << ", " << h.sm_count << " SMs, " << (h.device_memory_bytes >> 20)
     << " MiB\n";
  os << "accesses      " << ((h.flags & kHeaderFlagSampled) ? "sampled" : "exact") << "\n";
  os << "driver params";
  // traces converted before 2026-12-05 list each parameter twice: print it once
  for (size_t i = 0; i < h.driver_params.size(); ++i)
    if (i == 0 || h.driver_params[i] != h.driver_params[i - 1])
      os << " " << h.driver_params[i].first << "=" << h.driver_params[i].second;
  os << "\n";
  os << "tenants " << t.tenants.size() << ", allocations " << t.allocations.size() << ", ops " << t.ops.size()
     << ", kernels " << t.kernels.size() << ", CTAs " << t.ctas.size() << ", ranges " << t.ranges.size()
     << ", observed events " << t.observed.size() << ", requests " << t.requests.size() << ", NVTX ranges "
     << t.nvtx.size() << ", driver runs " << t.driver_runs.size() << " with " << t.driver_events.size()
     << " events\n";
  uint64_t alloc_bytes = 0;
  for (auto& a : t.allocations) alloc_bytes += a.bytes;
  const auto fp = footprints(t);
  uint64_t total = 0;
  for (size_t i = 0; i < t.tenants.size(); ++i) {
    uint64_t by_role[6] = {};
    for (auto& a : t.allocations)
      if (a.tenant == i) by_role[static_cast<int>(a.role)] += a.bytes;
    os << "tenant " << i << "  " << t.tenants[i].name << " (model " << t.tenants[i].model << ", batch "
       << t.tenants[i].batch << ", process " << t.tenants[i].process << "): GPU footprint "
       << (fp[i].weight + fp[i].activation) * kPageBytes << " bytes (weight " << fp[i].weight * kPageBytes
       << ", activation " << fp[i].activation * kPageBytes << ", peak live " << fp[i].peak * kPageBytes
       << "); allocated";
    for (int r = 0; r < 6; ++r)
      if (by_role[r]) os << " " << to_string(static_cast<AllocRole>(r)) << "=" << by_role[r];
    os << "\n";
    total += fp[i].weight + fp[i].activation;
  }
  os << "allocated bytes " << alloc_bytes << ", GPU footprint " << total * kPageBytes << " bytes\n";
  for (auto& p : t.passes)
    os << "pass          " << to_string(p.kind) << " " << p.wall_ns << " ns " << p.note << "\n";
  const CounterCoverage coverage = t.completeness.empty() ? CounterCoverage{} : counter_coverage(t);
  auto cover = [&](ObservedKind stream) {
    if (stream != ObservedKind::kHtoD && stream != ObservedKind::kDtoH) return std::string("-");
    const StreamCoverage& v = coverage.of(stream);
    char b[96];
    std::snprintf(
        b, sizeof b, "%llu of %llu pages (%.3f%%)", static_cast<unsigned long long>(v.covered_pages),
        static_cast<unsigned long long>(v.expected_pages), v.expected_pages ? 100.0 * v.share() : 0.0);
    return std::string(b);
  };
  for (auto& c : t.completeness)
    os << "completeness  " << to_string(c.stream) << " " << c.recorded << " of " << c.expected << " bytes ("
       << (c.expected ? 100.0 * double(c.recorded) / double(c.expected) : 0.0) << "%), dropped "
       << c.dropped_records << "; expected moves recorded " << cover(c.stream) << "\n";
  // The driver's own batches, per events run (DRVE).
  const std::vector<DriverRunBatches> runs = driver_batches(t);
  std::vector<std::array<uint64_t, kDriverEventKindCount>> kinds(runs.size());  // events by run and kind
  std::vector<uint64_t> migrated_bytes(runs.size(), 0);
  for (const DriverEvent& e : t.driver_events) {
    ++kinds[e.run][size_t(e.kind)];
    if (e.kind == DriverEventKind::kMigration) migrated_bytes[e.run] += e.bytes;
  }
  for (size_t r = 0; r < runs.size(); ++r) {
    const auto& n = kinds[r];
    const uint64_t migrated = migrated_bytes[r];
    std::vector<double> entries, blocks, ms;
    for (const DriverBatch& b : runs[r].batches) {
      entries.push_back(double(b.entries));
      blocks.push_back(double(b.blocks));
      if (b.duration_ns() >= 0) ms.push_back(double(b.duration_ns()) / 1e6);
    }
    char b[320];
    std::snprintf(
        b, sizeof b,
        "driver run    %zu: %llu batches, fault entries per batch median %.0f p90 %.0f, VA blocks per "
        "batch median %.0f p90 %.0f, batch median %.3f ms; %llu replays, %llu migrations of %llu bytes, "
        "%llu evictions",
        r, static_cast<unsigned long long>(runs[r].batches.size()), quantile(entries, 0.5),
        quantile(entries, 0.9), quantile(blocks, 0.5), quantile(blocks, 0.9), quantile(ms, 0.5),
        static_cast<unsigned long long>(n[size_t(DriverEventKind::kReplay)]),
        static_cast<unsigned long long>(n[size_t(DriverEventKind::kMigration)]),
        static_cast<unsigned long long>(migrated),
        static_cast<unsigned long long>(n[size_t(DriverEventKind::kEviction)]));
    os << b;
    uint64_t dropped = 0;
    for (size_t k = 0; k < kDriverEventKindCount; ++k)
      if (t.driver_runs[r].dropped[k]) {
        os << (dropped ? ", " : "; dropped ") << t.driver_runs[r].dropped[k] << " "
           << to_string(static_cast<DriverEventKind>(k));
        dropped += t.driver_runs[r].dropped[k];
      }
    os << (dropped ? " (incomplete)" : "; none dropped") << "; " << t.driver_runs[r].note << "\n";
  }
}

void print_dump(const Trace& t, std::ostream& os, uint64_t max_ranges_per_cta) {
  print_info(t, "-", os);
  const std::vector<uint64_t> tmpl = template_of(t);
  for (size_t i = 0; i < t.allocations.size(); ++i) {
    auto& a = t.allocations[i];
    os << "alloc " << i << " tenant=" << a.tenant << " kind=" << to_string(a.kind)
       << " role=" << to_string(a.role) << " va=0x" << std::hex << a.va << std::dec << " bytes=" << a.bytes
       << " alloc_ns=" << a.alloc_ns << " free_ns=" << a.free_ns << " name=" << a.name << "\n";
  }
  for (size_t i = 0; i < t.ops.size(); ++i) {
    auto& o = t.ops[i];
    os << "op " << i << " " << to_string(o.kind) << " stream=" << o.stream << " tenant=" << o.tenant;
    if (o.kind == OpKind::kKernel) {
      auto& k = t.kernels[o.a];
      os << " kernel=" << o.a << " name=" << k.name << " grid=" << k.grid[0] << "x" << k.grid[1] << "x"
         << k.grid[2] << " block=" << k.block[0] << "x" << k.block[1] << "x" << k.block[2]
         << " regs=" << k.regs_per_thread << " smem=" << k.smem_bytes << " resident_ns=" << k.resident_ns;
      if (k.read_lines || k.write_lines) os << " lines=" << int(k.read_lines) << "/" << int(k.write_lines);
      os << "\n";
      if (tmpl[o.a] != o.a) {
        os << "  CTAs of kernel " << tmpl[o.a] << " (the template it launches)\n";
        continue;
      }
      for (uint64_t c = 0; c < k.cta_count; ++c) {
        auto& cta = t.ctas[k.cta_begin + c];
        os << "  cta " << c << ":";
        for (uint64_t r = 0; r < cta.range_count && r < max_ranges_per_cta; ++r) {
          auto& g = t.ranges[cta.range_begin + r];
          os << " [0x" << std::hex << (g.page << kPageShift) << std::dec << "+" << g.count << "p "
             << to_string(g.kind)[0] << " " << g.t_begin << "-" << g.t_end << "]";
        }
        if (cta.range_count > max_ranges_per_cta) os << " ... (" << cta.range_count << " ranges)";
        os << "\n";
      }
      continue;
    }
    os << " access=" << to_string(o.access) << " device=" << o.device << " a=0x" << std::hex << o.a
       << std::dec << " b=" << o.b << " c=" << o.c << " host_ns=" << o.host_ns << " gap_ns=" << o.host_gap_ns
       << "\n";
  }
  for (auto& e : t.observed)
    os << "observed " << to_string(e.kind) << " flags=" << int(e.flags) << " start=" << e.start_ns
       << " end=" << e.end_ns << " addr=0x" << std::hex << e.address << std::dec << " value=" << e.value
       << "\n";
  for (auto& q : t.requests) {
    os << "request tenant=" << q.tenant << " arrival_ns=" << q.arrival_ns;
    if (q.start_ns >= 0)
      os << " start_ns=" << q.start_ns << " end_ns=" << q.end_ns << " batch=" << q.batch
         << " batch_size=" << q.batch_size;
    os << "\n";
  }
  for (auto& n : t.nvtx)
    os << "nvtx " << n.name << " stream=" << n.stream << " " << n.start_ns << "-" << n.end_ns << "\n";
}

void export_csv(const Trace& t, const std::function<std::ostream&(const char* name)>& open) {
  const std::vector<uint64_t> tmpl = template_of(t);
  {
    auto& f = open("tenants.csv");
    f << "tenant,name,model,batch,process\n";
    for (size_t i = 0; i < t.tenants.size(); ++i)
      f << i << "," << t.tenants[i].name << "," << t.tenants[i].model << "," << t.tenants[i].batch << ","
        << t.tenants[i].process << "\n";
  }
  {
    auto& f = open("allocations.csv");
    f << "allocation,tenant,kind,role,va,bytes,alloc_ns,free_ns,name\n";
    for (size_t i = 0; i < t.allocations.size(); ++i) {
      auto& a = t.allocations[i];
      f << i << "," << a.tenant << "," << to_string(a.kind) << "," << to_string(a.role) << "," << a.va << ","
        << a.bytes << "," << a.alloc_ns << "," << a.free_ns << "," << a.name << "\n";
    }
  }
  {
    auto& f = open("ops.csv");
    f << "op,kind,stream,tenant,access,device,a,b,c,host_ns,host_gap_ns\n";
    for (size_t i = 0; i < t.ops.size(); ++i) {
      auto& o = t.ops[i];
      f << i << "," << to_string(o.kind) << "," << o.stream << "," << o.tenant << "," << to_string(o.access)
        << "," << o.device << "," << o.a << "," << o.b << "," << o.c << "," << o.host_ns << ","
        << o.host_gap_ns << "\n";
    }
  }
  {
    auto& f = open("kernels.csv");
    f << "kernel,tenant,stream,layer,name,grid_x,grid_y,grid_z,block_x,block_y,block_z,regs,smem,resident_ns,"
         "ctas,template,read_lines,write_lines\n";
    for (size_t i = 0; i < t.kernels.size(); ++i) {
      auto& k = t.kernels[i];
      f << i << "," << k.tenant << "," << k.stream << "," << k.layer << ",\"" << k.name << "\"," << k.grid[0]
        << "," << k.grid[1] << "," << k.grid[2] << "," << k.block[0] << "," << k.block[1] << "," << k.block[2]
        << "," << k.regs_per_thread << "," << k.smem_bytes << "," << k.resident_ns << "," << k.cta_count
        << "," << tmpl[i] << "," << int(k.read_lines) << "," << int(k.write_lines) << "\n";
    }
  }
  {
    auto& f = open("ranges.csv");
    f << "kernel,cta,order,va,pages,kind,t_begin,t_end\n";  // templates only (kernels.csv: template)
    for (size_t i = 0; i < t.kernels.size(); ++i) {
      auto& k = t.kernels[i];
      if (tmpl[i] != i) continue;
      for (uint64_t c = 0; c < k.cta_count; ++c) {
        auto& cta = t.ctas[k.cta_begin + c];
        for (uint32_t r = 0; r < cta.range_count; ++r) {
          auto& g = t.ranges[cta.range_begin + r];
          f << i << "," << c << "," << r << "," << (g.page << kPageShift) << "," << g.count << ","
            << to_string(g.kind) << "," << g.t_begin / double(kIntervalScale) << ","
            << g.t_end / double(kIntervalScale) << "\n";
        }
      }
    }
  }
  {
    auto& f = open("observed.csv");
    f << "kind,flags,start_ns,end_ns,address,value\n";
    for (auto& e : t.observed)
      f << to_string(e.kind) << "," << int(e.flags) << "," << e.start_ns << "," << e.end_ns << ","
        << e.address << "," << e.value << "\n";
  }
  {
    auto& f = open("driver_events.csv");
    f << "run,kind,flags,batch,kernel,address,bytes,aux,gpc_or_src,client_or_dst,cpu_ns,gpu_ns,gpu_end_ns\n";
    for (auto& e : t.driver_events)
      f << e.run << "," << to_string(e.kind) << "," << int(e.flags) << "," << e.batch << ","
        << (e.kernel == kNoKernel ? std::string("-") : std::to_string(e.kernel)) << "," << e.address << ","
        << e.bytes << "," << e.aux << "," << e.gpc << "," << e.client << "," << e.cpu_ns << "," << e.gpu_ns
        << "," << e.gpu_end_ns << "\n";
  }
}

}  // namespace uvmsim::trace
