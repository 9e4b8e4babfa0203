// In-memory form of a uvmsim trace (.uvmt). What an application did, independent of any memory policy.
// The on-disk layout is documented field by field in traces/FORMAT.md; read and write only through
// trace_io.h, which validates every count, bound and ordering.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace uvmsim::trace {

// Version 2 stores per-CTA accesses column by column, pages predicted from the previous CTA (FORMAT.md);
// version 4 lets a kernel launch an earlier kernel's CTAs (a template stored once); version 5 adds the UVM
// driver's own events (DRVE); readers still read 1.
constexpr uint32_t kFormatVersion = 7;
constexpr uint32_t kOldestFormatVersion = 1;
// Bounds the reader enforces so that simulated times cannot overflow: every point in time (host_ns,
// allocation and observed times, arrivals) lies in [0, kMaxTimeNs] (146 years), every duration (a
// kernel's resident time, a host gap) within kMaxDurationNs (13 days) of zero. The simulator's clock then
// stays below 2^63 ns however the terms add up (sim/engine.h refuses an event beyond kMaxTimeNs).
constexpr int64_t kMaxTimeNs = int64_t{1} << 62;
constexpr int64_t kMaxDurationNs = int64_t{1} << 50;
constexpr uint64_t kPageBytes = 4096;
constexpr uint32_t kPageShift = 12;
constexpr uint32_t kIntervalScale = 65535;  // touch intervals are fractions in 1/65535 of a CTA's run
// Recorded and generated traces put a page's first and last use on a grid of 1/kIntervalSteps of the CTA's
// run (begin rounded down, end up), so that neighbouring pages used together merge into one range.
// `scale` is the CTA's last use (its run's length in uses), at least 1. A recorded CTA whose pages are first
// used at more than kIntervalSteps distinct moments (a thread's dependent chain of loads) keeps them apart:
// its grid is its run's length in uses, up to kIntervalScale steps (interval_steps).
constexpr uint64_t kIntervalSteps = 64;
inline uint16_t interval_begin(uint64_t first, uint64_t scale, uint64_t steps = kIntervalSteps) {
  return uint16_t(first * steps / scale * (kIntervalScale / steps));
}
inline uint16_t interval_end(uint64_t last, uint64_t scale, uint64_t steps = kIntervalSteps) {
  const uint64_t e = (last * steps + scale - 1) / scale * (kIntervalScale / steps);
  return uint16_t(e < kIntervalScale ? e : kIntervalScale);
}
// The grid of a CTA whose pages are first used at `moments` distinct moments of a run `scale` uses long.
inline uint64_t interval_steps(uint64_t moments, uint64_t scale) {
  if (moments <= kIntervalSteps) return kIntervalSteps;
  return scale < kIntervalScale ? (scale < kIntervalSteps ? kIntervalSteps : scale) : kIntervalScale;
}

enum class Producer : uint8_t { kTracer = 0, kGenerator = 1 };
enum class AccessKind : uint8_t { kRead = 0, kWrite = 1, kAtomic = 2 };
enum class AllocKind : uint8_t { kManaged = 0, kDevice = 1, kPinnedHost = 2 };
enum class AllocRole : uint8_t { kWeight = 0, kActivation, kInput, kOutput, kWorkspace, kOther };

// One operation of a stream, in the order the program issued it.
enum class OpKind : uint8_t {
  kKernel = 0,      // a = kernel index
  kHostAccess,      // a = va, b = bytes, access = read/write: the CPU touches every page in address order
  kPrefetch,        // a = va, b = bytes, device: 0 = GPU, -1 = CPU (cudaMemPrefetchAsync)
  kAdvise,          // a = va, b = bytes, c = advice (see Advice), device
  kFree,            // a = allocation id
  kSync,            // c = 0: device-wide, 1: this stream
  kMemcpy,          // a = dst va, b = bytes, c = src va, device = kind (0 HtoD, 1 DtoH, 2 DtoD, 3 HtoH)
  kMemset,          // a = va, b = bytes, c = value
  kEventRecord,     // c = event id
  kEventWait,       // c = event id recorded on another stream
};
constexpr uint8_t kOpKindCount = 10;

enum class Advice : uint8_t { kSetPreferredLocation = 0, kSetAccessedBy = 1, kSetReadMostly = 2, kUnset = 3 };

// Kinds of observed driver events (recorded traces only; ground truth for validation, never input).
enum class ObservedKind : uint8_t {
  kGpuFault = 0,   // value = fault groups, flags = access kind
  kHtoD,           // value = bytes, flags = cause
  kDtoH,           // value = bytes, flags = cause
  kThrashing,      // value = region bytes
  kThrottling,
  kRemoteMap,      // value = bytes, flags = cause
  kCpuFault,       // value = faulting PC
  kKernelExec,     // value = kernel index: start and end under demand paging (timing pass)
};
constexpr uint8_t kObservedKindCount = 8;
enum class TransferCause : uint8_t { kUser = 0, kCoherence, kPrefetch, kEviction, kAccessCounters, kUnknown };

enum class PassKind : uint8_t {
  kTiming = 0,
  kCounters,
  kAccessCapture,
  kResident,
  kGenerated,
  kDriverEvents
};
constexpr uint8_t kPassKindCount = 6;

// The UVM driver's own events, as its tools event queue reported them in an events pass of the recording
// (cuda_tracer/src/uvm_events.h; recorded traces only, ground truth for validation, never simulator input).
enum class DriverEventKind : uint8_t {
  kFaultEntry = 0,  // a GPU fault entry the driver fetched (every instance: duplicates too). batch, address,
                    // flags = access (1 read, 2 write, 3 atomic, 4 prefetch), gpc, client, gpu_ns = when
                    // written into the fault buffer, cpu_ns = when the driver began servicing it
  kReplay,          // batch; cpu_ns = when pushed, gpu_ns = when it completed on the GPU
  kMigration,       // address, bytes, flags = TransferCause, src and dst (0 the CPU, else a GPU); cpu_ns =
                    // when queued, gpu_ns and gpu_end_ns = its copy on the GPU
  kEviction,        // address = the chunk evicted, bytes, aux = the address whose service needed the room
  kThrashing,       // address, bytes of the thrashing region
  kThrottleStart,   // address
  kThrottleEnd,     // address
  kBufferOverflow,  // the fault buffer overflowed
  kFatalFault,      // address, flags = access
  kCpuFault,        // address, flags = access, aux = the faulting PC
  kMapRemote,       // address, bytes, flags = cause, src and dst
  kReadDuplicate,   // address, bytes
  kReadDuplicateInvalidate,  // address, bytes
};
constexpr uint8_t kDriverEventKindCount = 13;
constexpr uint32_t kNoKernel = UINT32_MAX;

struct DriverEvent {
  DriverEventKind kind = DriverEventKind::kFaultEntry;
  uint8_t flags = 0;
  uint16_t run = 0;             // index into Trace::driver_runs
  uint16_t gpc = 0;             // fault entries: the GPC; migrations and remote maps: the source
  uint16_t client = 0;          // fault entries: the MMU client; migrations and remote maps: the destination
  uint32_t batch = 0;           // fault entries and replays: the driver's batch id
  uint32_t kernel = kNoKernel;  // the kernel running when the driver took the event (by its CPU time)
  uint64_t address = 0;
  uint64_t bytes = 0;
  uint64_t aux = 0;
  int64_t cpu_ns = 0;  // the run's CPU clock, from the run's first CUPTI timestamp
  int64_t gpu_ns = 0;  // the GPU's clock, from the run's earliest GPU time (0 when the event has none)
  int64_t gpu_end_ns = 0;
};

// One events pass: a run of the program with the driver's event queue attached.
struct DriverRun {
  int64_t wall_ns = 0;
  int64_t flush_every_ns = 0;  // how often the reader flushed delayed events while it ran (0: at exit)
  std::array<uint64_t, kDriverEventKindCount> dropped{};  // events the driver dropped, by kind (ring full)
  std::string note;
};

struct Header {
  uint32_t format_version = kFormatVersion;  // as read; writers always write kFormatVersion
  Producer producer = Producer::kGenerator;
  std::string producer_version;
  std::string device_name;
  uint32_t sm_count = 0;
  uint64_t device_memory_bytes = 0;
  // CTAs of one kernel the recording device held at once are derived per kernel from these limits.
  uint32_t max_threads_per_sm = 2048;
  uint32_t max_ctas_per_sm = 32;
  uint32_t regs_per_sm = 65536;
  uint32_t smem_per_sm_bytes = 233472;
  std::vector<std::pair<std::string, int64_t>> driver_params;  // module parameters in force
  uint32_t page_bytes = kPageBytes;
  uint32_t time_unit_ns = 1;
  uint32_t flags = 0;  // bit 0: per-CTA accesses were sampled (not exact)
  std::string command;  // what produced it (program and arguments)
};
constexpr uint32_t kHeaderFlagSampled = 1;

struct Tenant {
  std::string name;   // "resnet50#0"
  std::string model;  // "resnet50"
  uint32_t batch = 0;
  uint32_t process = 0;  // address space the tenant lives in
};

struct Allocation {
  uint32_t tenant = 0;
  AllocKind kind = AllocKind::kManaged;
  AllocRole role = AllocRole::kOther;
  uint64_t va = 0;
  uint64_t bytes = 0;
  int64_t alloc_ns = 0;
  int64_t free_ns = -1;  // -1: never freed
  std::string name;
};

struct Op {
  OpKind kind = OpKind::kKernel;
  AccessKind access = AccessKind::kRead;
  int32_t device = 0;
  uint32_t tenant = 0;
  uint32_t stream = 0;
  uint64_t a = 0, b = 0, c = 0;
  int64_t host_ns = 0;  // host time of the call in the recording (0 when generated)
  int64_t host_gap_ns = 0;  // host time since the previous op of the process
};

struct Kernel {
  uint32_t tenant = 0;
  uint32_t stream = 0;
  uint32_t layer = 0;  // index of the layer in the tenant's model (0 when not a layer)
  std::string name;
  std::array<uint32_t, 3> grid{1, 1, 1};
  std::array<uint32_t, 3> block{1, 1, 1};
  uint32_t regs_per_thread = 0;
  uint32_t smem_bytes = 0;
  uint64_t resident_ns = 0;  // duration with all data resident on the recording GPU
  // What one warp access is to its uTLB: the median, over the kernel's read (write, atomics included)
  // accesses, of the distinct 128-byte lines a warp access touches in a page (1 to 32); 0: not recorded
  // (traces before version 6, generated ones, or a kernel without such accesses).
  uint8_t read_lines = 0;
  uint8_t write_lines = 0;
  // First CTA in Trace::ctas. A kernel either stores its own CTAs after the previous ones, or launches an
  // earlier kernel's (same cta_begin, tenant and shape): its template, whose accesses every launch shares.
  uint64_t cta_begin = 0;
  uint64_t cta_count = 0;  // = product of grid
  uint64_t ctas() const { return uint64_t{grid[0]} * grid[1] * grid[2]; }
  uint64_t threads_per_cta() const { return uint64_t{block[0]} * block[1] * block[2]; }
};

struct Cta {
  uint64_t range_begin = 0;
  uint32_t range_count = 0;
};

// A run of pages touched by a CTA, in the CTA's order; in use from t_begin to t_end (fractions of its run).
struct Range {
  uint64_t page = 0;  // virtual page number (va >> 12)
  uint32_t count = 1;
  AccessKind kind = AccessKind::kRead;
  uint16_t t_begin = 0;
  uint16_t t_end = 0;
};

struct ObservedEvent {
  ObservedKind kind = ObservedKind::kGpuFault;
  uint8_t flags = 0;
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  uint64_t address = 0;
  uint64_t value = 0;
};

struct Request {
  uint32_t tenant = 0;
  int64_t arrival_ns = 0;
  // Version 7: how a recorded serving run (workloads/ uvm_serve) served it: when its batch was launched and
  // seen complete (-1: not recorded), which batch (numbered from 1 over the run; 0: none) and its size.
  int64_t start_ns = -1, end_ns = -1;
  uint64_t batch = 0;
  uint32_t batch_size = 0;
};

struct Pass {
  PassKind kind = PassKind::kGenerated;
  int64_t wall_ns = 0;
  std::string note;
};

// How complete one recorded counter stream is: the recorded bytes against the bytes expected.
struct Completeness {
  ObservedKind stream = ObservedKind::kHtoD;
  uint64_t expected = 0;
  uint64_t recorded = 0;
  uint64_t dropped_records = 0;  // CUPTI's own count
};

struct NvtxRange {
  std::string name;
  uint32_t stream = 0;
  int64_t start_ns = 0;
  int64_t end_ns = 0;
};

struct Trace {
  Header header;
  std::vector<Tenant> tenants;
  std::vector<Allocation> allocations;
  std::vector<Op> ops;
  std::vector<Kernel> kernels;
  std::vector<Cta> ctas;
  std::vector<Range> ranges;
  std::vector<ObservedEvent> observed;
  std::vector<Request> requests;
  std::vector<Pass> passes;
  std::vector<Completeness> completeness;
  std::vector<NvtxRange> nvtx;
  std::vector<DriverRun> driver_runs;      // format version 5
  std::vector<DriverEvent> driver_events;  // in each run's order, runs one after another
};

const char* to_string(OpKind k);
const char* to_string(AccessKind k);
const char* to_string(AllocKind k);
const char* to_string(AllocRole k);
const char* to_string(ObservedKind k);
const char* to_string(PassKind k);
const char* to_string(DriverEventKind k);
const char* to_string(Producer k);

// For each kernel, the kernel that stores its CTAs: itself, or the template it launches (format version 4).
std::vector<uint64_t> template_of(const Trace& t);

}  // namespace uvmsim::trace
