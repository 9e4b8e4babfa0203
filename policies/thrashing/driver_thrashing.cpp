// The real driver's thrashing detection (uvm_perf_thrashing.c) with its module parameters:
//  - a block starts being tracked when two consecutive events on it come from different processors
//    within the lapse (lapse_usec);
//  - then each migration or revocation of a page within the lapse of its last bumps a 3-bit counter;
//    reaching threshold marks the page thrashing; a longer gap resets the counter;
//  - on a fault of a thrashing page processors take turns being the one not throttled; the others get
//    THROTTLE for nap lapses; after pin_threshold throttles the page is
//    pinned on the requester for pin lapses (others map it remotely);
//  - a block without thrashing for epoch lapses is reset, at most
//    max_resets times.
// As the driver does, per-page state exists only for tracked blocks: a block's 512 pages get a slab of one
// flat pool when it starts being tracked (pages of untracked blocks are never thrashing).
#include <vector>

#include "policies/thrashing/thrashing_policy.h"
#include "sim/common/block_mask.h"

namespace uvmsim {
namespace {

constexpr int64_t kNever = INT64_MIN / 4;

class DriverThrashing final : public ThrashingPolicy {
 public:
  DriverThrashing(const PolicyParams& p, uint32_t pages)
      : lapse_(p.get_int("lapse_usec") * 1000),
        threshold_(uint8_t(p.get_int("threshold"))),
        pin_threshold_(uint32_t(p.get_int("pin_threshold"))),
        nap_(p.get_int("nap") * lapse_),
        epoch_(p.get_int("epoch") * lapse_),
        pin_(p.get_int("pin") * lapse_),
        max_resets_(uint32_t(p.get_int("max_resets"))),
        block_((pages + kPagesPerBlock - 1) / kPagesPerBlock) {}

  void on_migration(uint32_t page, Processor to, int64_t now) override {
    Block& b = block_[page / kPagesPerBlock];
    if (!b.tracking) {
      if (b.last_time != kNever && b.last_proc != to && now - b.last_time <= lapse_) {
        b.tracking = true;
        b.last_thrash = now;
        if (b.slab == kNoSlab) {
          b.slab = uint32_t(pool_.size() / kPagesPerBlock);
          pool_.resize(pool_.size() + kPagesPerBlock);
        }
      }
      b.last_proc = to;
      b.last_time = now;
      if (!b.tracking) return;
    }
    b.last_proc = to;
    b.last_time = now;
    if (now - b.last_thrash > epoch_ && b.resets < max_resets_) reset_block(page / kPagesPerBlock, now);
    Page& p = page_of(page);
    p.count = (p.last_time != kNever && now - p.last_time <= lapse_) ? uint8_t(std::min(7, p.count + 1)) : 1;
    p.last_time = now;
    if (p.count >= threshold_ && !p.thrashing) {
      p.thrashing = true;
      ++c_.thrashing_pages;
      b.last_thrash = now;
    }
  }

  ThrashHint hint(uint32_t page, Processor req, int64_t now) override {
    if (block_[page / kPagesPerBlock].slab == kNoSlab) return ThrashHint::kNone;
    Page& p = page_of(page);
    if (!p.thrashing) return ThrashHint::kNone;
    block_[page / kPagesPerBlock].last_thrash = now;
    if (p.pinned_until > now) return p.pinned_on == req ? ThrashHint::kNone : ThrashHint::kPin;
    if (p.throttles >= pin_threshold_) {
      p.pinned_on = req;
      p.pinned_until = now + pin_;
      p.throttles = 0;
      ++c_.pins;
      return ThrashHint::kNone;  // pinned here; the other processor maps it remotely from now on
    }
    if (p.throttled_until > now && p.throttled_proc == req) {
      ++c_.throttles;
      return ThrashHint::kThrottle;
    }
    if (p.served_last == req && p.served_time != kNever) {
      // Turn of the other processor: this one naps.
      p.throttled_proc = req;
      p.throttled_until = now + nap_;
      ++p.throttles;
      ++c_.throttles;
      p.served_last = req == Processor::kCpu ? Processor::kGpu : Processor::kCpu;
      return ThrashHint::kThrottle;
    }
    p.served_last = req;
    p.served_time = now;
    return ThrashHint::kNone;
  }

  bool is_thrashing(uint32_t page) const override {
    const Block& b = block_[page / kPagesPerBlock];
    return b.slab != kNoSlab && pool_[size_t(b.slab) * kPagesPerBlock + page % kPagesPerBlock].thrashing;
  }
  const ThrashingCounters& counters() const override { return c_; }
  int64_t throttle_ns() const override { return nap_; }

 private:
  struct Page {
    int64_t last_time = kNever;
    int64_t throttled_until = kNever;
    int64_t pinned_until = kNever;
    int64_t served_time = kNever;
    uint32_t throttles = 0;
    uint8_t count = 0;
    bool thrashing = false;
    Processor pinned_on = Processor::kGpu;
    Processor throttled_proc = Processor::kGpu;
    Processor served_last = Processor::kGpu;
  };
  struct Block {
    int64_t last_time = kNever;
    int64_t last_thrash = kNever;
    uint32_t resets = 0;
    Processor last_proc = Processor::kCpu;
    bool tracking = false;
    uint32_t slab = kNoSlab;  // its pages' state in pool_, from when it is first tracked
  };
  static constexpr uint32_t kNoSlab = ~0u;

  Page& page_of(uint32_t page) {
    return pool_[size_t(block_[page / kPagesPerBlock].slab) * kPagesPerBlock + page % kPagesPerBlock];
  }

  void reset_block(uint32_t block, int64_t now) {
    Block& b = block_[block];
    ++b.resets;
    b.last_thrash = now;
    std::fill_n(pool_.begin() + long(size_t(b.slab) * kPagesPerBlock), kPagesPerBlock, Page{});
  }

  int64_t lapse_;
  uint8_t threshold_;
  uint32_t pin_threshold_;
  int64_t nap_, epoch_, pin_;
  uint32_t max_resets_;
  std::vector<Block> block_;
  std::vector<Page> pool_;  // kPagesPerBlock pages per tracked block
  ThrashingCounters c_;
};

class NoThrashing final : public ThrashingPolicy {
 public:
  void on_migration(uint32_t, Processor, int64_t) override {}
  ThrashHint hint(uint32_t, Processor, int64_t) override { return ThrashHint::kNone; }
  bool is_thrashing(uint32_t) const override { return false; }
  const ThrashingCounters& counters() const override { return c_; }

 private:
  ThrashingCounters c_;
};

const ThrashingRegistrar kDriver(
    {"driver",
     "the driver's detection, throttling and pinning",
     {{"threshold", ParamType::kInt, "events", 1, 7, 3,
       "migrations within the lapse that mark a page thrashing (uvm_perf_thrashing_threshold)"},
      {"pin_threshold", ParamType::kInt, "throttles", 1, 100, 10,
       "throttles after which a thrashing page is pinned (uvm_perf_thrashing_pin_threshold)"},
      {"lapse_usec", ParamType::kInt, "us", 1, 1e9, 500,
       "events further apart than this reset a page's count (uvm_perf_thrashing_lapse_usec)"},
      {"nap", ParamType::kInt, "lapses", 1, 100, 1,
       "how long a throttled processor waits (uvm_perf_thrashing_nap)"},
      {"epoch", ParamType::kInt, "lapses", 1, 1e9, 2000,
       "a block without thrashing this long is reset (uvm_perf_thrashing_epoch)"},
      {"pin", ParamType::kInt, "lapses", 1, 1e9, 300,
       "how long a page stays pinned (uvm_perf_thrashing_pin)"},
      {"max_resets", ParamType::kInt, "resets", 0, 1e9, 4,
       "resets of a block before it stays tracked (uvm_perf_thrashing_max_resets)"}},
     [](const PolicyParams& p, const ThrashingContext& c) {
       return std::make_unique<DriverThrashing>(p, c.pages);
     }});
const ThrashingRegistrar kNone({"none",
                                "no thrashing detection (uvm_perf_thrashing_enable=0)",
                                {},
                                [](const PolicyParams&, const ThrashingContext&) {
                                  return std::make_unique<NoThrashing>();
                                }});

}  // namespace
}  // namespace uvmsim
