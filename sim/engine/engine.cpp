#include "sim/engine/engine.h"

#include <algorithm>
#include <stdexcept>

namespace uvmsim {

uint8_t Engine::attach(Component& c) {
  if (components_.size() == kMaxComponents) throw std::logic_error("engine: too many components");
  components_.push_back(&c);
  return uint8_t(components_.size() - 1);
}

uint64_t Engine::run(const Guard& g) {
  const uint64_t max_events = g.max_events > 0 ? g.max_events : UINT64_MAX;
  uint64_t seen = progress_, since = 0, longest = 0;
  for (;;) {
    const bool moving = !moving_.empty() && (q_.empty() || before(moving_.top(), q_.top()));
    if (!moving && q_.empty()) break;
    const Event e = moving ? (++moved_popped_, moving_.take()) : q_.pop();
    now_ = e.time;
    if (latest_.time != e.time || before(latest_, e)) latest_ = e;
    components_[e.owner]->handle(e);
    if (moving) moving_.finish();
    if (after_) after_->after_event();
    if (progress_ != seen) {
      seen = progress_;
      longest = std::max(longest, since);
      if (since)
        for (auto& row : since_progress_) std::fill(std::begin(row), std::end(row), 0);
      since = 0;
    } else {
      ++since_progress_[e.owner][e.type];
      if (++since >= g.max_events_without_progress) {
        uint8_t top_owner = 0, top_type = 0;
        std::string counts;
        for (uint8_t o = 0; o < components_.size(); ++o)
          for (uint8_t t = 0; t < kMaxTypes; ++t) {
            const uint64_t n = since_progress_[o][t];
            if (!n) continue;
            if (n > since_progress_[top_owner][top_type]) top_owner = o, top_type = t;
            counts += std::string(counts.empty() ? "" : ", ") + std::to_string(n) + " " +
                      components_[o]->event_name(t);
          }
        g.stuck(top_owner, top_type, counts);
        throw std::logic_error("engine: the stuck handler returned");
      }
    }
    if (events() >= max_events) {
      g.capped();
      throw std::logic_error("engine: the stuck handler returned");
    }
    if ((events() & 0xffff) == 0 && g.every_64k_events) g.every_64k_events();
  }
  return std::max(longest, since);
}

}  // namespace uvmsim
