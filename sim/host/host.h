// The host component: one host per process issuing its ops in trace order (after each op's recorded host
// gap), streams executing their ops in order, CUDA events between streams, and synchronisation. What an op
// does on the GPU or to managed memory is asked of the rest of the simulation through HostServices; the
// host owns its processes, streams and events and schedules its own events.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <vector>

#include "sim/engine/engine.h"
#include "sim/interconnect/pcie.h"
#include "sim/stats/stats.h"
#include "sim/workload/workload.h"

namespace uvmsim {

// What the host's ops do outside the host: launch a kernel (the gpu later reports its end with
// Host::op_done), migrate pages (an explicit prefetch or a memset's range; returns when done), touch managed
// memory from the CPU, apply an advice, free an allocation.
class HostServices {
 public:
  virtual ~HostServices() = default;
  virtual void launch_kernel(uint32_t kernel, uint32_t stream) = 0;
  virtual int64_t migrate(uint32_t op, int64_t t) = 0;
  virtual int64_t cpu_access(uint32_t op, int64_t t) = 0;
  virtual void advise(uint32_t op) = 0;
  virtual void free_allocation(uint32_t alloc) = 0;
};

// Whoever launches kernels on the host's streams besides the trace's ops (the serving component): told
// when each such kernel completes.
class LaunchListener {
 public:
  virtual ~LaunchListener() = default;
  virtual void launched_kernel_done(uint32_t stream, uint32_t kernel) = 0;
};

class Host final : public Component {
 public:
  // The processes issue the trace's first `issued_ops` ops (all by default); the rest only run when
  // enqueued (enqueue_op).
  Host(Engine& engine, const Workload& w, Stats& stats, PcieLink& pcie, HostServices& services,
       int64_t memset_bytes_per_s, int64_t launch_latency_ns, size_t issued_ops = SIZE_MAX);
  // Schedules each process's first op (processes start as far apart as in the recording).
  void start();
  // The stream's current op completes now, or at `at` (an event of the host's own).
  void op_done(uint32_t stream) { stream_op_done(stream); }
  void op_done_at(int64_t at, uint32_t stream);
  // Every process has issued all its ops.
  bool done() const;
  // Called once, when every process has issued all its ops (at start() if there are none).
  void on_all_done(std::function<void()> f) { on_all_done_ = std::move(f); }
  // The stream `id` of `process` (made if the trace's ops never use it).
  uint32_t stream(uint32_t process, uint32_t id);
  // Queues a kernel on a stream, after whatever the stream holds; `listener` hears when it completes.
  void launch(uint32_t stream, uint32_t kernel, LaunchListener& listener);
  // Queues a trace op (one the processes do not issue: a stream op such as a prefetch) on a stream.
  void enqueue_op(uint32_t stream, uint32_t op) {
    streams_[stream].queue.push_back(op);
    try_start(stream);
  }
  void handle(const Event& e) override;
  const char* event_name(uint8_t type) const override;

 private:
  // kEvLaunch: a stream's kernel is handed to the gpu, gpu.launch_latency_ns after the stream took it.
  enum HostEvent : uint8_t { kEvHostIssue, kEvStreamDone, kEvLaunch };
  // A stream's queue holds trace op indices, and kernels launched through launch() marked with kLaunched.
  static constexpr uint32_t kLaunched = 0x80000000u;
  struct Stream {
    uint32_t process = 0;
    std::deque<uint32_t> queue;  // op indices
    bool busy = false;
    int64_t blocked_on_event = -1;
  };
  struct Process {
    std::vector<uint32_t> ops;
    size_t cursor = 0;
    enum Wait : uint8_t { kNone, kAllStreams, kOneStream } wait = kNone;
    uint32_t wait_stream = 0;
    bool done = false;
  };
  void issue(uint32_t process);
  void next(uint32_t process, int64_t at);
  void try_start(uint32_t stream);
  // Hands a stream's kernel to the gpu, after gpu.launch_latency_ns (kEvLaunch) when there is one.
  void start_kernel(uint32_t stream, uint32_t kernel);
  // The kernel of a queue entry: a launched one's, or a kernel op's.
  uint32_t kernel_of(uint32_t entry) const {
    return entry & kLaunched ? entry & ~kLaunched : uint32_t(w_.trace.ops[entry].a);
  }
  void stream_op_done(uint32_t stream);
  void check_wait(uint32_t process);
  bool streams_idle(uint32_t process) const;

  Engine& engine_;
  const uint8_t id_;
  const Workload& w_;
  Stats& stats_;
  PcieLink& pcie_;
  HostServices& services_;
  const int64_t memset_bytes_per_s_, launch_latency_ns_;
  std::vector<Process> processes_;
  std::vector<Stream> streams_;
  std::vector<uint32_t> op_stream_;
  std::map<uint64_t, std::pair<bool, int64_t>> events_;  // event id -> (recorded, completion time)
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> stream_ids_;  // (process, stream id) -> stream
  std::function<void()> on_all_done_;
  LaunchListener* listener_ = nullptr;
};

}  // namespace uvmsim
