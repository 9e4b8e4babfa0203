#include "traces/driver_batches.h"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <unordered_set>

namespace uvmsim::trace {

std::vector<DriverRunBatches> driver_batches(const Trace& t) {
  std::vector<DriverRunBatches> out(t.driver_runs.size());
  struct Open {
    DriverBatch b;
    std::unordered_set<uint64_t> pages, blocks, utlbs;
    std::map<uint32_t, uint64_t> kernels;  // entries per kernel
  };
  std::vector<std::map<uint32_t, Open>> open(t.driver_runs.size());
  struct Replay {
    int64_t gpu_ns;
    uint32_t kernel;
  };
  std::vector<std::unordered_map<uint32_t, Replay>> replays(t.driver_runs.size());
  for (size_t r = 0; r < t.driver_runs.size(); ++r) {
    const auto& d = t.driver_runs[r].dropped;
    out[r].entries_complete = d[size_t(DriverEventKind::kFaultEntry)] == 0;
    out[r].replays_complete = d[size_t(DriverEventKind::kReplay)] == 0;
  }
  for (const DriverEvent& e : t.driver_events) {
    if (e.kind == DriverEventKind::kReplay) {
      replays[e.run][e.batch] = {e.gpu_ns, e.kernel};
      continue;
    }
    if (e.kind != DriverEventKind::kFaultEntry) continue;
    auto [it, fresh] = open[e.run].try_emplace(e.batch);
    Open& o = it->second;
    if (fresh) {
      o.b.id = e.batch;
      o.b.first_gpu_ns = e.gpu_ns;
    }
    ++o.b.entries;
    o.b.first_gpu_ns = std::min(o.b.first_gpu_ns, e.gpu_ns);
    o.pages.insert(e.address >> kPageShift);
    o.blocks.insert(e.address >> 21);
    o.utlbs.insert(uint64_t{e.gpc} << 16 | e.client);
    ++o.kernels[e.kernel];
  }
  for (size_t r = 0; r < open.size(); ++r)
    for (auto& [id, o] : open[r]) {
      DriverBatch b = o.b;
      b.pages = o.pages.size();
      b.blocks = o.blocks.size();
      b.utlbs = o.utlbs.size();
      // The kernel most of its entries were taken under; entries taken under none (their CPU time, the
      // service's start, fell outside every kernel of the run on the CUPTI clock: a kernel's first
      // service can start before CUPTI's start of it) do not vote, and where none was taken under one,
      // the replay's kernel.
      uint64_t most = 0;
      for (const auto& [k, n] : o.kernels)
        if (k != kNoKernel && n > most) most = n, b.kernel = k;
      const auto rp = replays[r].find(id);
      if (rp != replays[r].end()) {
        b.replay_gpu_ns = rp->second.gpu_ns;
        if (most == 0) b.kernel = rp->second.kernel;
      }
      out[r].batches.push_back(b);
    }
  return out;
}

double quantile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, size_t(q * double(v.size() - 1)));
  return v[i];
}

}  // namespace uvmsim::trace
