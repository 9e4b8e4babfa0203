#include "sim/workload/workload.h"

#include <algorithm>
#include <stdexcept>
#include <tuple>
#include <utility>

#include "traces/trace_io.h"

namespace uvmsim {

using namespace trace;

uint32_t ctas_per_sm(const Kernel& k, uint32_t max_threads, uint32_t max_ctas, uint32_t regs, uint32_t smem) {
  uint64_t threads = k.threads_per_cta();
  uint64_t n = std::min<uint64_t>(max_ctas, max_threads / std::max<uint64_t>(threads, 1));
  if (k.regs_per_thread) n = std::min<uint64_t>(n, regs / (uint64_t{k.regs_per_thread} * threads));
  if (k.smem_bytes) n = std::min<uint64_t>(n, smem / k.smem_bytes);
  return uint32_t(std::max<uint64_t>(n, 1));
}

Workload Workload::load(const std::string& path) {
  std::string hash;
  Trace t = trace::read_trace(path, &hash);
  try {
    return build(std::move(t), std::move(hash));
  } catch (const std::bad_alloc&) {
    throw std::runtime_error(path + ": out of memory preparing the trace for simulation");
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

Workload Workload::build(Trace t, std::string hash) {
  Workload w;
  w.hash = std::move(hash);
  const uint32_t ppb = 512;
  uint64_t next_block = 0;
  struct Span {
    uint32_t process;
    uint64_t first_va_page, last_va_page;
    uint32_t alloc;
  };
  std::vector<Span> spans;
  uint32_t max_proc = 0;
  for (auto& tn : t.tenants) max_proc = std::max(max_proc, tn.process);
  w.processes = max_proc + 1;
  // Allocations of one process and kind whose pages fall in the same 2 MiB block share their VA blocks,
  // as the driver's do: the CUDA driver packs small managed allocations into one VA range, and the H100's
  // counter passes show single migrations that cross from one allocation into the next. Such a cluster
  // keeps its allocations' real offsets within its blocks; every other allocation starts its own blocks
  // at its offset within a block. Clusters are laid out in the order of their first allocation.
  const uint32_t na = uint32_t(t.allocations.size());
  std::vector<uint32_t> by_va(na);
  for (uint32_t i = 0; i < na; ++i) by_va[i] = i;
  auto key = [&](uint32_t i) {
    const Allocation& a = t.allocations[i];
    return std::make_tuple(t.tenants.empty() ? 0u : t.tenants[a.tenant].process, a.kind, a.va);
  };
  std::sort(by_va.begin(), by_va.end(), [&](uint32_t x, uint32_t y) { return key(x) < key(y); });
  auto process_and_kind = [&](uint32_t i) {
    return std::make_pair(std::get<0>(key(i)), std::get<1>(key(i)));
  };
  struct Cluster {
    uint64_t first_block, last_block;
    uint64_t dense_block = ~uint64_t{0};  // not placed yet
  };
  std::vector<Cluster> clusters;
  std::vector<uint32_t> cluster_of(na);
  for (size_t j = 0; j < by_va.size(); ++j) {
    const Allocation& a = t.allocations[by_va[j]];
    uint64_t fb = (a.va >> kPageShift) / ppb, lb = ((a.va + a.bytes - 1) >> kPageShift) / ppb;
    bool joins = j > 0 && process_and_kind(by_va[j]) == process_and_kind(by_va[j - 1]) &&
                 fb <= clusters.back().last_block;
    if (joins) {
      clusters.back().last_block = std::max(clusters.back().last_block, lb);
    } else {
      clusters.push_back({fb, lb});
    }
    cluster_of[by_va[j]] = uint32_t(clusters.size() - 1);
  }
  for (uint32_t i = 0; i < na; ++i) {
    auto& a = t.allocations[i];
    uint64_t first = a.va >> kPageShift, last = (a.va + a.bytes - 1) >> kPageShift;
    Cluster& c = clusters[cluster_of[i]];
    if (c.dense_block == ~uint64_t{0}) {
      if (c.last_block - c.first_block + 1 > kMaxPages / ppb ||
          (next_block + c.last_block - c.first_block + 1) * ppb > kMaxPages)
        throw std::runtime_error("the trace's allocations span more than " + std::to_string(kMaxPages >> 18) +
                                 " GiB of pages, the simulator's limit (Workload::kMaxPages): too large to "
                                 "simulate");
      c.dense_block = next_block;
      next_block += c.last_block - c.first_block + 1;
    }
    w.alloc_first.push_back(uint32_t(c.dense_block * ppb + (first - c.first_block * ppb)));
    w.alloc_pages.push_back(uint32_t(last - first + 1));
    spans.push_back({t.tenants.empty() ? 0 : t.tenants[a.tenant].process, first, last, i});
  }
  w.blocks = uint32_t(next_block);
  w.pages = uint32_t(next_block * ppb);
  w.page_valid.assign(w.pages, 0);
  for (size_t i = 0; i < w.alloc_first.size(); ++i)
    std::fill_n(w.page_valid.begin() + w.alloc_first[i], w.alloc_pages[i], 1);
  std::sort(spans.begin(), spans.end(), [](const Span& x, const Span& y) {
    return std::tie(x.process, x.first_va_page) < std::tie(y.process, y.first_va_page);
  });
  auto translate = [&](uint32_t process, uint64_t va_page, uint64_t count) -> uint32_t {
    auto it = std::upper_bound(spans.begin(), spans.end(), std::make_pair(process, va_page),
                               [](const std::pair<uint32_t, uint64_t>& v, const Span& s) {
                                 return std::tie(v.first, v.second) < std::tie(s.process, s.first_va_page);
                               });
    if (it != spans.begin()) {
      --it;
      if (it->process == process && va_page >= it->first_va_page && va_page + count - 1 <= it->last_va_page)
        return uint32_t(w.alloc_first[it->alloc] + (va_page - it->first_va_page));
    }
    throw std::runtime_error("pages " + std::to_string(va_page) + "+" + std::to_string(count) +
                             " lie outside every allocation of process " + std::to_string(process));
  };
  auto process_of = [&](uint32_t tenant) { return t.tenants.empty() ? 0u : t.tenants[tenant].process; };

  std::vector<uint8_t> touched(w.pages, 0);
  w.cta_points.assign(t.ctas.size() + 1, 0);
  w.kernel_dram_bytes.resize(t.kernels.size());
  w.kernel_runs.assign(t.kernels.size(), {0, 0});
  const std::vector<uint64_t> template_of = trace::template_of(t);
  std::vector<uint32_t> distinct_pages;    // the template's pages, in the order first touched
  std::vector<uint32_t> seen(w.pages, 0);  // per page: 1 + the last template that touched it
  for (uint32_t ki = 0; ki < t.kernels.size(); ++ki) {
    const Kernel& k = t.kernels[ki];
    uint32_t proc = process_of(k.tenant);
    if (template_of[ki] != ki) {  // a launch of an earlier kernel's template: its points exist
      w.kernel_dram_bytes[ki] = w.kernel_dram_bytes[template_of[ki]];
      w.kernel_runs[ki] = w.kernel_runs[template_of[ki]];
      continue;
    }
    uint64_t distinct = 0;
    distinct_pages.clear();
    for (uint64_t c = k.cta_begin; c < k.cta_begin + k.cta_count; ++c) {
      const Cta& cta = t.ctas[c];
      size_t first_point = w.points.size();
      for (uint64_t r = cta.range_begin; r < cta.range_begin + cta.range_count; ++r) {
        const Range& g = t.ranges[r];
        uint32_t dense = translate(proc, g.page, g.count);
        const auto kind = static_cast<uint8_t>(g.kind);
        std::fill_n(touched.begin() + dense, g.count, 1);
        for (uint32_t p = dense; p < dense + g.count; ++p)
          if (seen[p] != ki + 1) {
            seen[p] = ki + 1;
            ++distinct;
            distinct_pages.push_back(p);
          }
        w.points.push_back({dense, g.count, g.t_begin, kind});
        if (g.t_end > g.t_begin) w.points.push_back({dense, g.count, g.t_end, kind});
      }
      std::stable_sort(w.points.begin() + long(first_point), w.points.end(),
                       [](const AccessPoint& x, const AccessPoint& y) { return x.t < y.t; });
      w.cta_points[c + 1] = w.points.size();
    }
    w.kernel_dram_bytes[ki] = distinct * kPageBytes;
    std::sort(distinct_pages.begin(), distinct_pages.end());
    const uint64_t first_run = w.footprint_runs.size();
    for (uint32_t p : distinct_pages)
      if (w.footprint_runs.size() > first_run && w.footprint_runs.back().second + 1 == p)
        w.footprint_runs.back().second = p;
      else
        w.footprint_runs.push_back({p, p});
    w.kernel_runs[ki] = {first_run, w.footprint_runs.size()};
  }
  w.op_pages.resize(t.ops.size());
  for (size_t i = 0; i < t.ops.size(); ++i) {
    const Op& o = t.ops[i];
    if (o.kind == OpKind::kHostAccess || o.kind == OpKind::kPrefetch || o.kind == OpKind::kAdvise ||
        o.kind == OpKind::kMemset) {
      uint64_t first = o.a >> kPageShift, last = (o.a + o.b - 1) >> kPageShift;
      uint32_t dense = translate(process_of(o.tenant), first, last - first + 1);
      w.op_pages[i] = {dense, uint32_t(last - first + 1), static_cast<uint8_t>(o.access)};
      if (o.kind != OpKind::kAdvise) std::fill_n(touched.begin() + dense, last - first + 1, 1);
    }
  }
  for (uint64_t b = 0; b < w.blocks; ++b) {
    const auto first = touched.begin() + long(b * ppb);
    const uint64_t n = uint64_t(std::count(first, first + ppb, uint8_t{1}));
    w.footprint_pages += n;
    w.footprint_blocks += n > 0;
  }
  if (!t.completeness.empty()) w.counter_coverage = trace::counter_coverage(t);
  w.trace = std::move(t);
  std::vector<Cta>().swap(w.trace.ctas);  // now held as points
  std::vector<Range>().swap(w.trace.ranges);
  return w;
}

}  // namespace uvmsim
