// The gmmu component's replayable fault buffer: faults that uTLBs raise, each reaching the buffer after the
// fault latency (one at a time per uTLB), a cap on each uTLB's outstanding faults and on the buffer's
// entries, fetch by the driver in arrival order, and the flush that discards entries. Whoever raised an entry
// is told when it leaves (fetched or flushed).
//
// With a write port (configure_port, gpu.fault_write_ns > 0) entries reach the buffer one at a time, the
// port's interval apart, as the H200's events show (results/driver_batches.md): the GPCs take turns entry by
// entry, and within a GPC its uTLBs take turns of up to `burst` entries of their queues. So a batch of a
// partition of many GPCs holds a few entries of many uTLBs, and one of a single GPC runs of few uTLBs.
//
// With miss slots (configure_slots, gpu.utlb_miss_slots > 0) a uTLB holds at most that many outstanding
// misses, each an aligned granule of `granule` pages (one sector of the page table: 4 PTEs of 8 bytes);
// a faulting access in a granule the uTLB already holds joins it, one in a new granule takes a free slot or
// waits. A write (or atomic) fault in a new granule takes the uTLB's last slot: after it, only accesses in
// granules it holds fault until the replay. Slots are held until the driver's next replay, not freed when the
// driver fetches the entries. The H200's events (results/driver_batches.md): between two replays no uTLB
// faulted on more than 14 granules of 4 pages (reads), and a uTLB with a write fault faulted on one page in
// 65 to 94% of such rounds (on two at the 90th percentile).
//
// With a round window (configure_round_window, gpu.utlb_round_window_ns > 0) a uTLB takes new granules only
// for the window after its round's first; a later one waits for the replay, after which it faults at once
// (the H200's staggered-warp probe, results/utlb_stagger.md: about 400 ns).
//
// With a cap on faulting uTLBs (configure_faulting_utlbs, gpu.max_faulting_utlbs > 0) at most that many
// uTLBs fault between two replays; another one's access waits for the next replay (sim/MODEL.md).
//
// With one warp access a round (configure_one_access, gpu.utlb_one_warp), a uTLB faults between two
// replays on the misses of the first warp access that faulted on it; another warp's or CTA's miss is not
// entered (raise returns kOtherAccess) and waits for the next replay, while the warp's own further misses
// still fault (sim/MODEL.md, "GMMU and fault buffer").
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <vector>

namespace uvmsim {

struct FaultEntry {
  int64_t arrival;
  uint64_t seq;
  uint32_t page;
  uint8_t kind;
  uint32_t utlb;
  uint32_t slot;       // the raising CTA's slot
  uint64_t cta_start;  // and its start ordinal (a slot is reused by later CTAs)
  uint32_t tenant;     // the raising CTA's kernel's tenant
  uint32_t kernel;     // and its kernel
};

class FaultBuffer {
 public:
  // Told that an entry left the buffer.
  class Client {
   public:
    virtual ~Client() = default;
    virtual void entry_left(const FaultEntry& e) = 0;
  };
  FaultBuffer(uint32_t utlbs, uint32_t max_outstanding_per_utlb, size_t capacity, int64_t latency_ns,
              int64_t issue_ns)
      : outstanding_(utlbs, 0),
        next_(utlbs, 0),
        max_outstanding_(max_outstanding_per_utlb),
        capacity_(capacity),
        latency_ns_(latency_ns),
        issue_ns_(issue_ns) {}
  void connect(Client& client) { client_ = &client; }
  // The write port: entries written `write_ns` apart, GPCs in turn, each GPC's uTLBs in turns of `burst`;
  // `gpc_of_utlb[u]`: the GPC of uTLB u.
  void configure_port(int64_t write_ns, uint32_t burst, const std::vector<uint32_t>& gpc_of_utlb) {
    write_ns_ = write_ns;
    burst_ = std::max<uint32_t>(1, burst);
    queues_.assign(outstanding_.size(), {});
    uint32_t gpcs = 0;
    for (uint32_t g : gpc_of_utlb) gpcs = std::max(gpcs, g + 1);
    gpc_utlbs_.assign(gpcs, {});
    for (uint32_t u = 0; u < gpc_of_utlb.size(); ++u) gpc_utlbs_[gpc_of_utlb[u]].push_back(u);
    gpc_turn_.assign(gpcs, 0);
    gpc_burst_.assign(gpcs, 0);
  }
  // Miss slots: each uTLB holds at most `slots` granules of `granule` pages until the next replay.
  void configure_slots(uint32_t slots, uint32_t granule, bool write_closes) {
    slots_ = slots;
    write_closes_ = write_closes;
    granule_ = std::max<uint32_t>(1, granule);
    held_.assign(size_t(outstanding_.size()) * slots, 0);
    held_count_.assign(outstanding_.size(), 0);
  }
  // At most `n` uTLBs fault between two replays (0: no limit); a uTLB that has not faulted since the last
  // replay waits for the next when `n` others have (with `reissues_only`, only accesses re-issued at a
  // replay wait).
  void configure_faulting_utlbs(uint32_t n, bool reissues_only) {
    max_faulting_ = n;
    cap_reissues_only_ = reissues_only;
    faulting_flag_.assign(outstanding_.size(), 0);
  }
  // After a replay a uTLB re-walks the granules it held before taking new ones: a miss in a granule it did
  // not hold waits `ns` after the replay (a held one that faults again re-takes its slot at once). 0: none.
  // After configure_slots.
  void configure_rewalk(int64_t ns) {
    rewalk_ns_ = ns;
    prev_held_.assign(held_.size(), 0);
    prev_count_.assign(held_count_.size(), 0);
  }
  // A round's window: after a uTLB's first miss in a new granule since the last replay it takes further new
  // granules only for `ns` (the misses issued before its first fault is reported back); a later one waits
  // for the replay, at which it faults at once. 0: no window. After configure_slots.
  void configure_round_window(int64_t ns) {
    window_ns_ = ns;
    round_first_.assign(outstanding_.size(), -1);
    parked_.assign(outstanding_.size(), {});
    prev_parked_.assign(outstanding_.size(), {});
  }
  // One warp access a round: a uTLB faults only on the misses of the first warp access that faulted on it
  // since the last replay.
  void configure_one_access() { owner_.assign(outstanding_.size(), 0); }
  static constexpr int64_t kOtherAccess = -2;  // raise: the uTLB serves another warp access this round
  // The driver replayed at `now`: every uTLB's miss slots are free again (with the re-walk, the granules
  // held until now are kept as the previous round's).
  void replayed(int64_t now) {
    if (rewalk_ns_ > 0) {
      held_.swap(prev_held_);  // held_ then holds stale granules, unread below its counts, zeroed next
      held_count_.swap(prev_count_);
      reopen_at_ = now + rewalk_ns_;
    }
    std::fill(held_count_.begin(), held_count_.end(), 0);
    std::fill(round_first_.begin(), round_first_.end(), -1);
    parked_.swap(prev_parked_);  // the granules the window held back fault at once after this replay
    for (auto& p : parked_) p.clear();
    std::fill(faulting_flag_.begin(), faulting_flag_.end(), 0);
    faulting_ = 0;
    std::fill(owner_.begin(), owner_.end(), 0);
  }
  // Raises a fault at `now`; returns its arrival in the buffer, or -1 when the uTLB (its outstanding entries
  // or its miss slots) or the buffer is full, or the uTLB may not fault before the next replay (the cap on
  // faulting uTLBs): the access is not entered and must be issued again after a replay. `reissue`: its CTA
  // re-issues at a replay; with the cap's reissues_only only such an access is refused by the cap, another
  // faults whatever the count (and counts its uTLB as faulting). `warp`: the warp of the CTA whose access
  // it is; with one warp access a round, kOtherAccess when the uTLB serves another this round.
  int64_t raise(int64_t now, uint32_t page, uint8_t kind, uint32_t utlb, uint32_t slot, uint64_t cta_start,
                uint32_t tenant, uint32_t kernel, bool reissue = true, uint32_t warp = 0) {
    // the access: its CTA's start ordinal (unique) and its warp; 0 is no owner
    const uint64_t access = owner_.empty() ? 0 : (cta_start << 8 | (warp & 0xff)) + 1;
    if (access != 0 && owner_[utlb] != 0 && owner_[utlb] != access) return kOtherAccess;
    if (outstanding_[utlb] >= max_outstanding_ || heap_.size() + pending_ >= capacity_) return -1;
    const bool capped = reissue || !cap_reissues_only_;
    if (max_faulting_ > 0 && capped && !faulting_flag_[utlb] && faulting_ >= max_faulting_) return -1;
    int64_t not_before = 0;  // a new granule's miss waits for the re-walk of the held ones (configure_rewalk)
    if (slots_ > 0 && !take_slot(utlb, page / granule_, write_closes_ && kind != 0, now, &not_before))
      return -1;
    if (max_faulting_ > 0 && !faulting_flag_[utlb]) faulting_flag_[utlb] = 1, ++faulting_;
    if (access != 0) owner_[utlb] = access;
    if (write_ns_ > 0) {  // queued for the port; the estimate: the port's next write once it is ready
      // ready after the latency, and gpu.fault_issue_ns after this uTLB's previous entry was
      const int64_t ready = std::max({now + latency_ns_, next_[utlb], not_before});
      next_[utlb] = ready + issue_ns_;
      queues_[utlb].push_back(FaultEntry{ready, seq_++, page, kind, utlb, slot, cta_start, tenant, kernel});
      ++pending_;
      ++outstanding_[utlb];
      return std::max(ready, port_free_);
    }
    const int64_t arrival = std::max({now + latency_ns_, next_[utlb], not_before});
    next_[utlb] = arrival + issue_ns_;
    ++outstanding_[utlb];
    heap_.push_back(FaultEntry{arrival, seq_++, page, kind, utlb, slot, cta_start, tenant, kernel});
    std::push_heap(heap_.begin(), heap_.end(), Later{});
    return arrival;
  }
  // Moves entries that have arrived by `now` into `out`, in arrival order, until it holds `max`.
  void fetch(int64_t now, size_t max, std::vector<FaultEntry>& out) {
    advance(now);
    while (!heap_.empty() && heap_.front().arrival <= now && out.size() < max) {
      std::pop_heap(heap_.begin(), heap_.end(), Later{});
      out.push_back(heap_.back());
      heap_.pop_back();
      left(out.back());
    }
  }
  // Discards the entries that arrived by `put`; returns how many. One pass and one heap rebuild.
  uint64_t flush(int64_t put) {
    advance(put);
    const size_t before = heap_.size();
    auto kept = std::remove_if(heap_.begin(), heap_.end(), [&](const FaultEntry& e) {
      if (e.arrival > put) return false;
      left(e);
      return true;
    });
    heap_.erase(kept, heap_.end());
    std::make_heap(heap_.begin(), heap_.end(), Later{});
    return before - heap_.size();
  }
  bool empty() const { return heap_.empty() && pending_ == 0; }
  size_t size() const { return heap_.size() + pending_; }
  // When the earliest entry reached (or, still queued for the port, will reach) the buffer.
  int64_t earliest_arrival() const {
    return heap_.empty() ? std::max(earliest_ready(), port_free_) : heap_.front().arrival;
  }
  uint32_t utlbs() const { return uint32_t(outstanding_.size()); }

 private:
  // The uTLB's slot for granule `g`: the one it holds, else a free one (a write's closes the uTLB to new
  // granules); false when none is free.
  bool take_slot(uint32_t utlb, uint32_t g, bool write, int64_t now, int64_t* not_before) {
    uint32_t* held = held_.data() + size_t(utlb) * slots_;
    uint32_t& n = held_count_[utlb];
    if (std::find(held, held + n, g) != held + n) return true;
    if (n == slots_) return false;
    if (rewalk_ns_ > 0 && prev_count_[utlb] > 0) {  // it held granules at the replay: they are re-walked
      const uint32_t* prev = prev_held_.data() + size_t(utlb) * slots_;
      if (std::find(prev, prev + prev_count_[utlb], g) == prev + prev_count_[utlb]) *not_before = reopen_at_;
    }
    if (window_ns_ > 0) {  // the round's window (configure_round_window), at when the miss goes out
      const std::vector<uint32_t>& waited = prev_parked_[utlb];
      if (std::find(waited.begin(), waited.end(), g) != waited.end()) *not_before = 0;  // held back: at once
      const int64_t at = std::max(now, *not_before);
      int64_t& first = round_first_[utlb];
      if (first < 0) {
        first = at;
      } else if (at > first + window_ns_) {
        std::vector<uint32_t>& parked = parked_[utlb];
        if (std::find(parked.begin(), parked.end(), g) == parked.end()) parked.push_back(g);
        return false;
      }
    }
    if (write) {
      held[slots_ - 1] = g;  // granules [n, slots - 1) stay unused until the replay; none is searched twice
      std::fill(held + n, held + slots_ - 1, g);
      n = slots_;
      return true;
    }
    held[n++] = g;
    return true;
  }
  // When the first entry queued for the port is ready (INT64_MAX: none queued).
  int64_t earliest_ready() const {
    int64_t ready = INT64_MAX;
    for (const auto& q : queues_)
      if (!q.empty()) ready = std::min(ready, q.front().arrival);
    return ready;
  }
  // Writes the queued entries the port reaches by `t`, in its order (configure_port).
  void advance(int64_t t) {
    while (pending_ > 0) {
      const int64_t at = std::max(earliest_ready(), port_free_);
      if (at > t) return;
      // The next GPC in turn with a uTLB ready at `at`; within it, the uTLB in turn (its burst not spent),
      // else the next ready one.
      const uint32_t gpcs = uint32_t(gpc_utlbs_.size());
      for (uint32_t i = 0; i < gpcs; ++i) {
        const uint32_t g = (gpc_next_ + i) % gpcs;
        const auto& us = gpc_utlbs_[g];
        const uint32_t n = uint32_t(us.size());
        auto ready_at = [&](uint32_t k) {
          return !queues_[us[k]].empty() && queues_[us[k]].front().arrival <= at;
        };
        uint32_t k = gpc_turn_[g];
        if (!(gpc_burst_[g] < burst_ && ready_at(k))) {
          uint32_t j = 1;
          while (j <= n && !ready_at((k + j) % n)) ++j;
          if (j > n) continue;  // none of this GPC's uTLBs is ready
          k = (k + j) % n;
          gpc_turn_[g] = k;
          gpc_burst_[g] = 0;
        }
        FaultEntry e = queues_[us[k]].front();
        queues_[us[k]].pop_front();
        --pending_;
        ++gpc_burst_[g];
        e.arrival = at;
        heap_.push_back(e);
        std::push_heap(heap_.begin(), heap_.end(), Later{});
        port_free_ = at + write_ns_;
        gpc_next_ = (g + 1) % gpcs;
        break;
      }
    }
  }
  struct Later {
    bool operator()(const FaultEntry& x, const FaultEntry& y) const {
      return x.arrival != y.arrival ? x.arrival > y.arrival : x.seq > y.seq;
    }
  };
  void left(const FaultEntry& e) {
    --outstanding_[e.utlb];
    client_->entry_left(e);
  }
  std::vector<FaultEntry> heap_;  // ordered by Later
  // The write port (write_ns_ > 0): each uTLB's queued entries (arrival: when ready), its GPCs' uTLBs.
  int64_t write_ns_ = 0, port_free_ = 0;
  uint32_t burst_ = 1, gpc_next_ = 0;
  size_t pending_ = 0;
  std::vector<std::deque<FaultEntry>> queues_;
  std::vector<std::vector<uint32_t>> gpc_utlbs_;
  std::vector<uint32_t> gpc_turn_, gpc_burst_;
  uint64_t seq_ = 0;
  std::vector<uint32_t> outstanding_;
  // Miss slots (slots_ > 0): uTLB u's held granules are held_[u * slots_, + held_count_[u]).
  uint32_t slots_ = 0, granule_ = 1;
  // The re-walk after a replay (rewalk_ns_ > 0): the granules each uTLB held before the last replay (laid out
  // as held_), and when a uTLB that held any takes a new one.
  int64_t rewalk_ns_ = 0, reopen_at_ = 0;
  int64_t window_ns_ = 0;
  std::vector<int64_t> round_first_;  // configure_round_window: per uTLB, its round's first new granule (-1)
  // and the granules the window held back this round and the last (those fault at once after the replay:
  // the H100's staggered-warp probe, where the lanes the slots held back come after the re-walk)
  std::vector<std::vector<uint32_t>> parked_, prev_parked_;
  std::vector<uint32_t> prev_held_, prev_count_;
  bool write_closes_ = false;
  std::vector<uint32_t> held_, held_count_;
  uint32_t max_faulting_ = 0, faulting_ = 0;  // configure_faulting_utlbs
  bool cap_reissues_only_ = false;
  std::vector<uint8_t> faulting_flag_;
  std::vector<uint64_t> owner_;  // configure_one_access: per uTLB, the access it serves this round (0: none)
  std::vector<int64_t> next_;
  const uint32_t max_outstanding_;
  const size_t capacity_;
  const int64_t latency_ns_, issue_ns_;
  Client* client_ = nullptr;
};

}  // namespace uvmsim
