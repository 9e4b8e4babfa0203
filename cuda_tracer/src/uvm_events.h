// The UVM driver's own event queue (the `events` pass of uvmtrace; cuda_tracer/README.md, "Driver events").
// The driver's tools interface (/dev/nvidia-uvm-tools) hands a process the events of its VA space: every GPU
// fault entry it fetched (address, access, GPC and client, CPU and GPU time, batch id), every replay,
// migrations with their GPU begin and end, evictions, thrashing, throttling, fault-buffer overflows. The
// layout is the driver's ABI (UvmEventEntry_V2 of its uvm_types.h, 72 bytes; ioctls of uvm_ioctl.h), written
// here from that ABI; nothing else of the driver is needed. Plain C++ and Linux: no CUDA.
//
// The queue is a ring the driver fills and we drain (get/put indices in a shared control block, with a
// count of the events of each type it dropped because the ring was full). Migration and replay events are
// delayed: the driver queues them when the copy or replay it pushed has completed and someone updated its
// channel's progress; UVM_TOOLS_FLUSH_EVENTS (on the VA space's descriptor, not the tools device) does
// that, so the reader flushes before its last drain, and every `flush_every_ns` while the program runs.
#pragma once

#include <cstddef>
#include <cstdint>

namespace uvmtrace {

// Event types (UvmEventType) and their enable bits.
enum UvmEventKind : uint8_t {
  kUvmCpuFault = 1,
  kUvmMigration = 2,
  kUvmGpuFault = 3,
  kUvmGpuFaultReplay = 4,
  kUvmFaultBufferOverflow = 5,
  kUvmFatalFault = 6,
  kUvmReadDuplicate = 7,
  kUvmReadDuplicateInvalidate = 8,
  kUvmPageSizeChange = 9,
  kUvmThrashingDetected = 10,
  kUvmThrottlingStart = 11,
  kUvmThrottlingEnd = 12,
  kUvmMapRemote = 13,
  kUvmEviction = 14,
  kUvmEventKinds = 15,  // valid kinds are 1 .. kUvmEventKinds - 1
};
constexpr uint32_t kUvmEventTypesAll = 64;  // the control block's dropped counters
constexpr size_t kUvmEntryBytes = 72;       // sizeof(UvmEventEntry_V2)

// The entries this tool reads, as the driver lays them out (offsets fixed by its explicit padding).
#pragma pack(push, 1)
struct UvmGpuFaultEntry {  // UvmEventGpuFaultInfo_V2
  uint8_t kind;            // kUvmGpuFault
  uint8_t fault_type;      // UvmEventFaultType (the MMU's reason: invalid PDE or PTE, protection ...)
  uint16_t gpu_index;
  uint16_t gpc;            // physical GPC of a replayable fault
  uint16_t client;         // MMU client id (architecture-specific)
  uint64_t address;
  uint64_t cpu_ns;         // CLOCK_MONOTONIC_RAW when the driver started servicing the entry
  uint64_t gpu_ns;         // GPU time the entry was written into the fault buffer
  uint32_t batch;          // the driver's batch id (per GPU)
  uint8_t client_type;     // 1 GPC (replayable), 2 hub (non-replayable)
  uint8_t access;          // UvmEventMemoryAccessType: 1 read, 2 write, 3 atomic, 4 prefetch
  uint16_t pad;
};
struct UvmReplayEntry {  // UvmEventGpuFaultReplayInfo_V2
  uint8_t kind;          // kUvmGpuFaultReplay
  uint8_t client_type;
  uint16_t gpu_index;
  uint32_t batch;
  uint64_t cpu_ns;       // when the replay was pushed
  uint64_t gpu_ns;       // when the replay finished on the GPU
};
struct UvmMigrationEntry {  // UvmEventMigrationInfo_V2
  uint8_t kind;             // kUvmMigration
  uint8_t cause;            // UvmEventMigrationCause: 1 user, 2 coherence, 3 prefetch, 4 eviction, 5 access counters
  uint16_t pad;
  uint16_t src, dst;        // processor indices: 0 the CPU, else a GPU
  int32_t src_nid, dst_nid;
  uint64_t address;
  uint64_t bytes;
  uint64_t cpu_begin_ns, cpu_end_ns;  // end 0 for asynchronous copies
  uint64_t range_group;
  uint64_t gpu_begin_ns, gpu_end_ns;
};
struct UvmEvictionEntry {  // UvmEventEvictionInfo_V2
  uint8_t kind;            // kUvmEviction
  uint8_t pad8;
  uint16_t pad16;
  uint16_t src, dst;
  uint64_t address_out;    // the region evicted
  uint64_t address_in;     // the address whose service needed the room
  uint64_t bytes;
  uint64_t cpu_ns;
};
struct UvmThrashingEntry {  // UvmEventThrashingDetectedInfo_V2
  uint8_t kind;             // kUvmThrashingDetected
  uint8_t pad8;
  uint16_t pad16;
  uint32_t pad32;
  uint64_t address;
  uint64_t bytes;
  uint64_t cpu_ns;
  uint64_t processors[5];
};
struct UvmThrottlingEntry {  // UvmEventThrottlingStartInfo_V2 / EndInfo_V2
  uint8_t kind;              // kUvmThrottlingStart or kUvmThrottlingEnd
  uint8_t pad8;
  uint16_t processor;
  uint32_t pad32;
  uint64_t address;
  uint64_t cpu_ns;
};
struct UvmCpuFaultEntry {  // UvmEventCpuFaultInfo (the same in V1 and V2)
  uint8_t kind;            // kUvmCpuFault
  uint8_t access;
  uint16_t pad16;
  uint32_t cpu;            // the CPU the faulting thread ran on
  uint64_t address;
  uint64_t cpu_ns;
  uint32_t pid, tid;
  uint64_t pc;
};
struct UvmMapRemoteEntry {  // UvmEventMapRemoteInfo_V2
  uint8_t kind;             // kUvmMapRemote
  uint8_t cause;
  uint16_t pad16;
  uint16_t src, dst;
  uint64_t address;
  uint64_t bytes;
  uint64_t cpu_ns;
  uint64_t gpu_ns;
};
#pragma pack(pop)
static_assert(sizeof(UvmGpuFaultEntry) == 40);
static_assert(sizeof(UvmReplayEntry) == 24);
static_assert(sizeof(UvmMigrationEntry) == 72);
static_assert(sizeof(UvmEvictionEntry) == 40);
static_assert(sizeof(UvmThrashingEntry) == 72);
static_assert(sizeof(UvmThrottlingEntry) == 24);
static_assert(sizeof(UvmCpuFaultEntry) == 40);
static_assert(sizeof(UvmMapRemoteEntry) == 40);

// uvm_events.bin (raw_format.h): UvmEventsFileHeader, `entries` raw 72-byte entries in the order the driver
// queued them, then UvmEventsTrailer.
constexpr char kUvmEventsFileMagic[8] = {'U', 'V', 'M', 'T', 'D', 'R', 'V', '1'};
struct UvmEventsFileHeader {
  char magic[8];
  uint32_t entry_bytes = kUvmEntryBytes;
  uint32_t flags = 0;         // 1: the tracker could not be set up (`note` says why); no entries follow
  // One moment on three clocks, to place the driver's CPU times (CLOCK_MONOTONIC_RAW) among CUPTI's.
  uint64_t anchor_raw_ns = 0;    // CLOCK_MONOTONIC_RAW
  uint64_t anchor_cupti_ns = 0;  // cuptiGetTimestamp
  uint64_t anchor_real_ns = 0;   // CLOCK_REALTIME
  char note[96] = {};
};
static_assert(sizeof(UvmEventsFileHeader) == 136);
struct UvmEventsTrailer {
  uint64_t entries = 0;
  uint64_t dropped[kUvmEventTypesAll] = {};  // the driver's count of events of each type lost to a full ring
  uint64_t flushes = 0;                      // UVM_TOOLS_FLUSH_EVENTS calls that answered NV_OK
  uint64_t flush_failures = 0;               // and those that did not
  uint64_t flush_every_ns = 0;               // how often the reader flushed while the program ran (0: at the end)
};

// The in-process reader: set up on the VA space of the process's CUDA context, drained by its own thread
// into a file. start() returns false and leaves `error` set when the driver refuses (no tools device, no
// VA-space descriptor, an ioctl error); the pass then writes a file saying so.
class UvmEventReader {
 public:
  bool start(const char* path, uint64_t anchor_cupti_ns, uint32_t ring_entries, uint64_t flush_every_ns);
  // Flushes the driver's delayed events, drains the ring and writes the trailer; the file is then
  // renamed from `path`.part to `path`.
  void finish();
  const char* error() const { return error_; }

 private:
  static void* run(void* self);
  void drain();
  void flush();
  int tools_fd_ = -1, va_fd_ = -1;
  uint64_t flush_every_ns_ = 0, flush_failures_ = 0;
  void* ring_ = nullptr;
  void* control_ = nullptr;
  uint32_t mask_ = 0;
  void* file_ = nullptr;
  char path_[4096] = {};
  char error_[96] = {};
  uint64_t entries_ = 0, flushes_ = 0;
  volatile bool stop_ = false;
  unsigned long thread_ = 0;
  bool running_ = false;
};

}  // namespace uvmtrace
