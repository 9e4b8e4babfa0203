// The PCIe link of one GPU: full duplex (HtoD and DtoH independent), a bandwidth per direction, a latency,
// and copy engines that each take one copy at a time and pay a setup cost per copy. The data phases of
// one direction share the link in order of arrival.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "sim/config.h"
#include "sim/engine.h"

namespace uvmsim {

enum class Dir : uint8_t { kHtoD = 0, kDtoH = 1 };

class PcieLink {
 public:
  explicit PcieLink(const PcieConfig& c) : cfg_(c) {
    for (auto& d : dirs_) d.engine_free.assign(size_t(c.copy_engines), 0);
  }
  // Submits a copy that may start at `ready`; returns when its completion is visible. `data` (optional)
  // receives when its data phase starts and ends.
  int64_t copy(Dir dir, uint64_t bytes, int64_t ready, std::pair<int64_t, int64_t>* data = nullptr) {
    auto& d = dirs_[static_cast<int>(dir)];
    auto ce = std::min_element(d.engine_free.begin(), d.engine_free.end());
    int64_t setup_done = std::max(ready, *ce) + cfg_.copy_setup_ns;
    int64_t start = std::max(setup_done, d.link_free);
    int64_t bw = dir == Dir::kHtoD ? cfg_.htod_bytes_per_s : cfg_.dtoh_bytes_per_s;
    int64_t dur = mul_div_ceil(bytes, 1000000000u, uint64_t(bw));
    int64_t end = start + dur;
    d.busy_ns += dur;
    d.link_free = end;
    *ce = end;
    ++d.copies;
    if (data) *data = {start, end};
    return end + cfg_.latency_ns;
  }
  int64_t busy_ns(Dir dir) const { return dirs_[static_cast<int>(dir)].busy_ns; }
  uint64_t copies(Dir dir) const { return dirs_[static_cast<int>(dir)].copies; }

 private:
  struct DirState {
    int64_t link_free = 0;
    int64_t busy_ns = 0;
    uint64_t copies = 0;
    std::vector<int64_t> engine_free;
  };
  PcieConfig cfg_;
  DirState dirs_[2];
};

}  // namespace uvmsim
