// The uvm component, residency and GPU memory: page locations, 2 MiB root chunks with synchronous
// eviction (asking the eviction and memory_allocation policies), migrations to and from the GPU.
#include <algorithm>
#include <optional>

#include "sim/gpu/gpu.h"
#include "sim/uvm/uvm.h"

namespace uvmsim {

constexpr uint64_t kPage = trace::kPageBytes;

bool Uvm::ensure_chunk(uint32_t b, int64_t& cpu, uint32_t pinned_block) {
  if (block_chunk_[b] != kNoChunk) return false;
  if (free_chunks_.empty())
    evict_one(cpu, pinned_block,
              tenants_.tenant_of_page(pinned_block * kPagesPerBlock + pages_.lo(pinned_block)), true);
  uint32_t c = free_chunks_.back();
  free_chunks_.pop_back();
  cpu = std::max(cpu, chunk_ready_[c]);  // an overlapped eviction's copy out of it must be done
  block_chunk_[b] = c;
  chunk_block_[c] = b;
  ++stats_.chunks_allocated;
  eviction_->on_allocate(c, cpu);
  return true;
}

bool Uvm::evict_one(int64_t& cpu, uint32_t pinned_block, uint32_t by_tenant, bool needed, bool overlap) {
  uint32_t victim = eviction_->pick_victim([&](uint32_t c) {
    const uint32_t b = chunk_block_[c];
    return b != kNoChunk && b != pinned_block &&
           (!memory_restricts_ || memory_allocation_->evictable(b, tenants_.tenant_of_block(b)));
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
  BlockMask pages = pages_.on_gpu(vb);
  cpu += cfg_.driver.evict_chunk_ns;
  ++stats_.chunks_evicted;
  tenants_.evicted(vb, pages, vb * kPagesPerBlock + (pages.any() ? pages.first() : pages_.lo(vb)), by_tenant,
                   cpu);
  stats_.pages_evicted += pages.count();
  if (timeline_) timeline_->eviction(cpu, vb, tenants_.tenant_of_block(vb), uint32_t(pages.count()));
  const int64_t copied = move_to_cpu(vb, pages, BlockMask{}, kCauseEviction, cpu);
  if (overlap)
    chunk_ready_[victim] = copied;
  else
    cpu = std::max(cpu, copied);
  if (block_chunk_[vb] != kNoChunk) throw SimError("internal: evicted chunk was not released");
  return true;
}

void Uvm::release_chunk_if_empty(uint32_t b) {
  if (pages_.on_gpu(b).any() || block_chunk_[b] == kNoChunk) return;
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
int64_t Uvm::make_resident_gpu(uint32_t b, const BlockMask& pages, const BlockMask& faulted, bool user,
                               int64_t& cpu) {
  const BlockMask todo = pages & pages_.valid(b) & ~pages_.on_gpu(b);
  if (todo.none()) return cpu;
  const uint32_t base = b * kPagesPerBlock;
  bool fresh = ensure_chunk(b, cpu, b);
  if (!fresh) eviction_->on_resident_again(block_chunk_[b], cpu);
  if (fresh) cpu += cfg_.driver.block_populate_ns;
  int64_t done = cpu;
  const bool whole_chunk = cfg_.gpu.zero_fill_chunk != 0;
  auto zero = [&](uint64_t bytes) {  // on the zero-fill engine, after the memsets before it
    zero_fill_free_ = std::max(zero_fill_free_, cpu) +
                      mul_div_ceil(bytes, 1000000000u, uint64_t(cfg_.gpu.zero_fill_bytes_per_s));
    done = std::max(done, zero_fill_free_);
  };
  if (whole_chunk && fresh) {  // every page of the new chunk that holds no data anywhere
    const BlockMask nowhere = pages_.valid(b) & ~pages_.on_cpu(b) & ~pages_.on_gpu(b);
    if (nowhere.any()) zero(uint64_t{nowhere.count()} * kPage);
  }
  const BlockMask from_cpu = todo & pages_.on_cpu(b);
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
      tenants_.bytes_moved(b, first, len, true);
      htod_copies_.add(data.first, data.second);
    } else {  // populated in place: zeroed now, or with its chunk (gpu.zero_fill_chunk)
      if (!whole_chunk) zero(bytes);
      stats_.bytes_zero_filled += bytes;
    }
  });
  from_cpu.for_each([&](uint32_t q) { thrashing_->on_migration(base + q, Processor::kGpu, cpu); });
  todo.for_each([&](uint32_t q) { pages_.set_loc(base + q, kOnGpu); });
  const uint32_t moved = todo.count(), nfaulted = (todo & faulted).count();
  if (!user) {
    stats_.pages_faulted_in += nfaulted;
    stats_.pages_prefetched += moved - nfaulted;
  }
  // Refaults (on the fault path only: an explicit prefetch faults nothing).
  tenants_.resident(b, todo, user ? BlockMask{} : faulted, cpu);
  block_touched_[b] = 1;
  // Page-table entries: one 2 MiB PTE if the whole block is resident, else a 64 KiB PTE per fully resident
  // big page and 4 KiB PTEs for the rest of the pages just mapped.
  uint64_t ptes = 0;
  if (pages_.on_gpu(b) == pages_.valid(b)) {
    ptes = 1;
  } else {
    for (int i = 0; i < 8; ++i)
      for (int g = 0; g < 4; ++g) {
        uint64_t sh = 16 * uint64_t(g);
        uint64_t t = (todo.w[i] >> sh) & 0xffff;
        if (!t) continue;
        bool full = ((pages_.on_gpu(b).w[i] >> sh) & 0xffff) == ((pages_.valid(b).w[i] >> sh) & 0xffff);
        ptes += full ? 1 : uint64_t(std::popcount(t));
      }
  }
  if (user) {
    cpu += cfg_.driver.prefetch_op_page_ns * int64_t(moved);
  } else {  // after its copies are pushed: the block's mapping and page state
    cpu += cfg_.driver.migrate_block_ns + cfg_.driver.page_ns * int64_t(moved) +
           cfg_.driver.cpu_unmap_page_ns * int64_t(from_cpu.count());
  }
  cpu += cfg_.driver.pte_ns * int64_t(ptes);
  return done;
}

// Moves GPU-resident `pages` of block b to the CPU (one DtoH copy per contiguous run of one cause) and
// unmaps them from the GPU; frees the block's chunk if nothing of it stays. Returns when copies complete.
int64_t Uvm::move_to_cpu(uint32_t b, const BlockMask& pages, const BlockMask& faulted, uint8_t cause,
                         int64_t t) {
  const uint32_t base = b * kPagesPerBlock;
  const BlockMask todo = pages & pages_.on_gpu(b);
  int64_t done = t;
  std::optional<PcieLink::Push> push;
  for_each_run(
      todo, [&](uint32_t q) { return faulted.test(q) ? uint8_t(kCauseCoherence) : cause; },
      [&](uint32_t first, uint32_t len, uint8_t c) {
        uint64_t bytes = uint64_t{len} * kPage;
        if (!push) push = pcie_.push(Dir::kDtoH, t);
        done = std::max(done, pcie_.copy(*push, bytes));
        stats_.bytes_dtoh[c] += bytes;
        tenants_.bytes_moved(b, first, len, false);
      });
  todo.for_each([&](uint32_t q) {
    pages_.set_loc(base + q, kOnCpu);
    if (cause != kCauseEviction) thrashing_->on_migration(base + q, Processor::kCpu, t);
  });
  release_chunk_if_empty(b);
  return done;
}

}  // namespace uvmsim
