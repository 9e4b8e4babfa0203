// The uvm component, the CPU's side: CPU touches of managed memory and CPU faults (migrating back with the
// prefetcher's region), explicit prefetch (cudaMemPrefetchAsync, and the range of a managed memset), frees.
#include <algorithm>

#include "sim/gpu/gpu.h"
#include "sim/uvm/uvm.h"

namespace uvmsim {

constexpr uint64_t kPage = trace::kPageBytes;

int64_t Uvm::cpu_access(uint32_t op, int64_t t) {
  const DenseRange& r = w_.op_pages[op];
  for (uint32_t p = r.page; p < r.page + r.count; ++p) {
    switch (pages_.loc(p)) {
      case kOnCpu:
        t += cfg_.host.touch_page_ns;
        break;
      case kNowhere:
        t += cfg_.host.first_touch_page_ns;
        pages_.set_loc(p, kOnCpu);
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
int64_t Uvm::cpu_fault(uint32_t p, int64_t t) {
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
  PrefetchView v{pages_.lo(b), pages_.hi(b), pages_.on_cpu(b),        faulted,
                 thrash,       false,        block_pref_gpu_[b] == 0, 1};
  BlockMask mask = (faulted | prefetch_->prefetch(v)) & pages_.on_gpu(b);
  int64_t done = move_to_cpu(b, mask, faulted, kCausePrefetch, t);
  stats_.cpu_fault_pages += mask.count();
  t += cfg_.host.cpu_fault_page_ns * int64_t(mask.count());
  return std::max(t, done);
}

int64_t Uvm::migrate(uint32_t op, int64_t t) {
  const DenseRange& r = w_.op_pages[op];
  const bool to_gpu = w_.trace.ops[op].kind == trace::OpKind::kMemset || w_.trace.ops[op].device >= 0;
  int64_t cpu = t, done = t;
  for (uint32_t b = r.page / kPagesPerBlock; b <= (r.page + r.count - 1) / kPagesPerBlock; ++b) {
    cpu += cfg_.driver.prefetch_op_block_ns;
    const uint32_t base = b * kPagesPerBlock;
    uint32_t lo = std::max(base, r.page) - base,
             hi = std::min(base + kPagesPerBlock, r.page + r.count) - base;
    BlockMask mask =
        BlockMask::range(lo, hi) & pages_.valid(b) & (to_gpu ? ~pages_.on_gpu(b) : pages_.on_gpu(b));
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

void Uvm::advise(uint32_t op) {
  const auto& o = w_.trace.ops[op];
  if (o.c != uint64_t(trace::Advice::kSetPreferredLocation) && o.c != uint64_t(trace::Advice::kUnset)) return;
  const DenseRange& r = w_.op_pages[op];
  for (uint32_t b = r.page / kPagesPerBlock; b <= (r.page + r.count - 1) / kPagesPerBlock; ++b)
    block_pref_gpu_[b] = o.c == uint64_t(trace::Advice::kSetPreferredLocation) && o.device >= 0;
}

void Uvm::free_allocation(uint32_t a) {
  uint32_t first = w_.alloc_first[a], n = w_.alloc_pages[a];
  for (uint32_t p = first; p < first + n; ++p) {
    if (pages_.loc(p) == kOnGpu) stats_.bytes_freed_on_gpu += kPage;
    pages_.set_loc(p, kNowhere);
  }
  for (uint32_t b = first / kPagesPerBlock; b <= (first + n - 1) / kPagesPerBlock; ++b)
    release_chunk_if_empty(b);
}

}  // namespace uvmsim
