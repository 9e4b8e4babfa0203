// The PCIe link of one GPU: full duplex (HtoD and DtoH independent), a bandwidth per direction, a latency,
// and copy engines that each run one push at a time. A push is what the driver writes to one channel for
// one VA block's migration: its copies (one per contiguous run of one cause) run on one engine in order,
// after one setup (`copy_setup_ns`) and each after its own `copy_ns`. The data phases of one direction
// share the link in order of arrival.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "sim/config/config.h"
#include "sim/engine/event_queue.h"
#include "sim/stats/timeline.h"

namespace uvmsim {

enum class Dir : uint8_t { kHtoD = 0, kDtoH = 1 };

class PcieLink {
 public:
  explicit PcieLink(const PcieConfig& c) : cfg_(c) {
    for (auto& d : dirs_) d.engine_free.assign(size_t(c.copy_engines), 0);
  }
  struct Push {
    Dir dir;
    size_t engine;
    int64_t t;  // when the engine can start the push's next copy
  };
  // Opens a push that may start at `ready`, on the engine free first.
  Push push(Dir dir, int64_t ready) {
    auto& d = dirs_[static_cast<int>(dir)];
    auto ce = std::min_element(d.engine_free.begin(), d.engine_free.end());
    const int64_t t = std::max(ready, *ce) + cfg_.copy_setup_ns;
    *ce = t;
    return Push{dir, size_t(ce - d.engine_free.begin()), t};
  }
  // Appends a copy to push `p`; returns when its completion is visible. `data` (optional) receives when
  // its data phase starts and ends.
  int64_t copy(Push& p, uint64_t bytes, std::pair<int64_t, int64_t>* data = nullptr) {
    auto& d = dirs_[static_cast<int>(p.dir)];
    const int64_t start = std::max(p.t + cfg_.copy_ns, d.link_free);
    const int64_t bw = p.dir == Dir::kHtoD ? cfg_.htod_bytes_per_s : cfg_.dtoh_bytes_per_s;
    const int64_t dur = mul_div_ceil(bytes, 1000000000u, uint64_t(bw));
    const int64_t end = start + dur;
    d.busy_ns += dur;
    d.link_free = end;
    d.engine_free[p.engine] = std::max(d.engine_free[p.engine], end);
    p.t = end;
    ++d.copies;
    if (data) *data = {start, end};
    if (timeline_) timeline_->copy(p.dir == Dir::kDtoH, start, end, bytes);
    return end + cfg_.latency_ns;
  }
  // A push of one copy.
  int64_t copy(Dir dir, uint64_t bytes, int64_t ready) {
    Push p = push(dir, ready);
    return copy(p, bytes);
  }
  int64_t busy_ns(Dir dir) const { return dirs_[static_cast<int>(dir)].busy_ns; }
  // Where each copy's data phase is recorded (null: nowhere).
  void set_timeline(Timeline* t) { timeline_ = t; }
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
  Timeline* timeline_ = nullptr;
};

}  // namespace uvmsim
