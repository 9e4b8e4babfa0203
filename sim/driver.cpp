// The UVM driver model (reference/uvm-driver.md): the replayable-fault bottom half with batches, coalescing,
// sorting and per-VA-block service; GPU memory in 2 MiB root chunks with synchronous eviction; CPU faults;
// explicit prefetch. The servicing thread's CPU time and the copy engines' transfers overlap within a
// batch; the replay waits for both.
#include <algorithm>
#include <optional>

#include "sim/simulator.h"

namespace uvmsim {

namespace {
constexpr uint64_t kPage = trace::kPageBytes;
}

void Simulator::set_loc(uint32_t p, Loc l) {
  const uint32_t b = p / kPagesPerBlock, q = p % kPagesPerBlock;
  gpu_mask_[b].set(q, l == kOnGpu);
  cpu_mask_[b].set(q, l == kOnCpu);
  loc_[p] = l;
  gpu_ok_[p] = l == kOnGpu;
}

void Simulator::start_service() {
  in_service_ = true;
  service_batches_ = 0;
  service_throttled_ = 0;
  ++stats_.service_calls;
  service_batch();
}

void Simulator::service_batch() {
  const int64_t t0 = now_;
  const size_t batch_count = size_t(cfg_.driver.fault_batch_count);
  batch_.clear();
  // Fetch: entries that have reached the buffer, up to the batch size. Reading frees their slots.
  while (!buffer_.empty() && buffer_.front().arrival <= now_ && batch_.size() < batch_count) {
    std::pop_heap(buffer_.begin(), buffer_.end(), FaultLater{});
    FaultEntry e = buffer_.back();
    buffer_.pop_back();
    entry_left_buffer(e);
    batch_.push_back(e);
  }
  if (batch_.empty()) {
    end_service(now_);
    return;
  }
  const size_t raw = batch_.size();
  stats_.faults_fetched += raw;
  for (const FaultEntry& e : batch_) {  // the batch counts once for each tenant with an entry in it
    if (tenant_batch_[e.tenant] != stats_.batches + 1) {
      tenant_batch_[e.tenant] = stats_.batches + 1;
      ++stats_.tenants[e.tenant].batches;
    }
  }

  // Coalesce: same uTLB and page as that uTLB's previous fault, or the batch's previous fault's page with
  // an access kind no stronger. The kept entry holds the strongest kind.
  size_t kept = 0;
  if (cfg_.driver.fault_coalesce) {
    std::vector<std::pair<uint32_t, size_t>> utlb_last(utlb_outstanding_.size(), {~0u, 0});
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
  int64_t cpu = now_ + cfg_.driver.batch_fixed_ns + cfg_.driver.fault_ns * int64_t(unique) +
                cfg_.driver.duplicate_fault_ns * int64_t(raw - unique);
  if (memory_restricts_) {  // eviction ahead of demand, before the batch's own service
    const uint32_t ahead = memory_allocation_->evict_ahead(
        BatchStartView{uint32_t(free_chunks_.size()), capacity_chunks_, uint32_t(raw)});
    for (uint32_t n = 0; n < ahead && evict_one(cpu, kNoChunk, batch_.front().tenant, false); ++n) {
    }
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
      if (gpu_ok_[p]) {
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
          gpu_ok_[p] = 1;
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
      valid_mask_[b].for_each([&](uint32_t q) {
        if (thrashing_->is_thrashing(base + q)) thrash.set(q);
      });
    const BlockMask& resident = gpu_mask_[b];
    PrefetchView v{lo_of(b), hi_of(b), resident, faulted, thrash, !block_touched_[b], block_pref_gpu_[b] != 0,
                   nfault};
    BlockMask migrate = faulted | (prefetch_->prefetch(v) & ~resident);
    if (stats_.remote_maps > 0)  // remote-mapped pages stay where they are
      migrate.for_each([&](uint32_t q) {
        if (gpu_ok_[base + q] && loc_[base + q] != kOnGpu) migrate.reset(q);
      });
    const uint64_t evicted_before = stats_.chunks_evicted;
    done = std::max(done, make_resident_gpu(b, migrate, faulted, false, cpu));
    if (tlp_limits_ && stats_.chunks_evicted != evicted_before) tlp_->on_eviction_fault(tenant);
    if (after_block) {
      cpu = std::max(cpu, done) + cfg_.driver.replay_ns;
      push_replay(cpu);
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
                << ' ' << (end - t0) << '\n';
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
      q_.push(end, kPrioReplay, kEvFlush, 0, uint64_t(update_put ? end : t0));
    }
    end += cfg_.driver.replay_ns;
    push_replay(end);
  }
  if (service_batches_ < uint32_t(cfg_.driver.fault_max_batches_per_service) &&
      service_throttled_ < uint32_t(cfg_.driver.fault_max_throttle_per_service)) {
    q_.push(end, kPrioDriver, kEvBatch);
  } else {
    end_service(end);
  }
}

void Simulator::end_service(int64_t t) {
  if (replay_->point() == ReplayPoint::kAfterService) {
    t += cfg_.driver.replay_ns;
    push_replay(t);
  }
  in_service_ = false;
  if (!buffer_.empty() && !interrupt_pending_) {
    interrupt_pending_ = true;
    q_.push(std::max(t, buffer_.front().arrival) + cfg_.driver.isr_latency_ns, kPrioDriver, kEvInterrupt);
  }
}

// Discards the buffer's entries that arrived by `put`. One linear pass and one heap rebuild, not a pop per
// entry (the buffer can hold thousands).
void Simulator::flush(int64_t put) {
  auto kept = std::remove_if(buffer_.begin(), buffer_.end(), [&](const FaultEntry& e) {
    if (e.arrival > put) return false;
    entry_left_buffer(e);
    ++stats_.faults_flushed;
    return true;
  });
  buffer_.erase(kept, buffer_.end());
  std::make_heap(buffer_.begin(), buffer_.end(), FaultLater{});
}

void Simulator::entry_left_buffer(const FaultEntry& e) {
  --utlb_outstanding_[e.utlb];
  CtaSlot& c = slots_[e.slot];
  if (c.live && c.start == e.cta_start) --c.in_buffer;
}

void Simulator::push_replay(int64_t t) {
  ++replays_pending_;
  q_.push(t, kPrioReplay, kEvReplay);
}

void Simulator::replay() {
  ++stats_.replays;
  std::vector<uint32_t> wake;
  wake.swap(stalled_);
  for (uint32_t slot : wake) {
    CtaSlot& c = slots_[slot];
    if (!c.live || !c.stalled) continue;
    if (c.frozen) {
      c.wake_on_resume = true;  // its process is switched out: it re-issues on its next turn
    } else {
      cta_step(slot);
    }
  }
}

// ---------------------------------------------------------------- GPU memory

bool Simulator::ensure_chunk(uint32_t b, int64_t& cpu, uint32_t pinned_block) {
  if (block_chunk_[b] != kNoChunk) return false;
  if (free_chunks_.empty())
    evict_one(cpu, pinned_block, tenant_of_page(pinned_block * kPagesPerBlock + lo_of(pinned_block)), true);
  uint32_t c = free_chunks_.back();
  free_chunks_.pop_back();
  block_chunk_[b] = c;
  chunk_block_[c] = b;
  ++stats_.chunks_allocated;
  eviction_->on_allocate(c, cpu);
  return true;
}

bool Simulator::evict_one(int64_t& cpu, uint32_t pinned_block, uint32_t by_tenant, bool needed) {
  uint32_t victim = eviction_->pick_victim([&](uint32_t c) {
    const uint32_t b = chunk_block_[c];
    return b != kNoChunk && b != pinned_block && (!memory_restricts_ || memory_allocation_->evictable(b, block_tenant_[b]));
  });
  if (victim == kNoChunk) {
    if (!needed) return false;
    throw SimError("GPU memory of " + std::to_string(capacity_chunks_) +
                   " root chunk(s) cannot hold the VA blocks one step needs" +
                   (memory_restricts_ ? " among the chunks memory_allocation policy '" +
                                            cfg_.policy("memory_allocation") + "' lets eviction take"
                                      : std::string()) +
                   ": raise gpu.memory_bytes or memory_fraction");
  }
  uint32_t vb = chunk_block_[victim];
  BlockMask pages = gpu_mask_[vb];
  cpu += cfg_.driver.evict_chunk_ns;
  ++stats_.chunks_evicted;
  ++stats_.tenants[tenant_of_page(vb * kPagesPerBlock + (pages.any() ? pages.first() : lo_of(vb)))]
        .chunks_evicted_from;
  ++stats_.tenants[by_tenant].chunks_evicted_by;
  evicted_pages_[vb] = pages;
  evicted_at_[vb] = cpu;
  stats_.pages_evicted += pages.count();
  cpu = std::max(cpu, move_to_cpu(vb, pages, BlockMask{}, kCauseEviction, cpu));
  if (block_chunk_[vb] != kNoChunk) throw SimError("internal: evicted chunk was not released");
  return true;
}

void Simulator::release_chunk_if_empty(uint32_t b) {
  if (gpu_mask_[b].any() || block_chunk_[b] == kNoChunk) return;
  uint32_t c = block_chunk_[b];
  eviction_->on_free(c);
  chunk_block_[c] = kNoChunk;
  block_chunk_[b] = kNoChunk;
  free_chunks_.push_back(c);
}

namespace {
// Walks `pages` in order and calls copy(first, count, key) once per run of consecutive pages with the
// same key(page): one copy per contiguous run of one source and cause, as the driver pushes them.
template <typename Key, typename Copy>
void for_each_run(const BlockMask& pages, Key&& key, Copy&& copy) {
  uint32_t start = 0, len = 0;
  uint8_t k = 0;
  pages.for_each([&](uint32_t q) {
    uint8_t kq = key(q);
    if (len > 0 && (kq != k || start + len != q)) {
      copy(start, len, k);
      len = 0;
    }
    if (len == 0) {
      start = q;
      k = kq;
    }
    ++len;
  });
  if (len > 0) copy(start, len, k);
}
}  // namespace

// Makes `pages` of block b resident on the GPU: a chunk (evicting if needed), zero-fill for pages resident
// nowhere, one HtoD copy per contiguous run of one cause for pages on the CPU, CPU unmap, GPU map with the
// largest PTEs that fit. Advances the servicing CPU time; returns when the copies are complete.
int64_t Simulator::make_resident_gpu(uint32_t b, const BlockMask& pages, const BlockMask& faulted, bool user,
                                     int64_t& cpu) {
  const BlockMask todo = pages & valid_mask_[b] & ~gpu_mask_[b];
  if (todo.none()) return cpu;
  const uint32_t base = b * kPagesPerBlock;
  bool fresh = ensure_chunk(b, cpu, b);
  if (!fresh) eviction_->on_resident_again(block_chunk_[b], cpu);
  int64_t done = cpu;
  const BlockMask from_cpu = todo & cpu_mask_[b];
  std::optional<PcieLink::Push> push;  // the block's copies: one push, opened at its first copy
  // key: bit 0 = source is the CPU, bits 1.. = cause
  auto key = [&](uint32_t q) -> uint8_t {
    uint8_t cause = user ? kCauseUser : faulted.test(q) ? kCauseCoherence : kCausePrefetch;
    return uint8_t(cause << 1 | (from_cpu.test(q) ? 1 : 0));
  };
  for_each_run(todo, key, [&](uint32_t first, uint32_t len, uint8_t k) {
    uint64_t bytes = uint64_t{len} * kPage;
    if (k & 1) {
      std::pair<int64_t, int64_t> data;
      if (!push) push = pcie_.push(Dir::kHtoD, cpu);
      done = std::max(done, pcie_.copy(*push, bytes, &data));
      stats_.bytes_htod[k >> 1] += bytes;
      count_tenant_bytes(b, first, len, true);
      htod_copies_.add(data.first, data.second);
    } else {
      zero_fill_free_ = std::max(zero_fill_free_, cpu) +
                        mul_div_ceil(bytes, 1000000000u, uint64_t(cfg_.gpu.zero_fill_bytes_per_s));
      done = std::max(done, zero_fill_free_);
      stats_.bytes_zero_filled += bytes;
    }
  });
  from_cpu.for_each([&](uint32_t q) { thrashing_->on_migration(base + q, Processor::kGpu, cpu); });
  todo.for_each([&](uint32_t q) { set_loc(base + q, kOnGpu); });
  const uint32_t moved = todo.count(), nfaulted = (todo & faulted).count();
  if (!user) {
    stats_.pages_faulted_in += nfaulted;
    stats_.pages_prefetched += moved - nfaulted;
    // Refaults: faulted pages that the block's latest eviction took, within the window.
    if (evicted_at_[b] >= 0 && cpu - evicted_at_[b] <= cfg_.stats.refault_window_ns)
      (todo & faulted & evicted_pages_[b]).for_each([&](uint32_t q) {
        ++stats_.tenants[tenant_of_page(base + q)].refaults;
      });
  }
  evicted_pages_[b] &= ~todo;  // back on the GPU
  block_touched_[b] = 1;
  // Page-table entries: one 2 MiB PTE if the whole block is resident, else a 64 KiB PTE per fully resident
  // big page and 4 KiB PTEs for the rest of the pages just mapped.
  uint64_t ptes = 0;
  if (gpu_mask_[b] == valid_mask_[b]) {
    ptes = 1;
  } else {
    for (int i = 0; i < 8; ++i)
      for (int g = 0; g < 4; ++g) {
        uint64_t sh = 16 * uint64_t(g);
        uint64_t t = (todo.w[i] >> sh) & 0xffff;
        if (!t) continue;
        bool full = ((gpu_mask_[b].w[i] >> sh) & 0xffff) == ((valid_mask_[b].w[i] >> sh) & 0xffff);
        ptes += full ? 1 : uint64_t(std::popcount(t));
      }
  }
  if (user) {
    cpu += cfg_.driver.prefetch_op_page_ns * int64_t(moved);
  } else {
    cpu += cfg_.driver.page_ns * int64_t(moved) + cfg_.driver.cpu_unmap_page_ns * int64_t(from_cpu.count());
  }
  cpu += cfg_.driver.pte_ns * int64_t(ptes);
  return done;
}

// Moves GPU-resident `pages` of block b to the CPU (one DtoH copy per contiguous run of one cause) and
// unmaps them from the GPU; frees the block's chunk if nothing of it stays. Returns when copies complete.
int64_t Simulator::move_to_cpu(uint32_t b, const BlockMask& pages, const BlockMask& faulted, uint8_t cause,
                               int64_t t) {
  const uint32_t base = b * kPagesPerBlock;
  const BlockMask todo = pages & gpu_mask_[b];
  int64_t done = t;
  std::optional<PcieLink::Push> push;
  for_each_run(
      todo, [&](uint32_t q) { return faulted.test(q) ? uint8_t(kCauseCoherence) : cause; },
      [&](uint32_t first, uint32_t len, uint8_t c) {
        uint64_t bytes = uint64_t{len} * kPage;
        if (!push) push = pcie_.push(Dir::kDtoH, t);
        done = std::max(done, pcie_.copy(*push, bytes));
        stats_.bytes_dtoh[c] += bytes;
        count_tenant_bytes(b, first, len, false);
      });
  todo.for_each([&](uint32_t q) {
    set_loc(base + q, kOnCpu);
    if (cause != kCauseEviction) thrashing_->on_migration(base + q, Processor::kCpu, t);
  });
  release_chunk_if_empty(b);
  return done;
}

// ---------------------------------------------------------------- host side

int64_t Simulator::host_access(uint32_t op, int64_t t) {
  const DenseRange& r = w_.op_pages[op];
  for (uint32_t p = r.page; p < r.page + r.count; ++p) {
    switch (loc_[p]) {
      case kOnCpu:
        t += cfg_.host.touch_page_ns;
        break;
      case kNowhere:
        t += cfg_.host.first_touch_page_ns;
        set_loc(p, kOnCpu);
        block_touched_[p / kPagesPerBlock] = 1;
        break;
      default:
        t = cpu_fault(p, t);
        break;
    }
    check_time(t);  // per page: a bounded step, so the sum cannot overflow before it is refused
  }
  return t;
}

// A CPU touch of a GPU-resident page: the driver migrates it back with the prefetcher's region toward
// the CPU (the faulted page and the rest as separate DtoH records), then maps it on the CPU.
int64_t Simulator::cpu_fault(uint32_t p, int64_t t) {
  const uint32_t b = p / kPagesPerBlock, base = b * kPagesPerBlock;
  ++stats_.cpu_faults;
  t += cfg_.host.cpu_fault_ns;
  if (thrashing_->counters().thrashing_pages > 0) {
    ThrashHint h = thrashing_->hint(p, Processor::kCpu, t);
    if (h == ThrashHint::kThrottle) t += thrashing_->throttle_ns();
    if (h == ThrashHint::kPin) {  // pinned on the GPU: the CPU maps it remotely
      ++stats_.remote_maps;
      return t;
    }
  }
  BlockMask faulted, thrash;
  faulted.set(p - base);
  PrefetchView v{lo_of(b), hi_of(b), cpu_mask_[b], faulted, thrash, false, block_pref_gpu_[b] == 0, 1};
  BlockMask mask = (faulted | prefetch_->prefetch(v)) & gpu_mask_[b];
  int64_t done = move_to_cpu(b, mask, faulted, kCausePrefetch, t);
  stats_.cpu_fault_pages += mask.count();
  t += cfg_.host.cpu_fault_page_ns * int64_t(mask.count());
  return std::max(t, done);
}

int64_t Simulator::prefetch_op(uint32_t op, int64_t t) {
  const DenseRange& r = w_.op_pages[op];
  const bool to_gpu = w_.trace.ops[op].kind == trace::OpKind::kMemset || w_.trace.ops[op].device >= 0;
  int64_t cpu = t, done = t;
  for (uint32_t b = r.page / kPagesPerBlock; b <= (r.page + r.count - 1) / kPagesPerBlock; ++b) {
    cpu += cfg_.driver.prefetch_op_block_ns;
    const uint32_t base = b * kPagesPerBlock;
    uint32_t lo = std::max(base, r.page) - base,
             hi = std::min(base + kPagesPerBlock, r.page + r.count) - base;
    BlockMask mask = BlockMask::range(lo, hi) & valid_mask_[b] & (to_gpu ? ~gpu_mask_[b] : gpu_mask_[b]);
    if (mask.none()) continue;
    if (to_gpu) {
      done = std::max(done, make_resident_gpu(b, mask, BlockMask{}, true, cpu));
    } else {
      cpu += cfg_.driver.prefetch_op_page_ns * int64_t(mask.count());
      done = std::max(done, move_to_cpu(b, mask, BlockMask{}, kCauseUser, cpu));
    }
    check_time(cpu);
  }
  return std::max(cpu, done);
}

void Simulator::free_allocation(uint32_t a) {
  uint32_t first = w_.alloc_first[a], n = w_.alloc_pages[a];
  for (uint32_t p = first; p < first + n; ++p) {
    if (loc_[p] == kOnGpu) stats_.bytes_freed_on_gpu += kPage;
    set_loc(p, kNowhere);
  }
  for (uint32_t b = first / kPagesPerBlock; b <= (first + n - 1) / kPagesPerBlock; ++b)
    release_chunk_if_empty(b);
}

}  // namespace uvmsim
