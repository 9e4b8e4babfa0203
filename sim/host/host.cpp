// The host component: per-process hosts issuing ops in order, streams and events, CPU accesses and faults
// on managed memory, explicit prefetch and frees.
#include <algorithm>

#include "sim/simulator.h"

namespace uvmsim {

using trace::OpKind;
constexpr uint64_t kPage = trace::kPageBytes;

bool Simulator::streams_idle(uint32_t process) const {
  for (auto& s : streams_)
    if (s.process == process && (s.busy || !s.queue.empty())) return false;
  return true;
}

void Simulator::host_continue(uint32_t process, int64_t at) {
  Host& h = hosts_[process];
  engine_.progressed();
  if (++h.cursor >= h.ops.size()) {
    h.done = true;
    return;
  }
  engine_.at(at + std::max<int64_t>(0, w_.trace.ops[h.ops[h.cursor]].host_gap_ns), kPrioHost, host_id_, kEvHostIssue,
          process);
}

void Simulator::host_issue(uint32_t process) {
  Host& h = hosts_[process];
  uint32_t op = h.ops[h.cursor];
  const auto& o = w_.trace.ops[op];
  uint32_t s = op_stream_[op];
  auto& rec = stats_.ops[op];
  switch (o.kind) {
    case OpKind::kKernel:
    case OpKind::kPrefetch:
    case OpKind::kMemcpy:
    case OpKind::kMemset:
    case OpKind::kEventRecord:
    case OpKind::kEventWait:
      if (o.kind == OpKind::kEventRecord) events_[o.c] = {false, 0};
      streams_[s].queue.push_back(op);
      stream_try_start(s);
      host_continue(process, now());
      return;
    case OpKind::kAdvise: {
      const DenseRange& r = w_.op_pages[op];
      if (o.c == uint64_t(trace::Advice::kSetPreferredLocation) || o.c == uint64_t(trace::Advice::kUnset))
        for (uint32_t b = r.page / kPagesPerBlock; b <= (r.page + r.count - 1) / kPagesPerBlock; ++b)
          block_pref_gpu_[b] = o.c == uint64_t(trace::Advice::kSetPreferredLocation) && o.device >= 0;
      rec.start_ns = rec.end_ns = now();
      host_continue(process, now());
      return;
    }
    case OpKind::kHostAccess: {
      rec.start_ns = now();
      int64_t end = host_access(op, now());
      rec.end_ns = end;
      host_continue(process, end);
      return;
    }
    case OpKind::kSync:
    case OpKind::kFree:
      rec.start_ns = now();
      h.wait = o.c == 1 && o.kind == OpKind::kSync ? Host::kOneStream : Host::kAllStreams;
      h.wait_stream = s;
      host_check_wait(process);
      return;
  }
}

void Simulator::host_check_wait(uint32_t process) {
  Host& h = hosts_[process];
  if (h.wait == Host::kNone || h.done) return;
  bool ok = h.wait == Host::kAllStreams
                ? streams_idle(process)
                : (!streams_[h.wait_stream].busy && streams_[h.wait_stream].queue.empty());
  if (!ok) return;
  h.wait = Host::kNone;
  uint32_t op = h.ops[h.cursor];
  if (w_.trace.ops[op].kind == OpKind::kFree) free_allocation(uint32_t(w_.trace.ops[op].a));
  stats_.ops[op].end_ns = now();
  host_continue(process, now());
}

void Simulator::stream_try_start(uint32_t s) {
  Stream& st = streams_[s];
  if (st.busy || st.queue.empty()) return;
  uint32_t op = st.queue.front();
  const auto& o = w_.trace.ops[op];
  auto& rec = stats_.ops[op];
  if (o.kind == OpKind::kEventWait) {
    auto it = events_.find(o.c);
    if (it != events_.end() && !it->second.first) {
      st.blocked_on_event = int64_t(o.c);
      return;
    }
  }
  st.busy = true;
  st.blocked_on_event = -1;
  rec.start_ns = now();
  switch (o.kind) {
    case OpKind::kKernel:
      launch_kernel(uint32_t(o.a), s);
      return;
    case OpKind::kPrefetch:
      engine_.at(prefetch_op(op, now()), kPrioHost, host_id_, kEvStreamDone, s);
      return;
    case OpKind::kMemcpy: {
      // Copies between the host and plain device memory cross the link; others take no modelled time.
      int64_t end = now();
      if (o.device == 0) end = pcie_.copy(Dir::kHtoD, o.b, now());
      if (o.device == 1) end = pcie_.copy(Dir::kDtoH, o.b, now());
      engine_.at(end, kPrioHost, host_id_, kEvStreamDone, s);
      return;
    }
    case OpKind::kMemset: {
      // A memset of managed memory runs on the GPU: migrate the range there, then fill at copy-engine rate.
      int64_t end = prefetch_op(op, now());
      end += mul_div(o.b, 1000000000u, uint64_t(cfg_.gpu.memset_bytes_per_s));
      engine_.at(end, kPrioHost, host_id_, kEvStreamDone, s);
      return;
    }
    default:
      engine_.at(now(), kPrioHost, host_id_, kEvStreamDone, s);
      return;
  }
}

void Simulator::stream_op_done(uint32_t s) {
  Stream& st = streams_[s];
  uint32_t op = st.queue.front();
  st.queue.pop_front();
  st.busy = false;
  engine_.progressed();
  stats_.ops[op].end_ns = now();
  const auto& o = w_.trace.ops[op];
  if (o.kind == OpKind::kEventRecord) {
    events_[o.c] = {true, now()};
    for (uint32_t i = 0; i < streams_.size(); ++i)
      if (streams_[i].blocked_on_event == int64_t(o.c)) stream_try_start(i);
  }
  stream_try_start(s);
  host_check_wait(st.process);
}

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
