// The UVM driver's event queue, read in-process (uvm_events.h).
#include "uvm_events.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace uvmtrace {

namespace {

// The driver's ioctls (uvm_ioctl.h: on Linux the command is the bare number) and their parameters.
constexpr unsigned long kSetNotificationThreshold = 57;
constexpr unsigned long kEnableEvents = 58;
constexpr unsigned long kFlushEvents = 67;
constexpr unsigned long kInitEventTrackerV2 = 76;
constexpr uint32_t kNvOk = 0;

struct InitParams {
  uint64_t queue_buffer;
  uint64_t queue_entries;  // a power of two, at least 2
  uint64_t control_buffer;
  uint8_t processor[16];
  uint32_t all_processors;
  uint32_t uvm_fd;
  uint32_t status;
};
static_assert(sizeof(InitParams) == 56);
struct ThresholdParams {
  uint32_t threshold;
  uint32_t status;
};
struct EnableParams {
  uint64_t flags;
  uint32_t status;
};
static_assert(sizeof(EnableParams) == 16);
struct FlushParams {
  uint32_t status;
};

// The control block the driver and the reader share (UvmToolsEventControlData).
struct Control {
  uint32_t get_ahead, get_behind, put_ahead, put_behind;
  uint64_t dropped[kUvmEventTypesAll];
};

uint64_t clock_ns(clockid_t id) {
  timespec t{};
  clock_gettime(id, &t);
  return uint64_t(t.tv_sec) * 1000000000ull + uint64_t(t.tv_nsec);
}

}  // namespace

bool UvmEventReader::start(const char* path, uint64_t anchor_cupti_ns, uint32_t ring_entries,
                           uint64_t flush_every_ns) {
  std::snprintf(path_, sizeof path_, "%s", path);
  flush_every_ns_ = flush_every_ns;
  char part[4160];
  std::snprintf(part, sizeof part, "%s.part", path_);
  FILE* f = std::fopen(part, "wb");
  if (!f) {
    std::snprintf(error_, sizeof error_, "cannot write uvm_events.bin.part");
    return false;
  }
  file_ = f;
  UvmEventsFileHeader h;
  std::memcpy(h.magic, kUvmEventsFileMagic, 8);
  h.anchor_raw_ns = clock_ns(CLOCK_MONOTONIC_RAW);
  h.anchor_cupti_ns = anchor_cupti_ns;
  h.anchor_real_ns = clock_ns(CLOCK_REALTIME);

  auto fail = [&](const char* why) {
    std::snprintf(error_, sizeof error_, "%s", why);
    h.flags = 1;
    std::snprintf(h.note, sizeof h.note, "%s", why);
    std::fwrite(&h, sizeof h, 1, f);
    return false;
  };
  const long page = sysconf(_SC_PAGESIZE);
  if (ring_entries < 2 || (ring_entries & (ring_entries - 1)) != 0) return fail("ring entries not a power of two");
  if (posix_memalign(&ring_, size_t(page), size_t(ring_entries) * kUvmEntryBytes) != 0 ||
      posix_memalign(&control_, size_t(page), size_t(page)) != 0)
    return fail("no memory for the ring");
  std::memset(ring_, 0, size_t(ring_entries) * kUvmEntryBytes);
  std::memset(control_, 0, size_t(page));
  mask_ = ring_entries - 1;

  // Of the process's /dev/nvidia-uvm descriptors, the VA space's is the one the driver accepts.
  DIR* d = opendir("/proc/self/fd");
  if (!d) return fail("cannot list /proc/self/fd");
  bool found = false, tools_opened = false;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] == '.') continue;
    char link[300], target[256];
    std::snprintf(link, sizeof link, "/proc/self/fd/%s", e->d_name);
    const ssize_t n = readlink(link, target, sizeof target - 1);
    if (n <= 0) continue;
    target[n] = 0;
    if (std::strcmp(target, "/dev/nvidia-uvm") != 0) continue;
    const int tools = open("/dev/nvidia-uvm-tools", O_RDWR | O_CLOEXEC);
    if (tools < 0) continue;
    tools_opened = true;
    InitParams p{};
    p.queue_buffer = uint64_t(uintptr_t(ring_));
    p.queue_entries = ring_entries;
    p.control_buffer = uint64_t(uintptr_t(control_));
    p.uvm_fd = uint32_t(std::atoi(e->d_name));
    if (ioctl(tools, kInitEventTrackerV2, &p) == 0 && p.status == kNvOk) {
      tools_fd_ = tools;
      // Our own descriptor of the VA space: UVM_TOOLS_FLUSH_EVENTS goes to it (not to the tools device),
      // also after the program's runtime has closed its own at exit.
      va_fd_ = fcntl(int(p.uvm_fd), F_DUPFD_CLOEXEC, 0);
      found = true;
      break;
    }
    close(tools);
  }
  closedir(d);
  if (!found)
    return fail(tools_opened ? "no /dev/nvidia-uvm descriptor accepted as a VA space"
                             : "cannot open /dev/nvidia-uvm-tools or no /dev/nvidia-uvm descriptor");
  ThresholdParams t{1, 0};
  if (ioctl(tools_fd_, kSetNotificationThreshold, &t) != 0 || t.status != kNvOk)
    return fail("UVM_TOOLS_SET_NOTIFICATION_THRESHOLD failed");
  EnableParams en{};
  for (uint32_t k = 1; k < kUvmEventKinds; ++k) en.flags |= uint64_t(1) << k;
  if (ioctl(tools_fd_, kEnableEvents, &en) != 0 || en.status != kNvOk)
    return fail("UVM_TOOLS_EVENT_QUEUE_ENABLE_EVENTS failed");
  std::fwrite(&h, sizeof h, 1, f);
  pthread_t th;
  if (pthread_create(&th, nullptr, &UvmEventReader::run, this) != 0) return fail("no reader thread");
  thread_ = th;
  running_ = true;
  return true;
}

void* UvmEventReader::run(void* self) {
  auto* r = static_cast<UvmEventReader*>(self);
  uint64_t last_flush = clock_ns(CLOCK_MONOTONIC);
  while (!__atomic_load_n(&r->stop_, __ATOMIC_ACQUIRE)) {
    r->drain();
    if (r->flush_every_ns_ > 0 && clock_ns(CLOCK_MONOTONIC) - last_flush >= r->flush_every_ns_) {
      r->flush();
      last_flush = clock_ns(CLOCK_MONOTONIC);
    }
    usleep(200);
  }
  return nullptr;
}

// Has the driver update the progress of every channel with delayed events pending, so that the copies and
// replays that completed are queued.
void UvmEventReader::flush() {
  FlushParams fl{};
  if (va_fd_ >= 0 && ioctl(va_fd_, kFlushEvents, &fl) == 0 && fl.status == kNvOk)
    __atomic_add_fetch(&flushes_, 1, __ATOMIC_RELAXED);
  else
    __atomic_add_fetch(&flush_failures_, 1, __ATOMIC_RELAXED);
}

// Copies what the driver has put since our last get into the file, then hands the slots back.
void UvmEventReader::drain() {
  auto* c = static_cast<Control*>(control_);
  uint32_t get = __atomic_load_n(&c->get_ahead, __ATOMIC_ACQUIRE) & mask_;
  const uint32_t put = __atomic_load_n(&c->put_behind, __ATOMIC_ACQUIRE) & mask_;
  if (get == put) return;
  FILE* f = static_cast<FILE*>(file_);
  const char* ring = static_cast<const char*>(ring_);
  while (get != put) {
    const uint32_t end = put > get ? put : mask_ + 1;  // a contiguous run of the ring
    std::fwrite(ring + size_t(get) * kUvmEntryBytes, kUvmEntryBytes, end - get, f);
    entries_ += end - get;
    get = end & mask_;
  }
  __atomic_store_n(&c->get_behind, get, __ATOMIC_RELEASE);
  __atomic_store_n(&c->get_ahead, get, __ATOMIC_RELEASE);
}

void UvmEventReader::finish() {
  FILE* f = static_cast<FILE*>(file_);
  if (!f) return;
  if (running_) {
    // The driver queues a migration or replay only once its channel's progress has been updated since the
    // copy completed: flush them all, then let the reader empty the ring.
    flush();
    usleep(2000);
    __atomic_store_n(&stop_, true, __ATOMIC_RELEASE);
    pthread_join(pthread_t(thread_), nullptr);
    drain();
    UvmEventsTrailer tr;
    tr.entries = entries_;
    std::memcpy(tr.dropped, static_cast<Control*>(control_)->dropped, sizeof tr.dropped);
    tr.flushes = flushes_;
    tr.flush_failures = flush_failures_;
    tr.flush_every_ns = flush_every_ns_;
    std::fwrite(&tr, sizeof tr, 1, f);
    running_ = false;
  }
  std::fclose(f);
  file_ = nullptr;
  char part[4160];
  std::snprintf(part, sizeof part, "%s.part", path_);
  std::rename(part, path_);
}

}  // namespace uvmtrace
