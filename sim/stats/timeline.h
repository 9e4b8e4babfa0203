// A run's timeline (`uvmsim run|serve --timeline FILE`): what the components did and when, for a viewer.
// The components append to it where one is set (none: no cost but a null check); only what overlaps the
// window is kept, so a long run's timeline stays as small as its window. Written as a Chrome trace (JSON),
// which the Perfetto UI (ui.perfetto.dev) and chrome://tracing open: kernels per tenant, the CTAs stalled
// on faults per SM (a counter each), fault batches with their sizes, HtoD and DtoH copies, evictions and
// requests.
#pragma once

#include <cstdint>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "sim/stats/stats.h"

namespace uvmsim {

struct Timeline {
  int64_t window_begin_ns = 0, window_end_ns = std::numeric_limits<int64_t>::max();
  bool overlaps(int64_t begin, int64_t end) const { return end >= window_begin_ns && begin <= window_end_ns; }

  struct Kernel {
    uint32_t kernel, tenant;
    int64_t start_ns, end_ns;
  };
  struct Copy {
    uint8_t dtoh;  // 0: HtoD, 1: DtoH
    int64_t start_ns, end_ns;
    uint64_t bytes;
  };
  struct Eviction {
    int64_t at_ns;
    uint32_t block, tenant, pages;
  };
  struct Stall {
    int64_t at_ns;
    uint32_t sm, stalled;  // the SM's CTAs stalled on faults from then on
  };
  std::vector<Kernel> kernels;
  std::vector<Copy> copies;
  std::vector<Eviction> evictions;
  std::vector<Stall> stalls;
  std::vector<BatchRecord> batches;  // every batch (the uvm's records); the writer keeps the window's

  void kernel(uint32_t k, uint32_t tenant, int64_t start, int64_t end) {
    if (overlaps(start, end)) kernels.push_back({k, tenant, start, end});
  }
  void copy(bool dtoh, int64_t start, int64_t end, uint64_t bytes) {
    if (overlaps(start, end)) copies.push_back({uint8_t(dtoh), start, end, bytes});
  }
  void eviction(int64_t at, uint32_t block, uint32_t tenant, uint32_t pages) {
    if (overlaps(at, at)) evictions.push_back({at, block, tenant, pages});
  }
  void stall(int64_t at, uint32_t sm, uint32_t stalled) {
    if (overlaps(at, at)) stalls.push_back({at, sm, stalled});
  }
};

// A served request, for the timeline (sim/serving/ has the full record).
struct TimelineRequest {
  uint32_t tenant;
  uint64_t id, batch;
  int64_t arrival_ns, start_ns, end_ns;
};

// Writes the Chrome trace: `kernel_names` and `tenant_names` name the tracks (by kernel id and tenant id).
// Slices that would overlap on a track (a tenant's queued requests, copies on two engines, kernels of two
// streams) go to further lanes of it, tid + 1000 L, named "<track> (L+1)": the Perfetto UI keeps only
// slices that nest on a track. Every track's tid is its own (pid * 10^8 + track + 1: Perfetto takes tids as
// system-wide and tid 0 as the pid). Throws std::runtime_error past 999 tracks or 99998 lanes of one.
void write_timeline(std::ostream& out, const Timeline& t, const std::vector<std::string>& kernel_names,
                    const std::vector<std::string>& tenant_names, const std::vector<TimelineRequest>& requests);

}  // namespace uvmsim
