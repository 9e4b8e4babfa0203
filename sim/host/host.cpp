#include "sim/host/host.h"

#include <algorithm>
#include <climits>

namespace uvmsim {

using trace::OpKind;

Host::Host(Engine& engine, const Workload& w, Stats& stats, PcieLink& pcie, HostServices& services,
           int64_t memset_bytes_per_s, int64_t launch_latency_ns, size_t issued_ops)
    : engine_(engine),
      id_(engine.attach(*this)),
      w_(w),
      stats_(stats),
      pcie_(pcie),
      services_(services),
      memset_bytes_per_s_(memset_bytes_per_s),
      launch_latency_ns_(launch_latency_ns) {
  // Streams per (process, stream id), processes in trace order.
  const auto& t = w.trace;
  processes_.resize(w.processes);
  op_stream_.resize(t.ops.size());
  for (uint32_t i = 0; i < t.ops.size(); ++i) {
    const auto& o = t.ops[i];
    uint32_t proc = t.tenants.empty() ? 0 : t.tenants[o.tenant].process;
    op_stream_[i] = stream(proc, o.stream);
    if (i < issued_ops) processes_[proc].ops.push_back(i);
  }
}

uint32_t Host::stream(uint32_t process, uint32_t id) {
  auto [it, added] = stream_ids_.emplace(std::make_pair(process, id), uint32_t(streams_.size()));
  if (added) streams_.push_back(Stream{process, {}, false, -1});
  return it->second;
}

void Host::launch(uint32_t stream, uint32_t kernel, LaunchListener& listener) {
  listener_ = &listener;
  streams_[stream].queue.push_back(kLaunched | kernel);
  try_start(stream);
}

void Host::start() {
  // Processes start as far apart as they did in the recording (host_ns is one clock for all of a trace's
  // processes; 0 in generated traces): a process's first op waits its host_ns after the earliest one's.
  int64_t first_host_ns = INT64_MAX;
  for (const Process& h : processes_)
    if (!h.ops.empty()) first_host_ns = std::min(first_host_ns, w_.trace.ops[h.ops[0]].host_ns);
  for (uint32_t p = 0; p < processes_.size(); ++p) {
    if (processes_[p].ops.empty()) {
      processes_[p].done = true;
      continue;
    }
    const auto& o = w_.trace.ops[processes_[p].ops[0]];
    engine_.at(std::max<int64_t>(0, o.host_gap_ns) + std::max<int64_t>(0, o.host_ns - first_host_ns),
               kPrioHost, id_, kEvHostIssue, p);
  }
  if (done() && on_all_done_) on_all_done_();
}

void Host::op_done_at(int64_t at, uint32_t stream) { engine_.at(at, kPrioHost, id_, kEvStreamDone, stream); }

bool Host::done() const {
  return std::all_of(processes_.begin(), processes_.end(), [](const Process& p) { return p.done; });
}

void Host::handle(const Event& e) {
  switch (HostEvent(e.type)) {
    case kEvHostIssue:
      issue(e.a);
      break;
    case kEvStreamDone:
      stream_op_done(e.a);
      break;
    case kEvLaunch:
      services_.launch_kernel(kernel_of(streams_[e.a].queue.front()), e.a);
      break;
  }
}

const char* Host::event_name(uint8_t type) const {
  return type == kEvHostIssue ? "host issue" : type == kEvStreamDone ? "stream done" : "kernel launch";
}

bool Host::streams_idle(uint32_t process) const {
  for (auto& s : streams_)
    if (s.process == process && (s.busy || !s.queue.empty())) return false;
  return true;
}

void Host::next(uint32_t process, int64_t at) {
  Process& h = processes_[process];
  engine_.progressed();
  if (++h.cursor >= h.ops.size()) {
    h.done = true;
    if (on_all_done_ && done()) on_all_done_();
    return;
  }
  engine_.at(at + std::max<int64_t>(0, w_.trace.ops[h.ops[h.cursor]].host_gap_ns), kPrioHost, id_,
             kEvHostIssue, process);
}

void Host::issue(uint32_t process) {
  Process& h = processes_[process];
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
      try_start(s);
      next(process, engine_.now());
      return;
    case OpKind::kAdvise: {
      services_.advise(op);
      rec.start_ns = rec.end_ns = engine_.now();
      next(process, engine_.now());
      return;
    }
    case OpKind::kHostAccess: {
      rec.start_ns = engine_.now();
      int64_t end = services_.cpu_access(op, engine_.now());
      rec.end_ns = end;
      next(process, end);
      return;
    }
    case OpKind::kSync:
    case OpKind::kFree:
      rec.start_ns = engine_.now();
      h.wait = o.c == 1 && o.kind == OpKind::kSync ? Process::kOneStream : Process::kAllStreams;
      h.wait_stream = s;
      check_wait(process);
      return;
  }
}

void Host::check_wait(uint32_t process) {
  Process& h = processes_[process];
  if (h.wait == Process::kNone || h.done) return;
  bool ok = h.wait == Process::kAllStreams
                ? streams_idle(process)
                : (!streams_[h.wait_stream].busy && streams_[h.wait_stream].queue.empty());
  if (!ok) return;
  h.wait = Process::kNone;
  uint32_t op = h.ops[h.cursor];
  if (w_.trace.ops[op].kind == OpKind::kFree) services_.free_allocation(uint32_t(w_.trace.ops[op].a));
  stats_.ops[op].end_ns = engine_.now();
  next(process, engine_.now());
}

void Host::try_start(uint32_t s) {
  Stream& st = streams_[s];
  if (st.busy || st.queue.empty()) return;
  uint32_t op = st.queue.front();
  if (op & kLaunched) {
    st.busy = true;
    start_kernel(s, kernel_of(op));
    return;
  }
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
  rec.start_ns = engine_.now();
  switch (o.kind) {
    case OpKind::kKernel:
      start_kernel(s, kernel_of(op));
      return;
    case OpKind::kPrefetch:
      engine_.at(services_.migrate(op, engine_.now()), kPrioHost, id_, kEvStreamDone, s);
      return;
    case OpKind::kMemcpy: {
      // Copies between the host and plain device memory cross the link; others take no modelled time.
      int64_t end = engine_.now();
      if (o.device == 0) end = pcie_.copy(Dir::kHtoD, o.b, engine_.now());
      if (o.device == 1) end = pcie_.copy(Dir::kDtoH, o.b, engine_.now());
      engine_.at(end, kPrioHost, id_, kEvStreamDone, s);
      return;
    }
    case OpKind::kMemset: {
      // A memset of managed memory runs on the GPU: migrate the range there, then fill at copy-engine rate.
      int64_t end = services_.migrate(op, engine_.now());
      end += mul_div(o.b, 1000000000u, uint64_t(memset_bytes_per_s_));
      engine_.at(end, kPrioHost, id_, kEvStreamDone, s);
      return;
    }
    default:
      engine_.at(engine_.now(), kPrioHost, id_, kEvStreamDone, s);
      return;
  }
}

void Host::start_kernel(uint32_t s, uint32_t kernel) {
  if (launch_latency_ns_ > 0)
    engine_.at(engine_.now() + launch_latency_ns_, kPrioHost, id_, kEvLaunch, s);
  else
    services_.launch_kernel(kernel, s);
}

void Host::stream_op_done(uint32_t s) {
  Stream& st = streams_[s];
  uint32_t op = st.queue.front();
  st.queue.pop_front();
  st.busy = false;
  engine_.progressed();
  if (op & kLaunched) {  // the listener may launch more (and make streams): `st` is not used after it
    const uint32_t process = st.process;
    listener_->launched_kernel_done(s, op & ~kLaunched);
    try_start(s);
    check_wait(process);
    return;
  }
  stats_.ops[op].end_ns = engine_.now();
  const auto& o = w_.trace.ops[op];
  if (o.kind == OpKind::kEventRecord) {
    events_[o.c] = {true, engine_.now()};
    for (uint32_t i = 0; i < streams_.size(); ++i)
      if (streams_[i].blocked_on_event == int64_t(o.c)) try_start(i);
  }
  try_start(s);
  check_wait(st.process);
}

}  // namespace uvmsim
