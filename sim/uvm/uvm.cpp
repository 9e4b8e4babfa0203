#include "sim/uvm/uvm.h"

#include <algorithm>
#include <cmath>

#include "sim/config/make_policy.h"
#include "sim/gpu/gpu.h"

namespace uvmsim {

uint32_t capacity_chunks(const Config& c, const Workload& w) {
  const uint64_t chunk_bytes = uint64_t{kPagesPerBlock} * trace::kPageBytes;
  if (c.gpu.memory_fraction > 0)  // 1.0: all of the footprint resident at once, nothing evicted
    return uint32_t(std::clamp<double>(std::ceil(c.gpu.memory_fraction * double(w.footprint_blocks) - 1e-9),
                                       1.0, double(1u << 30)));
  return uint32_t(std::min<uint64_t>(uint64_t(c.gpu.memory_bytes) / chunk_bytes, 1u << 30));
}

Uvm::Uvm(Engine& engine, const Workload& w, const Config& c, Stats& stats, TenantLedger& tenants,
         PageTable& pages, FaultBuffer& buffer, PcieLink& pcie)
    : engine_(engine),
      id_(engine.attach(*this)),
      w_(w),
      cfg_(c),
      stats_(stats),
      tenants_(tenants),
      pages_(pages),
      buffer_(buffer),
      pcie_(pcie) {
  const uint64_t chunk_bytes = uint64_t{kPagesPerBlock} * trace::kPageBytes;
  capacity_chunks_ = capacity_chunks(c, w);
  stats_.gpu_capacity_bytes = uint64_t{capacity_chunks_} * chunk_bytes;
  stats_.footprint_bytes = w.footprint_pages * trace::kPageBytes;
  // Only as many chunks as there are blocks can ever be used: track no more.
  const uint32_t tracked_chunks = std::min<uint32_t>(capacity_chunks_, w.blocks + 1);
  const uint32_t tenant_count = uint32_t(std::max<size_t>(1, w.trace.tenants.size()));
  prefetch_ = make_policy<PrefetchKind>(c, {});
  eviction_ = make_policy<EvictionKind>(c, {std::max(tracked_chunks, 1u)});
  eviction_wants_accesses_ = eviction_->wants_accesses();
  replay_ = make_policy<ReplayKind>(c, {});
  thrashing_ = make_policy<ThrashingKind>(c, {w.pages});
  memory_allocation_ = make_policy<MemoryAllocationKind>(
      c, {w.blocks, tenant_count, tracked_chunks, clock_, &w.footprint_runs, &w.kernel_runs});
  memory_restricts_ = memory_allocation_->restricts();

  block_chunk_.assign(w.blocks, kNoChunk);
  block_pref_gpu_.assign(w.blocks, 0);
  block_touched_.assign(w.blocks, 0);
  chunk_block_.assign(tracked_chunks, kNoChunk);
  chunk_ready_.assign(tracked_chunks, 0);
  for (uint32_t i = tracked_chunks; i-- > 0;) free_chunks_.push_back(i);
  capacity_chunks_ = tracked_chunks;
}

Uvm::~Uvm() = default;

void Uvm::handle(const Event& e) {
  switch (UvmEvent(e.type)) {
    case kEvFlush:
      stats_.faults_flushed += buffer_.flush(int64_t(e.b));
      break;
    case kEvInterrupt:
      interrupt_pending_ = false;
      if (!in_service_) start_service();
      break;
    case kEvBatch:
      service_batch();
      break;
    case kEvReplay:
      --replays_pending_;
      gpu_->replay();
      break;
    case kEvPolicyTimer:  // the memory_allocation policy's
      memory_allocation_->on_timer(e.b);
      gpu_->readmit();
      break;
  }
}

const char* Uvm::event_name(uint8_t type) const {
  static const char* const kNames[] = {"interrupt", "batch", "replay", "flush", "memory policy timer"};
  return type < 5 ? kNames[type] : "?";
}

void Uvm::finish() {
  stats_.pcie_busy_ns[0] = pcie_.busy_ns(Dir::kHtoD);
  stats_.pcie_busy_ns[1] = pcie_.busy_ns(Dir::kDtoH);
  stats_.htod_copies = htod_copies_.copies;
  stats_.htod_copy_groups = htod_copies_.groups;
  const auto& tc = thrashing_->counters();
  stats_.thrashing_pages = tc.thrashing_pages;
  stats_.throttles = tc.throttles;
  stats_.pins = tc.pins;
}

}  // namespace uvmsim
