#include "traces/coverage.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <stdexcept>
#include <unordered_map>
#include <vector>

namespace uvmsim::trace {

namespace {

enum Where : uint8_t { kNowhere = 0, kCpu, kGpu };

// Every page each stream had to move, in the order of the trace's ops (a page once per move).
struct ExpectedMoves {
  std::vector<uint64_t> htod, dtoh;
};

ExpectedMoves expected_moves(const Trace& t) {
  ExpectedMoves m;
  std::unordered_map<uint64_t, uint8_t> where;
  auto to_gpu = [&](uint64_t page) {
    uint8_t& w = where[page];
    if (w == kCpu) m.htod.push_back(page);
    w = kGpu;
  };
  auto to_cpu = [&](uint64_t page) {
    uint8_t& w = where[page];
    if (w == kGpu) m.dtoh.push_back(page);
    w = kCpu;
  };
  std::map<uint64_t, uint32_t> alloc_by_va;  // first byte -> allocation
  for (uint32_t i = 0; i < t.allocations.size(); ++i) alloc_by_va[t.allocations[i].va] = i;
  auto managed = [&](uint64_t page) {
    auto it = alloc_by_va.upper_bound(page << kPageShift);
    if (it == alloc_by_va.begin()) return false;
    const Allocation& a = t.allocations[std::prev(it)->second];
    return a.kind == AllocKind::kManaged && (page << kPageShift) < a.va + a.bytes;
  };
  for (const Op& o : t.ops) {
    if (o.kind == OpKind::kKernel) {
      if (o.a >= t.kernels.size()) throw std::invalid_argument("op names kernel " + std::to_string(o.a));
      const Kernel& k = t.kernels[o.a];
      for (uint64_t c = k.cta_begin; c < k.cta_begin + k.cta_count; ++c)
        for (uint64_t r = t.ctas[c].range_begin; r < t.ctas[c].range_begin + t.ctas[c].range_count; ++r)
          for (uint64_t p = t.ranges[r].page; p < t.ranges[r].page + t.ranges[r].count; ++p) to_gpu(p);
    } else if (o.kind == OpKind::kHostAccess && o.b > 0) {
      for (uint64_t p = o.a >> kPageShift; p <= (o.a + o.b - 1) >> kPageShift; ++p) to_cpu(p);
    } else if ((o.kind == OpKind::kPrefetch || o.kind == OpKind::kMemset) && o.b > 0) {
      // A prefetch to the CPU moves only pages that are on the GPU; one to the GPU (or a memset) all.
      for (uint64_t p = o.a >> kPageShift; p <= (o.a + o.b - 1) >> kPageShift; ++p) {
        if (!managed(p)) continue;
        if (o.kind == OpKind::kPrefetch && o.device < 0) {
          if (where[p] == kGpu) to_cpu(p);
        } else {
          to_gpu(p);
        }
      }
    }
  }
  return m;
}

}  // namespace

const StreamCoverage& CounterCoverage::of(ObservedKind stream) const {
  if (stream == ObservedKind::kHtoD) return htod;
  if (stream == ObservedKind::kDtoH) return dtoh;
  throw std::invalid_argument("counter coverage: not a transfer stream");
}

CounterCoverage counter_coverage(const Trace& t) {
  ExpectedMoves m = expected_moves(t);
  auto cover = [&](std::vector<uint64_t>& expected, ObservedKind stream) {
    std::vector<uint64_t> recorded;
    for (const ObservedEvent& e : t.observed)
      if (e.kind == stream && e.value > 0)
        for (uint64_t p = e.address >> kPageShift; p <= (e.address + e.value - 1) >> kPageShift; ++p)
          recorded.push_back(p);
    std::sort(expected.begin(), expected.end());
    std::sort(recorded.begin(), recorded.end());
    std::vector<uint64_t> both;
    std::set_intersection(expected.begin(), expected.end(), recorded.begin(), recorded.end(),
                          std::back_inserter(both));  // multiset: a page moved twice needs two records
    return StreamCoverage{expected.size(), recorded.size(), both.size()};
  };
  return {cover(m.htod, ObservedKind::kHtoD), cover(m.dtoh, ObservedKind::kDtoH)};
}

}  // namespace uvmsim::trace
