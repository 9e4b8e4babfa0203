// Access capture: a Compute Sanitizer API tool (LD_PRELOAD=libuvmaccess.so, set up by `uvmtrace`) that
// patches every loaded module so that each global memory access and cp.async of every kernel (cuDNN's
// and cuBLAS's included) calls the device patches of access_patch.cu. Each launch is run to completion
// and its deduplicated (CTA, page) table is appended to $UVMTRACE_OUT/access.bin. No sampling.
// Needs the Compute Sanitizer API, which exists only on the GPU machine: an optional CMake target.
#include <sanitizer.h>

#include <cuda.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "access_state.h"
#include "process_dir.h"
#include "raw_format.h"

namespace {

using uvmtrace::AccessEntry;
using uvmtrace::DeviceState;

void die(const char* what, SanitizerResult r) {
  const char* text = "?";
  sanitizerGetResultString(r, &text);
  std::fprintf(stderr, "uvmaccess: %s failed: %s (%d)\n", what, text, int(r));
  std::fflush(stderr);
  _exit(4);
}
#define SAN(call)                          \
  do {                                     \
    SanitizerResult r_ = (call);           \
    if (r_ != SANITIZER_SUCCESS) die(#call, r_); \
  } while (0)

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

uint64_t env_u64(const char* name, uint64_t dflt) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : dflt;
}

struct Tool {
  std::mutex mu;            // held from LAUNCH_BEGIN to LAUNCH_END: one instrumented launch at a time
  std::string out_dir, patch_path, part_path, final_path;
  FILE* out = nullptr;
  FILE* allocs = nullptr;  // allocs.tsv: the process's allocations, to match them with the other passes'
  FILE* lines = nullptr;   // lines.tsv: per launch and access kind, the lines each (warp access, page) touched
  FILE* warps = nullptr;   // warps.tsv: per launch and access kind, the warps of the CTA each (CTA, page) had
  std::map<CUcontext, bool> patches_loaded;
  std::map<CUstream, uint32_t> stream_ordinal;
  uint64_t launches = 0, overflowed = 0, pairs = 0;
  uint64_t managed_live = 0, free0 = 0;
  std::map<uint64_t, uint64_t> managed;  // va -> bytes
  // Device buffers (one set, reused by every launch; grown when a launch has more threads).
  CUcontext ctx = nullptr;
  DeviceState host_state{};
  DeviceState* dev_state = nullptr;
  unsigned long long table_slots = 0;
  std::vector<AccessEntry> entries;
  std::vector<uint32_t> warp_masks;         // per entry: read, write
  std::vector<uint64_t> first_warp_masks;   // per entry: read, write: (first use's ordinal << 32) | warps
  std::vector<uint64_t> first_line_masks;   // the same with the lines touched at the first use
  struct Pending {
    std::string name;
    uvmtrace::LaunchHeader header;
    Sanitizer_StreamHandle stream;
  } pending;
};

Tool& tool() {
  static Tool* t = new Tool();
  return *t;
}

void ensure_buffers(CUcontext ctx, uint64_t threads, Sanitizer_StreamHandle stream) {
  Tool& t = tool();
  if (t.ctx != ctx || t.dev_state == nullptr) {
    t.ctx = ctx;
    const uint64_t log2 = std::min<uint64_t>(env_u64("UVMTRACE_ACCESS_ENTRIES_LOG2", 23), 30);
    t.host_state.capacity = 1ull << log2;
    t.table_slots = 2ull << log2;
    t.host_state.table_mask = t.table_slots - 1;
    SAN(sanitizerAlloc(ctx, reinterpret_cast<void**>(&t.host_state.keys), t.table_slots * 8));
    SAN(sanitizerAlloc(ctx, reinterpret_cast<void**>(&t.host_state.slot_entry), t.table_slots * 4));
    SAN(sanitizerAlloc(ctx, reinterpret_cast<void**>(&t.host_state.entries),
                       t.host_state.capacity * sizeof(AccessEntry)));
    SAN(sanitizerAlloc(ctx, reinterpret_cast<void**>(&t.host_state.warps), t.host_state.capacity * 8));
    SAN(sanitizerAlloc(ctx, reinterpret_cast<void**>(&t.host_state.first_warps), t.host_state.capacity * 16));
    SAN(sanitizerAlloc(ctx, reinterpret_cast<void**>(&t.host_state.first_lines), t.host_state.capacity * 16));
    SAN(sanitizerAlloc(ctx, reinterpret_cast<void**>(&t.dev_state), sizeof(DeviceState)));
    t.host_state.thread_counts = nullptr;
    t.host_state.thread_capacity = 0;
  }
  if (threads > t.host_state.thread_capacity) {
    if (t.host_state.thread_counts) SAN(sanitizerFree(ctx, t.host_state.thread_counts));
    uint64_t cap = std::max<uint64_t>(threads, 1 << 20);
    SAN(sanitizerAlloc(ctx, reinterpret_cast<void**>(&t.host_state.thread_counts), cap * 4));
    t.host_state.thread_capacity = cap;
  }
  t.host_state.count = 0;
  t.host_state.overflow = 0;
  SAN(sanitizerMemset(t.host_state.keys, 0, t.table_slots * 8, stream));
  SAN(sanitizerMemset(t.host_state.slot_entry, 0, t.table_slots * 4, stream));
  SAN(sanitizerMemset(t.host_state.thread_counts, 0, threads * 4, stream));
  SAN(sanitizerMemcpyHostToDeviceAsync(t.dev_state, &t.host_state, sizeof(DeviceState), stream));
}

void module_loaded(Sanitizer_ResourceModuleData* m) {
  Tool& t = tool();
  std::lock_guard<std::mutex> lock(t.mu);
  if (!t.patches_loaded[m->context]) {
    SAN(sanitizerAddPatchesFromFile(t.patch_path.c_str(), m->context));
    t.patches_loaded[m->context] = true;
  }
  SAN(sanitizerPatchInstructions(SANITIZER_INSTRUCTION_GLOBAL_MEMORY_ACCESS, m->module, "uvmt_global_access"));
  SAN(sanitizerPatchInstructions(SANITIZER_INSTRUCTION_MEMCPY_ASYNC, m->module, "uvmt_memcpy_async"));
  SAN(sanitizerPatchModule(m->module));
}

void launch_begin(Sanitizer_LaunchData* l) {
  Tool& t = tool();
  t.mu.lock();  // released in launch_end, on this thread
  auto it = t.stream_ordinal.find(l->stream);
  if (it == t.stream_ordinal.end()) it = t.stream_ordinal.emplace(l->stream, uint32_t(t.stream_ordinal.size())).first;
  uvmtrace::LaunchHeader h;
  h.launch = t.launches++;
  h.stream_ordinal = it->second;
  h.grid[0] = l->gridDim_x;
  h.grid[1] = l->gridDim_y;
  h.grid[2] = l->gridDim_z;
  h.block[0] = l->blockDim_x;
  h.block[1] = l->blockDim_y;
  h.block[2] = l->blockDim_z;
  h.host_ns = now_ns();
  const uint64_t threads = uint64_t(h.grid[0]) * h.grid[1] * h.grid[2] * h.block[0] * h.block[1] * h.block[2];
  ensure_buffers(l->context, threads, l->hStream);
  SAN(sanitizerSetLaunchCallbackData(l->hLaunch, l->function, l->hStream, t.dev_state));
  t.pending.name = l->functionName ? l->functionName : "";
  t.pending.header = h;
  t.pending.stream = l->hStream;
}

void launch_end(Sanitizer_LaunchData* l) {
  Tool& t = tool();
  (void)l;
  Sanitizer_StreamHandle s = t.pending.stream;
  SAN(sanitizerStreamSynchronize(s));
  DeviceState back{};
  SAN(sanitizerMemcpyDeviceToHost(&back, t.dev_state, sizeof(DeviceState), s));
  uvmtrace::LaunchHeader h = t.pending.header;
  const uint64_t n = std::min<uint64_t>(back.count, t.host_state.capacity);
  if (back.overflow != 0 || back.count > t.host_state.capacity) {
    h.flags |= uvmtrace::kLaunchOverflow;
    ++t.overflowed;
    std::fprintf(stderr,
                 "uvmaccess: launch %llu (%s): the access table overflowed (%llu entries, capacity %llu, "
                 "flags %u); rerun with a larger UVMTRACE_ACCESS_ENTRIES_LOG2\n",
                 (unsigned long long)h.launch, t.pending.name.c_str(), (unsigned long long)back.count,
                 (unsigned long long)t.host_state.capacity, back.overflow);
  }
  t.entries.resize(n);
  if (n > 0) SAN(sanitizerMemcpyDeviceToHost(t.entries.data(), t.host_state.entries, n * sizeof(AccessEntry), s));
  t.warp_masks.resize(2 * n);
  if (n > 0) SAN(sanitizerMemcpyDeviceToHost(t.warp_masks.data(), t.host_state.warps, n * 8, s));
  t.first_warp_masks.resize(2 * n);
  if (n > 0) SAN(sanitizerMemcpyDeviceToHost(t.first_warp_masks.data(), t.host_state.first_warps, n * 16, s));
  t.first_line_masks.resize(2 * n);
  if (n > 0) SAN(sanitizerMemcpyDeviceToHost(t.first_line_masks.data(), t.host_state.first_lines, n * 16, s));
  // read, write; the warps at the (CTA, page)'s first use; the lines touched at it
  unsigned long long counts[6][33] = {};
  for (uint64_t i = 0; i < 2 * n; ++i) {
    if (t.warp_masks[i] != 0) ++counts[i & 1][__builtin_popcount(t.warp_masks[i])];
    if (t.first_warp_masks[i] != ~0ull)
      ++counts[2 + (i & 1)][__builtin_popcount(uint32_t(t.first_warp_masks[i]))];
    if (t.first_line_masks[i] != ~0ull)
      ++counts[4 + (i & 1)][__builtin_popcount(uint32_t(t.first_line_masks[i]))];
  }
  std::sort(t.entries.begin(), t.entries.end(), [](const AccessEntry& a, const AccessEntry& b) {
    return a.cta != b.cta ? a.cta < b.cta : a.page < b.page;
  });
  h.name_bytes = uint32_t(t.pending.name.size());
  h.entries = n;
  t.pairs += n;
  std::fwrite(&h, sizeof h, 1, t.out);
  std::fwrite(t.pending.name.data(), 1, t.pending.name.size(), t.out);
  static const char* const kKinds[3] = {"read", "write", "atomic"};
  for (int k = 0; k < 3; ++k) {
    unsigned long long any = 0;
    for (int l = 1; l <= 32; ++l) any += back.lines[k][l];
    if (any == 0) continue;
    std::fprintf(t.lines, "%llu\t%s", (unsigned long long)h.launch, kKinds[k]);
    for (int l = 1; l <= 32; ++l) std::fprintf(t.lines, "\t%llu", back.lines[k][l]);
    std::fprintf(t.lines, "\t%s\n", t.pending.name.c_str());
  }
  static const char* const kWarpKinds[6] = {
      "read", "write", "read_first", "write_first", "read_first_lines", "write_first_lines"};
  for (int k = 0; k < 6; ++k) {
    unsigned long long any = 0;
    for (int w = 1; w <= 32; ++w) any += counts[k][w];
    if (any == 0) continue;
    std::fprintf(t.warps, "%llu\t%s", (unsigned long long)h.launch, kWarpKinds[k]);
    for (int w = 1; w <= 32; ++w) std::fprintf(t.warps, "\t%llu", counts[k][w]);
    std::fprintf(t.warps, "\t%s\n", t.pending.name.c_str());
  }
  if (n > 0) std::fwrite(t.entries.data(), sizeof(AccessEntry), n, t.out);
  t.mu.unlock();
}

void memory_alloc(Sanitizer_ResourceMemoryData* m) {
  Tool& t = tool();
  const bool managed = (m->flags & SANITIZER_MEMORY_FLAG_MANAGED) != 0;
  if (!managed && m->flags != SANITIZER_MEMORY_FLAG_NONE) return;
  std::lock_guard<std::mutex> lock(t.mu);
  if (t.allocs) {
    std::fprintf(t.allocs, "alloc\t%s\t%llx\t%llu\n", managed ? "managed" : "device",
                 (unsigned long long)m->address, (unsigned long long)m->size);
  }
  if (!managed) return;
  t.managed[m->address] = m->size;
  t.managed_live += m->size;
  if (t.free0 == 0) {
    size_t free_b = 0, total_b = 0;
    if (cuMemGetInfo(&free_b, &total_b) == CUDA_SUCCESS) t.free0 = free_b;
  }
  if (t.free0 != 0 && t.managed_live > t.free0 / 10 * 9) {
    std::fprintf(stderr,
                 "uvmtrace: refusing to go on: the program's managed allocations (%llu bytes) would exceed 90%% "
                 "of the GPU's free memory (%llu bytes). The tracer never oversubscribes a real GPU; "
                 "oversubscription is what the simulator is for.\n",
                 (unsigned long long)t.managed_live, (unsigned long long)t.free0);
    std::fflush(stderr);
    _exit(3);
  }
}

void memory_free(Sanitizer_ResourceMemoryData* m) {
  Tool& t = tool();
  std::lock_guard<std::mutex> lock(t.mu);
  auto it = t.managed.find(m->address);
  if (it == t.managed.end()) return;
  t.managed_live -= it->second;
  t.managed.erase(it);
}

// The output files are created at the first CUDA event of the process, so that processes that never use
// CUDA (a shell between uvmtrace and the program, cuda_tracer/together) leave nothing behind.
void open_outputs() {
  Tool& t = tool();
  t.out_dir = uvmtrace::process_out_dir("uvmaccess", t.out_dir.c_str());
  t.final_path = t.out_dir + "/access.bin";
  t.part_path = t.final_path + ".part";
  t.out = std::fopen(t.part_path.c_str(), "wb");
  if (!t.out) {
    std::fprintf(stderr, "uvmaccess: cannot write %s\n", t.part_path.c_str());
    _exit(2);
  }
  std::fwrite(uvmtrace::kAccessFileMagic, 1, 8, t.out);
  t.allocs = std::fopen((t.out_dir + "/allocs.tsv.part").c_str(), "w");
  t.lines = std::fopen((t.out_dir + "/lines.tsv.part").c_str(), "w");
  t.warps = std::fopen((t.out_dir + "/warps.tsv.part").c_str(), "w");
  if (!t.allocs || !t.lines || !t.warps) {
    std::fprintf(stderr, "uvmaccess: cannot write in %s\n", t.out_dir.c_str());
    _exit(2);
  }
}

std::once_flag outputs_opened;

void callback(void*, Sanitizer_CallbackDomain domain, Sanitizer_CallbackId cbid, const void* data) {
  std::call_once(outputs_opened, open_outputs);
  if (domain == SANITIZER_CB_DOMAIN_RESOURCE) {
    if (cbid == SANITIZER_CBID_RESOURCE_MODULE_LOADED)
      module_loaded((Sanitizer_ResourceModuleData*)data);
    else if (cbid == SANITIZER_CBID_RESOURCE_DEVICE_MEMORY_ALLOC)
      memory_alloc((Sanitizer_ResourceMemoryData*)data);
    else if (cbid == SANITIZER_CBID_RESOURCE_DEVICE_MEMORY_FREE)
      memory_free((Sanitizer_ResourceMemoryData*)data);
  } else if (domain == SANITIZER_CB_DOMAIN_LAUNCH) {
    if (cbid == SANITIZER_CBID_LAUNCH_BEGIN)
      launch_begin((Sanitizer_LaunchData*)data);
    else if (cbid == SANITIZER_CBID_LAUNCH_END)
      launch_end((Sanitizer_LaunchData*)data);
  }
}

void finish() {
  Tool& t = tool();
  if (t.out == nullptr) return;
  std::fclose(t.out);
  t.out = nullptr;
  std::fprintf(t.allocs, "end\tcomplete\n");
  std::fclose(t.allocs);
  t.allocs = nullptr;
  std::rename((t.out_dir + "/allocs.tsv.part").c_str(), (t.out_dir + "/allocs.tsv").c_str());
  std::fprintf(t.lines, "end\tcomplete\n");
  std::fclose(t.lines);
  t.lines = nullptr;
  std::rename((t.out_dir + "/lines.tsv.part").c_str(), (t.out_dir + "/lines.tsv").c_str());
  std::fprintf(t.warps, "end\tcomplete\n");
  std::fclose(t.warps);
  t.warps = nullptr;
  std::rename((t.out_dir + "/warps.tsv.part").c_str(), (t.out_dir + "/warps.tsv").c_str());
  if (t.overflowed == 0) std::rename(t.part_path.c_str(), t.final_path.c_str());
  std::fprintf(stderr, "uvmaccess: %llu launches captured, %llu (CTA, page) pairs%s\n", (unsigned long long)t.launches,
               (unsigned long long)t.pairs, t.overflowed ? " (some overflowed: access.bin not written)" : "");
}

std::atomic<bool> initialised{false};

int init() {
  if (initialised.exchange(true)) return 0;
  Tool& t = tool();
  const char* out = std::getenv("UVMTRACE_OUT");
  const char* patch = std::getenv("UVMTRACE_PATCH");
  if (!out || !patch) {
    std::fprintf(stderr, "uvmaccess: UVMTRACE_OUT and UVMTRACE_PATCH must be set (use the uvmtrace command)\n");
    _exit(2);
  }
  t.out_dir = out;
  t.patch_path = patch;
  Sanitizer_SubscriberHandle handle;
  SAN(sanitizerSubscribe(&handle, callback, nullptr));
  SAN(sanitizerEnableDomain(1, handle, SANITIZER_CB_DOMAIN_RESOURCE));
  SAN(sanitizerEnableDomain(1, handle, SANITIZER_CB_DOMAIN_LAUNCH));
  std::atexit(finish);
  return 0;
}

__attribute__((constructor)) void on_load() { init(); }

}  // namespace

extern "C" int InitializeInjection() { return init(); }
