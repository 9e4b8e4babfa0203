// A lane: the CTAs of one kernel resident on one SM. They run at one speed (sim/gpu/sm_share.h: a speed is
// a function of the SM's loads and the kernel), so they share one virtual clock, the reference time (the
// kernel's resident run) a CTA computing in the lane has covered: V(t) = v0 + (t - t0) * speed, re-based
// whenever the speed changes. A computing CTA's next event is a point on that clock (its reference time
// plus the CTA's offset), which a change of speed does not move: only the lane's first event, the one the
// engine holds, moves. This is processor sharing simulated in virtual time: a change of speed costs one
// event move per lane, not one per CTA.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "traces/trace.h"

namespace uvmsim {

class Lane {
 public:
  struct Entry {
    double v;      // the clock reading at which the CTA's pending event comes
    uint64_t key;  // the CTA's order key among events of one instant (its start ordinal)
    uint32_t slot;
  };
  uint32_t kernel = UINT32_MAX;
  uint32_t members = 0;  // resident CTAs of the kernel on the SM, computing or not
  // With gpu.issue_by_age a lane holds one CTA (its speed depends on the CTA's age on its SM):
  // that CTA's slot. UINT32_MAX otherwise.
  uint32_t slot = UINT32_MAX;
  uint32_t sm = 0;  // the SM it is on

  // Starts the lane's clock afresh (no CTA computing in it yet), at speed 0 until the first re-base.
  void reset(uint32_t k, int64_t now) {
    kernel = k;
    members = 0;
    t0_ = prev_t0_ = now;
    v0_ = prev_v0_ = 0;
    speed_ = 0;
    inv_ = prev_inv_ = 0;
    entries_.clear();
    head_ = 0;
  }
  double speed() const { return speed_; }
  double clock(int64_t t) const { return v0_ + double(t - t0_) * speed_; }
  // The first ns at which the clock reads v or more (not clamped to now; beyond trace::kMaxTimeNs where
  // the speed is too small to get there). A reading the clock passed before its last re-base is placed in
  // the speed before it (so run-ahead knows whether it came before the current instant).
  int64_t due(double v) const {
    if (v <= v0_ && t0_ > prev_t0_) return std::min(t0_, at(v, prev_t0_, prev_v0_, prev_inv_));
    return at(v, t0_, v0_, inv_);
  }
  // A new speed from now on.
  void rebase(int64_t now, double speed) {
    if (now != t0_) {
      prev_t0_ = t0_;
      prev_v0_ = v0_;
      prev_inv_ = inv_;
    }
    v0_ = clock(now);
    t0_ = now;
    speed_ = speed;
    inv_ = 1 / speed;
  }
  // A CTA computing towards v.
  void insert(const Entry& e) {
    size_t i = entries_.size();
    while (i > 0 && (e.v < entries_[i - 1].v || (e.v == entries_[i - 1].v && e.key < entries_[i - 1].key)))
      --i;
    entries_.insert(entries_.begin() + std::ptrdiff_t(i), e);
  }
  // Takes the CTA's entry out.
  void remove(uint32_t slot) {
    size_t i = 0;
    while (entries_[i].slot != slot) ++i;
    entries_.erase(entries_.begin() + std::ptrdiff_t(i));
  }
  double v_of(uint32_t slot) const {
    for (const Entry& e : entries_)
      if (e.slot == slot) return e.v;
    return 0;
  }
  bool empty() const { return entries_.empty(); }
  // The entry due first (ties: the lower key) and when, each entry's time clamped to now (find_head
  // finds them, after the last change).
  const Entry& head() const { return entries_[head_]; }
  int64_t head_due() const { return head_due_; }
  // Whether the lane's first event is to be given to the engine again (kept by the gpu).
  bool touched = false;

 private:
  // Entries are in (v, key) order, so the first is due first; a later one due at the same ns (the clock
  // passes both within it) with a lower key comes before it: due(v) <= T exactly when (v - v0) / speed <=
  // T - t0.
  static int64_t at(double v, int64_t t0, double v0, double inv) {
    const double d = std::ceil((v - v0) * inv);
    if (!(d < double(trace::kMaxTimeNs))) return trace::kMaxTimeNs + 1;
    return t0 + (d > 0 ? int64_t(d) : 0);
  }

 public:
  void find_head(int64_t now) {
    head_ = 0;
    if (entries_.empty()) return;
    head_due_ = std::max(now, due(entries_[0].v));
    const double bound = double(head_due_ - t0_);
    for (uint32_t i = 1; i < entries_.size() && (entries_[i].v - v0_) * inv_ <= bound; ++i)
      if (entries_[i].key < entries_[head_].key) head_ = i;
  }

 private:
  int64_t t0_ = 0, prev_t0_ = 0;  // the last re-base, and the one before it at an earlier time
  double v0_ = 0, speed_ = 0, inv_ = 0, prev_v0_ = 0, prev_inv_ = 0;
  std::vector<Entry> entries_;  // in (v, key) order
  uint32_t head_ = 0;
  int64_t head_due_ = 0;
};

}  // namespace uvmsim
