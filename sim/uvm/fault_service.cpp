// The uvm component, fault servicing (reference in sim/MODEL.md): the replayable-fault bottom half with
// batches, coalescing, sorting and per-VA-block service, and the replays. The servicing thread's CPU time
// and the copy engines' transfers overlap within a batch; the replay waits for both.
#include <algorithm>

#include "sim/gpu/gpu.h"
#include "sim/uvm/uvm.h"

namespace uvmsim {

void Uvm::start_service() {
  in_service_ = true;
  service_batches_ = 0;
  if (batch_records_) service_first_record_ = batch_records_->size();
  service_throttled_ = 0;
  ++stats_.service_calls;
  service_batch();
}

void Uvm::service_batch() {
  const int64_t t0 = now();
  const size_t batch_count = size_t(cfg_.driver.fault_batch_count);
  batch_.clear();
  // Fetch: entries that have reached the buffer, up to the batch size. Reading frees their slots.
  buffer_.fetch(now(), batch_count, batch_);
  if (batch_.empty()) {
    fetch_lag_ = 0;
    end_service(now());
    return;
  }
  const size_t raw = batch_.size();
  // What the batch log and validation report of the entries fetched (before coalescing): the uTLBs with an
  // entry, the kernel most entries came from, the lowest and highest page named, the earliest arrival.
  uint32_t utlbs = 0, kernel = 0, low_page = 0, high_page = 0;
  int64_t first_arrival = batch_.front().arrival;
  if (batch_log_ || batch_records_) {
    std::vector<bool> seen(buffer_.utlbs());
    std::vector<std::pair<uint32_t, uint32_t>> per_kernel;  // (kernel, entries)
    low_page = high_page = batch_.front().page;
    for (const FaultEntry& e : batch_) {
      if (!seen[e.utlb]) seen[e.utlb] = true, ++utlbs;
      first_arrival = std::min(first_arrival, e.arrival);
      low_page = std::min(low_page, e.page);
      high_page = std::max(high_page, e.page);
      auto it = std::find_if(per_kernel.begin(), per_kernel.end(),
                             [&](const auto& k) { return k.first == e.kernel; });
      if (it == per_kernel.end())
        per_kernel.push_back({e.kernel, 1});
      else
        ++it->second;
    }
    uint32_t most = 0;
    for (const auto& [k, n] : per_kernel)
      if (n > most) most = n, kernel = k;
  }
  stats_.faults_fetched += raw;
  BatchRecord record;
  if (batch_records_) {
    record.entries = uint32_t(raw);
    record.kernel = kernel;
    record.first_arrival_ns = first_arrival;
  }
  for (const FaultEntry& e : batch_) {  // the batch counts once for each tenant with an entry in it
    tenants_.in_batch(e.tenant, stats_.batches + 1);
  }

  // Coalesce: same uTLB and page as that uTLB's previous fault, or the batch's previous fault's page with
  // an access kind no stronger. The kept entry holds the strongest kind.
  size_t kept = 0;
  if (cfg_.driver.fault_coalesce) {
    std::vector<std::pair<uint32_t, size_t>> utlb_last(buffer_.utlbs(), {~0u, 0});
    for (size_t i = 0; i < raw; ++i) {
      FaultEntry e = batch_[i];
      auto& last = utlb_last[e.utlb];
      if (last.first == e.page) {
        batch_[last.second].kind = std::max(batch_[last.second].kind, e.kind);
        ++stats_.faults_coalesced;
        continue;
      }
      if (kept > 0 && batch_[kept - 1].page == e.page && e.kind <= batch_[kept - 1].kind) {
        ++stats_.faults_coalesced;
        continue;
      }
      batch_[kept] = e;
      last = {e.page, kept};
      ++kept;
    }
    batch_.resize(kept);
  }
  // Preprocess: sort by address, strongest access first.
  std::sort(batch_.begin(), batch_.end(), [](const FaultEntry& x, const FaultEntry& y) {
    return x.page != y.page ? x.page < y.page : x.kind > y.kind;
  });

  // Entries of a page already in the batch (coalesced, or equal after sorting) cost duplicate_fault_ns.
  uint64_t unique = 0;
  for (size_t i = 0; i < batch_.size(); ++i) unique += i == 0 || batch_[i].page != batch_[i - 1].page;
  // driver.batch_fixed_ns runs from the previous replay (the fetch, driver.replay_fetch_ns after it, falls
  // within it) or, after an interrupt, from the fetch.
  const int64_t fixed = std::max<int64_t>(0, cfg_.driver.batch_fixed_ns - fetch_lag_);
  fetch_lag_ = 0;
  int64_t cpu = now() + fixed + cfg_.driver.fault_ns * int64_t(unique) +
                cfg_.driver.duplicate_fault_ns * int64_t(raw - unique);
  if (memory_restricts_) {  // eviction ahead of demand: before the batch's own service, or overlapping it
    uint32_t missing = 0;
    for (size_t i = 0; i < batch_.size(); ++i) {
      const uint32_t b = batch_[i].page / kPagesPerBlock;
      missing += block_chunk_[b] == kNoChunk && (i == 0 || batch_[i - 1].page / kPagesPerBlock != b);
    }
    const uint32_t ahead = memory_allocation_->evict_ahead(
        BatchStartView{uint32_t(free_chunks_.size()), capacity_chunks_, uint32_t(raw), missing});
    const bool overlap = memory_allocation_->overlaps_eviction();
    int64_t evict_cpu = overlap ? now() : cpu;  // overlapped: from the batch's start, during its preprocessing
    for (uint32_t n = 0; n < ahead && evict_one(evict_cpu, kNoChunk, batch_.front().tenant, false, overlap); ++n) {
    }
    cpu = overlap ? std::max(cpu, evict_cpu) : evict_cpu;
  }
  int64_t done = cpu;
  uint64_t blocks = 0;
  const uint64_t bytes_before =
      batch_log_ ? stats_.bytes_zero_filled + htod_bytes(stats_) + dtoh_bytes(stats_) : 0;
  bool throttled = false;
  const bool after_block = replay_->point() == ReplayPoint::kAfterBlock;
  const bool any_thrashing = thrashing_->counters().thrashing_pages > 0;

  for (size_t i = 0; i < batch_.size();) {
    const uint32_t tenant = batch_[i].tenant;
    uint32_t b = batch_[i].page / kPagesPerBlock;
    uint32_t base = b * kPagesPerBlock;
    BlockMask faulted;
    uint32_t nfault = 0;
    uint32_t prev = ~0u;
    for (; i < batch_.size() && batch_[i].page / kPagesPerBlock == b; ++i) {
      uint32_t p = batch_[i].page;
      if (p == prev) continue;  // duplicate page: serviced once
      prev = p;
      if (pages_.mapped(p)) {
        ++stats_.faults_stale;
        continue;
      }
      if (any_thrashing) {
        ThrashHint h = thrashing_->hint(p, Processor::kGpu, cpu);
        if (h == ThrashHint::kThrottle) {
          ++stats_.faults_throttled;
          throttled = true;
          continue;
        }
        if (h == ThrashHint::kPin) {  // pinned on the CPU: map it remotely instead of migrating
          pages_.map_remote(p);
          ++stats_.remote_maps;
          cpu += cfg_.driver.pte_ns;
          continue;
        }
      }
      faulted.set(p - base);
      ++nfault;
    }
    ++blocks;
    cpu += cfg_.driver.va_block_ns;
    if (nfault == 0) continue;
    BlockMask thrash;
    if (any_thrashing)
      pages_.valid(b).for_each([&](uint32_t q) {
        if (thrashing_->is_thrashing(base + q)) thrash.set(q);
      });
    const BlockMask& resident = pages_.on_gpu(b);
    PrefetchView v{
        pages_.lo(b), pages_.hi(b), resident, faulted, thrash, !block_touched_[b], block_pref_gpu_[b] != 0,
        nfault};
    BlockMask migrate = faulted | (prefetch_->prefetch(v) & ~resident);
    if (stats_.remote_maps > 0)  // remote-mapped pages stay where they are
      migrate.for_each([&](uint32_t q) {
        if (pages_.mapped(base + q) && pages_.loc(base + q) != kOnGpu) migrate.reset(q);
      });
    const uint64_t evicted_before = stats_.chunks_evicted;
    done = std::max(done, make_resident_gpu(b, migrate, faulted, false, cpu));
    if (stats_.chunks_evicted != evicted_before) gpu_->eviction_fault(tenant);
    if (after_block) {
      cpu = std::max(cpu, done) + cfg_.driver.replay_ns;
      push_replay(cpu);
      record.replay_ns = cpu;
    }
  }
  int64_t end = std::max(cpu, done);

  ++stats_.batches;
  stats_.faults_unique += unique;
  stats_.faults_per_batch.add(raw);
  stats_.unique_faults_per_batch.add(unique);
  stats_.va_blocks_per_batch.add(blocks);
  stats_.batch_ns.add(uint64_t(end - t0));
  if (batch_log_) {
    const uint64_t bytes_after = stats_.bytes_zero_filled + htod_bytes(stats_) + dtoh_bytes(stats_);
    *batch_log_ << t0 << ' ' << raw << ' ' << unique << ' ' << blocks << ' ' << (bytes_after - bytes_before)
                << ' ' << (end - t0) << ' ' << utlbs << ' ' << kernel << ' ' << low_page << ' ' << high_page
                << '\n';
  }
  if (throttled) ++service_throttled_;
  ++service_batches_;
  if (replay_->point() == ReplayPoint::kAfterBatch) {
    if (replay_->flush()) {
      // After the batch, discard every entry up to PUT (those accesses fault again after the replay). PUT
      // is re-read from the GPU only when more than fault_replay_update_put_ratio % of the batch were
      // duplicates; otherwise the flush stops at the PUT cached when the batch was fetched, and entries that
      // reached the buffer since stay for the next batch (stale ones cost a batch and a replay of their own).
      const bool update_put =
          100 * (raw - unique) > uint64_t(cfg_.driver.fault_replay_update_put_ratio) * raw;
      engine_.at(end, kPrioReplay, id_, kEvFlush, 0, uint64_t(update_put ? end : t0));
    }
    end += cfg_.driver.replay_ns;
    push_replay(end);
    record.replay_ns = end;
  }
  if (batch_records_) {
    record.pages = uint32_t(unique);
    record.blocks = uint32_t(blocks);
    record.utlbs = utlbs;
    batch_records_->push_back(record);
  }
  if (service_batches_ < uint32_t(cfg_.driver.fault_max_batches_per_service) &&
      service_throttled_ < uint32_t(cfg_.driver.fault_max_throttle_per_service)) {
    // The next fetch reads PUT driver.replay_fetch_ns after this batch's replay completed (the driver waits
    // on the replay, then fetches): what the replay re-issued and reached the buffer by then is in it.
    fetch_lag_ = replay_->point() == ReplayPoint::kAfterBatch ? cfg_.driver.replay_fetch_ns : 0;
    engine_.at(end + fetch_lag_, kPrioDriver, id_, kEvBatch);
  } else {
    end_service(end);
  }
}

void Uvm::end_service(int64_t t) {
  if (replay_->point() == ReplayPoint::kAfterService) {
    t += cfg_.driver.replay_ns;
    push_replay(t);
    if (batch_records_)  // the service's batches share its one replay
      for (size_t i = service_first_record_; i < batch_records_->size(); ++i)
        (*batch_records_)[i].replay_ns = t;
  }
  in_service_ = false;
  service_end_ = t;
  if (!buffer_.empty() && !interrupt_pending_) {
    interrupt_pending_ = true;
    engine_.at(std::max(t, buffer_.earliest_arrival()) + cfg_.driver.isr_latency_ns, kPrioDriver, id_,
               kEvInterrupt);
  }
}

void Uvm::push_replay(int64_t t) {
  ++replays_pending_;
  engine_.at(t, kPrioReplay, id_, kEvReplay);
}

void Uvm::fault_entered(int64_t arrival) {
  if (in_service_ || interrupt_pending_) return;
  interrupt_pending_ = true;
  engine_.at(arrival + interrupt_latency(arrival), kPrioDriver, id_, kEvInterrupt);
}

// From a fault entry that finds the driver idle to its bottom half fetching: driver.isr_latency_ns, and
// after an idle of driver.wake_idle_ns or more (driver.deep_idle_ns or more) the servicing thread's wake-up
// from sleep, driver.wake_ns (driver.deep_wake_ns): the CPU it sleeps on has gone idle, deeper the longer it
// idles. Before any service the driver has idled since the run started.
int64_t Uvm::interrupt_latency(int64_t arrival) {
  const auto& d = cfg_.driver;
  const int64_t idle = arrival - service_end_;
  if (d.deep_wake_ns > 0 && idle >= d.deep_idle_ns) {
    ++stats_.driver_deep_wakes;
    return d.isr_latency_ns + d.deep_wake_ns;
  }
  if (d.wake_ns > 0 && idle >= d.wake_idle_ns) {
    ++stats_.driver_wakes;
    return d.isr_latency_ns + d.wake_ns;
  }
  return d.isr_latency_ns;
}

}  // namespace uvmsim
