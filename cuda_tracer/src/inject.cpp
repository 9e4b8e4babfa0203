// The CUPTI injection library (CUDA_INJECTION64_PATH=libuvmtrace.so, set up by `uvmtrace`): records what
// an unmodified CUDA program does, for one pass of a recording (UVMTRACE_PASS):
//   timing    kernels, API calls, memcpy/memset, NVTX: the times validation uses (no UM counters)
//   counters  the same plus every unified-memory counter, and host-residency probes of managed memory
//   resident  the same as timing, but every managed allocation is prefetched to the GPU before each
//             kernel, so each kernel's duration is its resident duration
//   events    the same as timing, plus the UVM driver's own event queue (uvm_events.h): every fault
//             entry with its batch id, replays, migrations, evictions ... in uvm_events.bin
// Output, in $UVMTRACE_OUT (or its proc_<label> folder, process_dir.h): cupti.bin (CUPTI activity buffers, framed: raw_format.h) and events.tsv
// (call arguments, allocations, probes; see RAW.md). Both are written as *.part and renamed at exit, so
// an interrupted pass never looks complete.
#include <cuda.h>
#include <cuda_runtime_api.h>
#include <cupti.h>
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "process_dir.h"
#include "raw_format.h"
#include "uvm_events.h"

namespace {

enum class Pass { kTiming, kCounters, kResident, kEvents };

struct State {
  std::recursive_mutex mu;  // events.tsv and the tool's tables
  std::mutex file_mu;       // cupti.bin (written from CUPTI's buffer-completion thread)
  Pass pass = Pass::kTiming;
  std::string out_dir;
  FILE* cupti = nullptr;
  FILE* events = nullptr;
  CUpti_SubscriberHandle subscriber = nullptr;
  bool um_enabled = false;
  bool activity_enabled = false;
  uint64_t free0 = 0;
  uint64_t managed_live = 0, device_live = 0;
  std::map<uint64_t, std::pair<uint64_t, bool>> allocs;  // va -> (bytes, managed)
  std::map<const void*, uint32_t> event_ids;
  std::map<const void*, uint32_t> streams_seen;  // stream handle -> CUPTI stream id, logged once
  uint64_t dropped_total = 0;
  bool soft_dirty = false;
  int pagemap = -1;
  uvmtrace::UvmEventReader driver_events;  // the events pass
  bool driver_events_started = false;
};

State& st() {
  static State* s = new State();
  return *s;
}

thread_local int in_tool = 0;        // >0 while the tool itself calls CUDA (its callbacks are ignored)
thread_local int runtime_depth = 0;  // >0 inside a runtime API call (its driver calls are not the program's)

void fatal(const char* what, CUptiResult r) {
  const char* text = "?";
  cuptiGetResultString(r, &text);
  std::fprintf(stderr, "uvmtrace: %s failed: %s (%d)\n", what, text, int(r));
  std::fflush(stderr);
  _exit(4);
}
#define CUPTI(call)                      \
  do {                                   \
    CUptiResult r_ = (call);             \
    if (r_ != CUPTI_SUCCESS) fatal(#call, r_); \
  } while (0)

uint64_t ts() {
  uint64_t t = 0;
  cuptiGetTimestamp(&t);
  return t;
}

void line(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void line(const char* fmt, ...) {
  State& s = st();
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(s.events, fmt, ap);
  va_end(ap);
  std::fputc('\n', s.events);
}

uint32_t stream_id(CUcontext ctx, CUstream stream) {
  uint32_t id = 0;
  if (cuptiGetStreamIdEx(ctx, stream, 0, &id) != CUPTI_SUCCESS) return 0xffffffffu;
  return id;
}

// The SMs of the green context a stream belongs to (cuda_tracer/src/green_context.h), or 0 for a stream of
// an ordinary context (the whole GPU).
unsigned green_sms(CUstream stream) {
  CUgreenCtx g = nullptr;
  if (stream == nullptr || cuStreamGetGreenCtx(stream, &g) != CUDA_SUCCESS || g == nullptr) return 0;
  CUdevResource r{};
  if (cuGreenCtxGetDevResource(g, &r, CU_DEV_RESOURCE_TYPE_SM) != CUDA_SUCCESS) return 0;
  return r.sm.smCount;
}

// The stream a launch goes to, logged the first time (handle -> id, and the SMs of its green context), so
// that a framework that knows its streams' handles (trace_torch.py) can say which tenant each stream serves,
// and the converter on how many SMs each kernel ran.
uint32_t launch_stream(CUcontext ctx, CUstream stream) {
  State& s = st();
  const uint32_t id = stream_id(ctx, stream);
  if (s.streams_seen.emplace(stream, id).second)
    line("stream\t%" PRIx64 "\t%u\t%u", uint64_t(uintptr_t(stream)), id, green_sms(stream));
  return id;
}

uint32_t event_id(const void* ev) {
  State& s = st();
  auto it = s.event_ids.find(ev);
  if (it == s.event_ids.end()) it = s.event_ids.emplace(ev, uint32_t(s.event_ids.size())).first;
  return it->second;
}

// ---- activity buffers ---------------------------------------------------------------------------------
constexpr size_t kBufferBytes = 8u << 20;

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *buffer = static_cast<uint8_t*>(aligned_alloc(8, kBufferBytes));
  *size = kBufferBytes;
  *max_records = 0;
}

void CUPTIAPI buffer_completed(CUcontext ctx, uint32_t stream, uint8_t* buffer, size_t, size_t valid) {
  State& s = st();
  std::vector<uvmtrace::RecordIndex> index;
  std::vector<std::pair<uvmtrace::StringRef, std::string>> strings;
  CUpti_Activity* rec = nullptr;
  while (cuptiActivityGetNextRecord(buffer, valid, &rec) == CUPTI_SUCCESS) {
    const uint32_t off = uint32_t(reinterpret_cast<uint8_t*>(rec) - buffer);
    index.push_back({off, uint32_t(rec->kind)});
    auto add = [&](uint32_t field, const char* text) {
      if (text == nullptr) return;
      std::string str(text);
      strings.push_back({{off, field, uint32_t(str.size())}, str});
    };
    if (rec->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL || rec->kind == CUPTI_ACTIVITY_KIND_KERNEL) {
      add(uvmtrace::kKernelName, reinterpret_cast<CUpti_ActivityKernel10*>(rec)->name);
    } else if (rec->kind == CUPTI_ACTIVITY_KIND_MARKER) {
      auto* m = reinterpret_cast<CUpti_ActivityMarker2*>(rec);
      add(uvmtrace::kMarkerName, m->name);
      add(uvmtrace::kMarkerDomain, m->domain);
    }
  }
  size_t dropped = 0;
  cuptiActivityGetNumDroppedRecords(ctx, stream, &dropped);
  {
    std::lock_guard<std::mutex> lock(s.file_mu);
    s.dropped_total += dropped;
    if (s.cupti) {
      uvmtrace::FrameHeader h;
      h.records = uint32_t(index.size());
      h.bytes = valid;
      h.dropped = dropped;
      h.strings = uint32_t(strings.size());
      h.stream_id = stream;
      std::fwrite(&h, sizeof h, 1, s.cupti);
      if (!index.empty()) std::fwrite(index.data(), sizeof(uvmtrace::RecordIndex), index.size(), s.cupti);
      for (auto& [ref, text] : strings) {
        std::fwrite(&ref, sizeof ref, 1, s.cupti);
        std::fwrite(text.data(), 1, text.size(), s.cupti);
      }
      if (valid) std::fwrite(buffer, 1, valid, s.cupti);
    }
  }
  std::free(buffer);
}

void enable_activities(CUcontext ctx) {
  State& s = st();
  if (s.activity_enabled) return;
  s.activity_enabled = true;
  if (s.pass == Pass::kCounters) {
    // Configure and enable the UM counters here (CONTEXT_CREATED), not in InitializeInjection, where
    // CUPTI answers NOT_READY and records nothing (reference/uvm-driver.md).
    const CUpti_ActivityUnifiedMemoryCounterKind kinds[] = {
        CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_BYTES_TRANSFER_HTOD,
        CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_BYTES_TRANSFER_DTOH,
        CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_CPU_PAGE_FAULT_COUNT,
        CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_GPU_PAGE_FAULT,
        CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_THRASHING,
        CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_THROTTLING,
        CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_KIND_REMOTE_MAP,
    };
    CUdevice dev = 0;
    cuCtxGetDevice(&dev);
    std::vector<CUpti_ActivityUnifiedMemoryCounterConfig> cfg;
    for (auto k : kinds) {
      CUpti_ActivityUnifiedMemoryCounterConfig c{};
      c.scope = CUPTI_ACTIVITY_UNIFIED_MEMORY_COUNTER_SCOPE_PROCESS_SINGLE_DEVICE;
      c.kind = k;
      c.deviceId = uint32_t(dev);
      c.enable = 1;
      cfg.push_back(c);
    }
    CUptiResult r = cuptiActivityConfigureUnifiedMemoryCounter(cfg.data(), uint32_t(cfg.size()));
    if (r != CUPTI_SUCCESS) {
      // Some counters are not offered on every system: keep those that configure one by one.
      std::vector<CUpti_ActivityUnifiedMemoryCounterConfig> ok;
      for (auto& c : cfg) {
        auto trial = ok;
        trial.push_back(c);
        if (cuptiActivityConfigureUnifiedMemoryCounter(trial.data(), uint32_t(trial.size())) == CUPTI_SUCCESS)
          ok = trial;
        else
          line("um_counter_unavailable\t%d", int(c.kind));
      }
      CUPTI(cuptiActivityConfigureUnifiedMemoryCounter(ok.data(), uint32_t(ok.size())));
    }
    CUPTI(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_UNIFIED_MEMORY_COUNTER));
    s.um_enabled = true;
  }
  CUPTI(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL));
  CUPTI(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_RUNTIME));
  CUPTI(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMCPY));
  CUPTI(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MEMSET));
  if (cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MARKER) != CUPTI_SUCCESS) line("nvtx_unavailable");
  (void)ctx;
}

// ---- device description and the safety check -------------------------------------------------------
void describe_device(CUcontext ctx) {
  State& s = st();
  (void)ctx;
  CUdevice dev = 0;
  cuCtxGetDevice(&dev);
  char name[256] = {0};
  cuDeviceGetName(name, sizeof name, dev);
  int sms = 0, major = 0, minor = 0, threads_sm = 0, regs_sm = 0, smem_sm = 0, ctas_sm = 0, drv = 0;
  cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, dev);
  cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev);
  cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev);
  cuDeviceGetAttribute(&threads_sm, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_MULTIPROCESSOR, dev);
  cuDeviceGetAttribute(&regs_sm, CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_MULTIPROCESSOR, dev);
  cuDeviceGetAttribute(&smem_sm, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_MULTIPROCESSOR, dev);
  cuDeviceGetAttribute(&ctas_sm, CU_DEVICE_ATTRIBUTE_MAX_BLOCKS_PER_MULTIPROCESSOR, dev);
  cuDriverGetVersion(&drv);
  size_t free_b = 0, total_b = 0;
  cuMemGetInfo(&free_b, &total_b);
  if (s.free0 == 0) s.free0 = free_b;
  // The UVM driver's module parameters in force (numeric ones), for the trace header.
  if (DIR* d = opendir("/sys/module/nvidia_uvm/parameters")) {
    while (dirent* e = readdir(d)) {
      if (e->d_name[0] == '.') continue;
      std::string path = std::string("/sys/module/nvidia_uvm/parameters/") + e->d_name;
      FILE* f = std::fopen(path.c_str(), "r");
      if (!f) continue;
      long long v = 0;
      if (std::fscanf(f, "%lld", &v) == 1) line("uvm_param\t%s\t%lld", e->d_name, v);
      std::fclose(f);
    }
    closedir(d);
  }
  line("device\t%s\t%d\t%zu\t%zu\t%d.%d\t%d\t%d\t%d\t%d\t%d", name, sms, total_b, free_b, major, minor, threads_sm,
       regs_sm, smem_sm, ctas_sm, drv);
}

void refuse_if_oversubscribing(uint64_t bytes, bool managed) {
  State& s = st();
  if (s.free0 == 0) {  // the first call of the program: create the context now to learn the free memory
    cudaFree(nullptr);
    size_t free_b = 0, total_b = 0;
    if (s.free0 == 0 && cudaMemGetInfo(&free_b, &total_b) == cudaSuccess) s.free0 = free_b;
  }
  const uint64_t after = s.managed_live + s.device_live + bytes;
  if (s.free0 != 0 && after > s.free0 / 10 * 9 && managed) {
    line("refused\t%" PRIu64 "\t%" PRIu64, after, s.free0);
    std::fflush(s.events);
    std::fprintf(stderr,
                 "uvmtrace: refusing cudaMallocManaged of %" PRIu64 " bytes: the program's allocations would reach "
                 "%" PRIu64 " bytes, over 90%% of the %" PRIu64 " bytes the GPU had free. The tracer never "
                 "oversubscribes a real GPU; oversubscription is what the simulator is for.\n",
                 bytes, after, s.free0);
    std::fflush(stderr);
    _exit(3);
  }
}

// ---- host-residency probes (counters pass) ----------------------------------------------------------
// /proc/self/pagemap tells which pages of each managed allocation are mapped on the CPU now; with
// soft-dirty bits (cleared after each probe) whether the CPU wrote them. The converter turns what
// changed between probes into the trace's host accesses.
void detect_soft_dirty() {
  State& s = st();
  s.pagemap = open("/proc/self/pagemap", O_RDONLY);
  if (s.pagemap < 0) return;
  int fd = open("/proc/self/clear_refs", O_WRONLY);
  if (fd < 0) return;
  void* page = aligned_alloc(4096, 4096);
  std::memset(page, 1, 4096);
  bool ok = write(fd, "4", 1) == 1;
  static_cast<volatile char*>(page)[0] = 2;
  uint64_t entry = 0;
  ok = ok && pread(s.pagemap, &entry, 8, off_t(reinterpret_cast<uint64_t>(page) / 4096 * 8)) == 8;
  s.soft_dirty = ok && (entry >> 55 & 1);
  close(fd);
  std::free(page);
}

void probe(const char* where, uint32_t corr) {
  State& s = st();
  if (s.pass != Pass::kCounters || s.pagemap < 0) return;
  line("probe\t%" PRIu64 "\t%s\t%u", ts(), where, corr);
  std::vector<uint64_t> entries;
  for (auto& [va, info] : s.allocs) {
    if (!info.second) continue;
    const uint64_t first = va / 4096, pages = (info.first + 4095) / 4096;
    entries.resize(pages);
    if (pread(s.pagemap, entries.data(), pages * 8, off_t(first * 8)) != ssize_t(pages * 8)) continue;
    std::string runs;
    for (uint64_t i = 0; i < pages;) {
      const bool present = entries[i] >> 63 & 1;
      if (!present) {
        ++i;
        continue;
      }
      const bool dirty = entries[i] >> 55 & 1;
      uint64_t j = i + 1;
      while (j < pages && (entries[j] >> 63 & 1) && bool(entries[j] >> 55 & 1) == dirty) ++j;
      char buf[64];
      std::snprintf(buf, sizeof buf, "%s%" PRIu64 ":%" PRIu64 ":%d", runs.empty() ? "" : ",", first + i, j - i,
                    dirty ? 1 : 0);
      runs += buf;
      i = j;
    }
    if (!runs.empty()) line("present\t%" PRIx64 "\t%s", va, runs.c_str());
  }
  if (s.soft_dirty) {
    int fd = open("/proc/self/clear_refs", O_WRONLY);
    if (fd >= 0) {
      if (write(fd, "4", 1) != 1) s.soft_dirty = false;
      close(fd);
    }
  }
}

void sync_and_probe(const char* where, uint32_t corr) {
  State& s = st();
  if (s.pass != Pass::kCounters || s.pagemap < 0) return;
  ++in_tool;
  cudaDeviceSynchronize();  // kernels in flight would still be moving pages: settle first
  --in_tool;
  probe(where, corr);
}

// ---- resident pass ------------------------------------------------------------------------------------
void prefetch_all(cudaStream_t stream) {
  State& s = st();
  int dev = 0;
  ++in_tool;
  cudaGetDevice(&dev);
  for (auto& [va, info] : s.allocs) {
    if (!info.second) continue;
    cudaMemLocation loc{};
    loc.type = cudaMemLocationTypeDevice;
    loc.id = dev;
    cudaMemPrefetchAsync(reinterpret_cast<void*>(va), info.first, loc, 0, stream);
  }
  cudaStreamSynchronize(stream);
  --in_tool;
}

// ---- API callbacks ------------------------------------------------------------------------------------
void runtime_api(CUpti_CallbackId cbid, const CUpti_CallbackData* cb) {
  State& s = st();
  const bool enter = cb->callbackSite == CUPTI_API_ENTER;
  const uint32_t corr = cb->correlationId;
  CUcontext ctx = cb->context;
  std::lock_guard<std::recursive_mutex> lock(s.mu);
  switch (cbid) {
    case CUPTI_RUNTIME_TRACE_CBID_cudaMallocManaged_v6000: {
      auto* p = static_cast<const cudaMallocManaged_v6000_params*>(cb->functionParams);
      if (enter) {
        refuse_if_oversubscribing(p->size, true);
      } else if (*static_cast<const cudaError_t*>(cb->functionReturnValue) == cudaSuccess) {
        const uint64_t va = reinterpret_cast<uint64_t>(*p->devPtr);
        s.allocs[va] = {p->size, true};
        s.managed_live += p->size;
        line("alloc\t%" PRIu64 "\tmanaged\t%" PRIx64 "\t%zu\t%u", ts(), va, p->size, corr);
      }
      break;
    }
    case CUPTI_RUNTIME_TRACE_CBID_cudaMalloc_v3020: {
      auto* p = static_cast<const cudaMalloc_v3020_params*>(cb->functionParams);
      if (!enter && *static_cast<const cudaError_t*>(cb->functionReturnValue) == cudaSuccess) {
        const uint64_t va = reinterpret_cast<uint64_t>(*p->devPtr);
        s.allocs[va] = {p->size, false};
        s.device_live += p->size;
        line("alloc\t%" PRIu64 "\tdevice\t%" PRIx64 "\t%zu\t%u", ts(), va, p->size, corr);
      }
      break;
    }
    case CUPTI_RUNTIME_TRACE_CBID_cudaFree_v3020: {
      auto* p = static_cast<const cudaFree_v3020_params*>(cb->functionParams);
      const uint64_t va = reinterpret_cast<uint64_t>(p->devPtr);
      if (enter) {
        sync_and_probe("free", corr);
      } else {
        auto it = s.allocs.find(va);
        if (it != s.allocs.end()) {
          (it->second.second ? s.managed_live : s.device_live) -= it->second.first;
          s.allocs.erase(it);
          line("free\t%" PRIu64 "\t%" PRIx64 "\t%u", ts(), va, corr);
        }
      }
      break;
    }
    case CUPTI_RUNTIME_TRACE_CBID_cudaMemPrefetchAsync_v12020:
    case CUPTI_RUNTIME_TRACE_CBID_cudaMemPrefetchAsync_ptsz_v12020: {
      auto* p = static_cast<const cudaMemPrefetchAsync_v12020_params*>(cb->functionParams);
      if (enter) {
        const int dev = p->location.type == cudaMemLocationTypeDevice ? p->location.id : -1;
        line("prefetch\t%" PRIu64 "\t%" PRIx64 "\t%zu\t%d\t%u\t%u", ts(), reinterpret_cast<uint64_t>(p->devPtr),
             p->count, dev, stream_id(ctx, reinterpret_cast<CUstream>(p->stream)), corr);
        sync_and_probe("prefetch", corr);  // what the CPU touched before the prefetch moves it
      }
      break;
    }
    case CUPTI_RUNTIME_TRACE_CBID_cudaMemAdvise_v12020: {
      auto* p = static_cast<const cudaMemAdvise_v12020_params*>(cb->functionParams);
      if (enter) {
        const int dev = p->location.type == cudaMemLocationTypeDevice ? p->location.id : -1;
        line("advise\t%" PRIu64 "\t%" PRIx64 "\t%zu\t%d\t%d\t%u", ts(), reinterpret_cast<uint64_t>(p->devPtr),
             p->count, int(p->advice), dev, corr);
      }
      break;
    }
    case CUPTI_RUNTIME_TRACE_CBID_cudaMemcpy_v3020:
    case CUPTI_RUNTIME_TRACE_CBID_cudaMemcpyAsync_v3020: {
      if (!enter) break;
      uint64_t dst, src, bytes;
      int kind;
      uint32_t sid = 0;
      if (cbid == CUPTI_RUNTIME_TRACE_CBID_cudaMemcpy_v3020) {
        auto* p = static_cast<const cudaMemcpy_v3020_params*>(cb->functionParams);
        dst = reinterpret_cast<uint64_t>(p->dst), src = reinterpret_cast<uint64_t>(p->src), bytes = p->count;
        kind = int(p->kind);
        sid = stream_id(ctx, nullptr);
      } else {
        auto* p = static_cast<const cudaMemcpyAsync_v3020_params*>(cb->functionParams);
        dst = reinterpret_cast<uint64_t>(p->dst), src = reinterpret_cast<uint64_t>(p->src), bytes = p->count;
        kind = int(p->kind);
        sid = stream_id(ctx, reinterpret_cast<CUstream>(p->stream));
      }
      line("memcpy\t%" PRIu64 "\t%" PRIx64 "\t%" PRIx64 "\t%" PRIu64 "\t%d\t%u\t%u", ts(), dst, src, bytes, kind, sid,
           corr);
      sync_and_probe("memcpy", corr);
      break;
    }
    case CUPTI_RUNTIME_TRACE_CBID_cudaMemset_v3020:
    case CUPTI_RUNTIME_TRACE_CBID_cudaMemsetAsync_v3020: {
      if (!enter) break;
      uint64_t va, bytes;
      int value;
      uint32_t sid = 0;
      if (cbid == CUPTI_RUNTIME_TRACE_CBID_cudaMemset_v3020) {
        auto* p = static_cast<const cudaMemset_v3020_params*>(cb->functionParams);
        va = reinterpret_cast<uint64_t>(p->devPtr), bytes = p->count, value = p->value;
        sid = stream_id(ctx, nullptr);
      } else {
        auto* p = static_cast<const cudaMemsetAsync_v3020_params*>(cb->functionParams);
        va = reinterpret_cast<uint64_t>(p->devPtr), bytes = p->count, value = p->value;
        sid = stream_id(ctx, reinterpret_cast<CUstream>(p->stream));
      }
      line("memset\t%" PRIu64 "\t%" PRIx64 "\t%" PRIu64 "\t%d\t%u\t%u", ts(), va, bytes, value, sid, corr);
      sync_and_probe("memset", corr);
      break;
    }
    case CUPTI_RUNTIME_TRACE_CBID_cudaEventRecord_v3020:
    case CUPTI_RUNTIME_TRACE_CBID_cudaEventRecord_ptsz_v7000: {
      if (!enter) break;
      auto* p = static_cast<const cudaEventRecord_v3020_params*>(cb->functionParams);
      line("event_record\t%" PRIu64 "\t%u\t%u\t%u", ts(), event_id(p->event),
           stream_id(ctx, reinterpret_cast<CUstream>(p->stream)), corr);
      break;
    }
    case CUPTI_RUNTIME_TRACE_CBID_cudaStreamWaitEvent_v3020:
    case CUPTI_RUNTIME_TRACE_CBID_cudaStreamWaitEvent_ptsz_v7000: {
      if (!enter) break;
      auto* p = static_cast<const cudaStreamWaitEvent_v3020_params*>(cb->functionParams);
      line("event_wait\t%" PRIu64 "\t%u\t%u\t%u", ts(), stream_id(ctx, reinterpret_cast<CUstream>(p->stream)),
           event_id(p->event), corr);
      break;
    }
    case CUPTI_RUNTIME_TRACE_CBID_cudaDeviceSynchronize_v3020:
      if (!enter) {
        line("sync\t%" PRIu64 "\tdevice\t0\t%u", ts(), corr);
        sync_and_probe("sync", corr);
      }
      break;
    case CUPTI_RUNTIME_TRACE_CBID_cudaStreamSynchronize_v3020:
      if (!enter) {
        auto* p = static_cast<const cudaStreamSynchronize_v3020_params*>(cb->functionParams);
        line("sync\t%" PRIu64 "\tstream\t%u\t%u", ts(), stream_id(ctx, reinterpret_cast<CUstream>(p->stream)), corr);
      }
      break;
    case CUPTI_RUNTIME_TRACE_CBID_cudaLaunchKernel_v7000:
    case CUPTI_RUNTIME_TRACE_CBID_cudaLaunchKernel_ptsz_v7000: {
      if (!enter) break;
      auto* p = static_cast<const cudaLaunchKernel_v7000_params*>(cb->functionParams);
      line("launch\t%" PRIu64 "\t%u\t%u", ts(), launch_stream(ctx, reinterpret_cast<CUstream>(p->stream)), corr);
      sync_and_probe("launch", corr);
      if (s.pass == Pass::kResident) prefetch_all(p->stream);
      break;
    }
    case CUPTI_RUNTIME_TRACE_CBID_cudaLaunchKernelExC_v11060:
    case CUPTI_RUNTIME_TRACE_CBID_cudaLaunchKernelExC_ptsz_v11060: {
      if (!enter) break;
      auto* p = static_cast<const cudaLaunchKernelExC_v11060_params*>(cb->functionParams);
      cudaStream_t stream = p->config ? p->config->stream : nullptr;
      line("launch\t%" PRIu64 "\t%u\t%u", ts(), launch_stream(ctx, reinterpret_cast<CUstream>(stream)), corr);
      sync_and_probe("launch", corr);
      if (s.pass == Pass::kResident) prefetch_all(stream);
      break;
    }
    default:
      break;
  }
}

// Libraries (cuBLAS, cuDNN) launch through the driver API: same probes and resident prefetch.
void driver_api(CUpti_CallbackId cbid, const CUpti_CallbackData* cb) {
  State& s = st();
  if (cb->callbackSite != CUPTI_API_ENTER) return;
  CUstream stream = nullptr;
  if (cbid == CUPTI_DRIVER_TRACE_CBID_cuLaunchKernel || cbid == CUPTI_DRIVER_TRACE_CBID_cuLaunchKernel_ptsz)
    stream = static_cast<const cuLaunchKernel_params*>(cb->functionParams)->hStream;
  else if (cbid == CUPTI_DRIVER_TRACE_CBID_cuLaunchKernelEx || cbid == CUPTI_DRIVER_TRACE_CBID_cuLaunchKernelEx_ptsz)
    stream = static_cast<const cuLaunchKernelEx_params*>(cb->functionParams)->config->hStream;
  else
    return;
  std::lock_guard<std::recursive_mutex> lock(s.mu);
  line("launch\t%" PRIu64 "\t%u\t%u", ts(), launch_stream(cb->context, stream), cb->correlationId);
  sync_and_probe("launch", cb->correlationId);
  if (s.pass == Pass::kResident) prefetch_all(reinterpret_cast<cudaStream_t>(stream));
}

// The events pass: the driver's event queue of this process's VA space, which exists once a context does.
void start_driver_events() {
  State& s = st();
  if (s.pass != Pass::kEvents || s.driver_events_started) return;
  s.driver_events_started = true;
  const char* ring = std::getenv("UVMTRACE_EVENT_RING");  // entries, a power of two
  const uint32_t entries = ring ? uint32_t(std::strtoul(ring, nullptr, 10)) : (1u << 18);
  const char* every = std::getenv("UVMTRACE_EVENT_FLUSH_US");  // flush while running (0: at the end only)
  const uint64_t flush_ns = every ? uint64_t(std::strtoull(every, nullptr, 10)) * 1000 : 0;
  if (s.driver_events.start((s.out_dir + "/uvm_events.bin").c_str(), ts(), entries, flush_ns))
    line("driver_events\tstarted\t%u\t%" PRIu64, entries, flush_ns);
  else
    line("driver_events\tfailed\t%s", s.driver_events.error());
}

void CUPTIAPI callback(void*, CUpti_CallbackDomain domain, CUpti_CallbackId cbid, const void* data) {
  // A context may be created inside one of the tool's own calls (the safety check's): handle it anyway.
  if (in_tool > 0 && !(domain == CUPTI_CB_DOMAIN_RESOURCE && cbid == CUPTI_CBID_RESOURCE_CONTEXT_CREATED)) return;
  if (domain == CUPTI_CB_DOMAIN_RESOURCE && cbid == CUPTI_CBID_RESOURCE_CONTEXT_CREATED) {
    auto* r = static_cast<const CUpti_ResourceData*>(data);
    std::lock_guard<std::recursive_mutex> lock(st().mu);
    ++in_tool;
    describe_device(r->context);
    enable_activities(r->context);
    start_driver_events();
    --in_tool;
  } else if (domain == CUPTI_CB_DOMAIN_RUNTIME_API) {
    auto* cb = static_cast<const CUpti_CallbackData*>(data);
    if (cb->callbackSite == CUPTI_API_EXIT) --runtime_depth;
    ++in_tool;
    runtime_api(cbid, cb);
    --in_tool;
    if (cb->callbackSite == CUPTI_API_ENTER) ++runtime_depth;
  } else if (domain == CUPTI_CB_DOMAIN_DRIVER_API && runtime_depth == 0) {
    ++in_tool;
    driver_api(cbid, static_cast<const CUpti_CallbackData*>(data));
    --in_tool;
  }
}

std::string command_line() {
  std::string cmd;
  FILE* f = std::fopen("/proc/self/cmdline", "rb");
  if (!f) return cmd;
  int c;
  while ((c = std::fgetc(f)) != EOF) cmd += c == 0 ? ' ' : char(c);
  std::fclose(f);
  while (!cmd.empty() && cmd.back() == ' ') cmd.pop_back();
  return cmd;
}

void finish() {
  State& s = st();
  if (!s.events) return;
  ++in_tool;
  {
    std::lock_guard<std::recursive_mutex> lock(s.mu);
    probe("exit", 0);
  }
  cuptiActivityFlushAll(1);
  if (s.driver_events_started) s.driver_events.finish();
  --in_tool;
  std::lock_guard<std::recursive_mutex> lock(s.mu);
  std::lock_guard<std::mutex> file_lock(s.file_mu);
  line("end\t%" PRIu64 "\t%" PRIu64 "\tcomplete", ts(), s.dropped_total);
  std::fclose(s.events);
  std::fclose(s.cupti);
  s.events = s.cupti = nullptr;
  for (const char* name : {"events.tsv", "cupti.bin"}) {
    std::string to = s.out_dir + "/" + name;
    std::rename((to + ".part").c_str(), to.c_str());
  }
}

}  // namespace

// NVTX injection (uvmtrace sets NVTX_INJECTION64_PATH to this library): hands NVTX to the CUPTI this
// library is linked with. Pointing NVTX at the toolkit's libcupti.so directly fails when the program has
// already loaded another copy of CUPTI (PyTorch loads its own): NVTX would then feed a second CUPTI whose
// marker records never reach the activity buffers recorded here.
extern "C" int InitializeInjectionNvtx2(void* get_export_table) {
  Dl_info info{};
  if (!dladdr(reinterpret_cast<void*>(&cuptiActivityEnable), &info) || !info.dli_fname) return 0;
  void* cupti = dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD);
  if (!cupti) return 0;
  using Init = int (*)(void*);
  auto init = reinterpret_cast<Init>(dlsym(cupti, "InitializeInjectionNvtx2"));
  return init ? init(get_export_table) : 0;
}

extern "C" int InitializeInjection(void) {
  static std::atomic<bool> once{false};
  if (once.exchange(true)) return 1;
  State& s = st();
  const char* out = std::getenv("UVMTRACE_OUT");
  const char* pass = std::getenv("UVMTRACE_PASS");
  if (!out || !pass) {
    std::fprintf(stderr, "uvmtrace: UVMTRACE_OUT and UVMTRACE_PASS must be set (use the uvmtrace command)\n");
    return 0;
  }
  s.out_dir = uvmtrace::process_out_dir("uvmtrace", out);
  const std::string p = pass;
  if (p == "timing")
    s.pass = Pass::kTiming;
  else if (p == "counters")
    s.pass = Pass::kCounters;
  else if (p == "resident")
    s.pass = Pass::kResident;
  else if (p == "events")
    s.pass = Pass::kEvents;
  else {
    std::fprintf(stderr, "uvmtrace: unknown pass '%s' (timing, counters, resident or events)\n", pass);
    _exit(2);
  }
  s.events = std::fopen((s.out_dir + "/events.tsv.part").c_str(), "w");
  s.cupti = std::fopen((s.out_dir + "/cupti.bin.part").c_str(), "wb");
  if (!s.events || !s.cupti) {
    std::fprintf(stderr, "uvmtrace: cannot write in %s\n", out);
    _exit(2);
  }
  std::fwrite(uvmtrace::kCuptiFileMagic, 1, 8, s.cupti);
  line("uvmtrace\t%u\t%s\t%d", uvmtrace::kRawVersion, pass, int(getpid()));
  line("cmd\t%s", command_line().c_str());
  if (s.pass == Pass::kCounters) {
    detect_soft_dirty();
    line("soft_dirty\t%d", s.soft_dirty ? 1 : 0);
  }
  CUPTI(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed));
  // NVTX ranges are not tied to a context: record those opened before the first context too (again at
  // each context's creation, where a failure is logged).
  (void)cuptiActivityEnable(CUPTI_ACTIVITY_KIND_MARKER);
  CUPTI(cuptiSubscribe(&s.subscriber, callback, nullptr));
  CUPTI(cuptiEnableDomain(1, s.subscriber, CUPTI_CB_DOMAIN_RESOURCE));
  CUPTI(cuptiEnableDomain(1, s.subscriber, CUPTI_CB_DOMAIN_RUNTIME_API));
  CUPTI(cuptiEnableDomain(1, s.subscriber, CUPTI_CB_DOMAIN_DRIVER_API));
  std::atexit(finish);
  return 1;
}
