// Raw records written on the GPU machine by the tracer's libraries, read by the converter
// (cuda_tracer/convert.cpp) on any machine. Little-endian, fixed-size headers, no dependencies, so the
// GPU side builds with the CUDA toolkit alone. Documented in cuda_tracer/RAW.md.
#pragma once

#include <cstdint>

namespace uvmtrace {

constexpr uint32_t kRawVersion = 1;

// cupti.bin: an 8-byte file magic, then one frame per completed CUPTI activity buffer.
constexpr char kCuptiFileMagic[8] = {'U', 'V', 'M', 'T', 'C', 'U', 'P', '1'};
constexpr uint32_t kFrameMagic = 0x31465542;  // "BUF1"

// A frame: header, `records` RecordIndex entries, `strings` StringRef entries each followed by its
// bytes, then the activity buffer's `bytes` bytes exactly as CUPTI filled them. Records are located by
// the index (found with cuptiActivityGetNextRecord on the recording machine); pointer fields inside the
// records (kernel and marker names) are meaningless offline and are resolved through the StringRefs.
struct FrameHeader {
  uint32_t magic = kFrameMagic;
  uint32_t records = 0;
  uint64_t bytes = 0;
  uint64_t dropped = 0;  // cuptiActivityGetNumDroppedRecords for the buffer's context and stream
  uint32_t strings = 0;
  uint32_t stream_id = 0;
};
static_assert(sizeof(FrameHeader) == 32);

struct RecordIndex {
  uint32_t offset = 0;  // byte offset of the record in the buffer
  uint32_t kind = 0;    // CUpti_ActivityKind
};

enum StringField : uint32_t { kKernelName = 0, kMarkerName = 1, kMarkerDomain = 2 };

struct StringRef {
  uint32_t record_offset = 0;
  uint32_t field = 0;  // StringField
  uint32_t length = 0; // bytes that follow, no terminator
};

// access.bin: an 8-byte file magic, then one launch per instrumented kernel: LaunchHeader, the
// kernel's mangled name (name_bytes), then `entries` AccessEntry records, one per (CTA, page) pair the
// kernel touched, deduplicated on the device.
constexpr char kAccessFileMagic[8] = {'U', 'V', 'M', 'T', 'A', 'C', 'C', '1'};
constexpr uint32_t kLaunchMagic = 0x31434e4c;  // "LNC1"
constexpr uint32_t kLaunchOverflow = 1;        // the device table overflowed: the launch is incomplete

struct LaunchHeader {
  uint32_t magic = kLaunchMagic;
  uint32_t name_bytes = 0;
  uint64_t launch = 0;          // launch index in the process
  uint32_t stream_ordinal = 0;  // streams numbered in order of first launch
  uint32_t flags = 0;
  uint32_t grid[3] = {1, 1, 1};
  uint32_t block[3] = {1, 1, 1};
  uint64_t entries = 0;
  uint64_t host_ns = 0;         // CLOCK_REALTIME at launch
};
static_assert(sizeof(LaunchHeader) == 64);

// Access kinds as the Compute Sanitizer reports them (Sanitizer_DeviceMemoryFlags), or-ed per page.
enum AccessFlag : uint32_t { kRead = 1, kWrite = 2, kAtomic = 4 };

struct AccessEntry {
  uint64_t page = 0;   // virtual address >> 12
  uint32_t cta = 0;    // linear CTA index (x fastest)
  uint32_t flags = 0;  // AccessFlag bits
  uint32_t first = 0;  // first and last use: the touching thread's count of global accesses so far
  uint32_t last = 0;
};
static_assert(sizeof(AccessEntry) == 24);

}  // namespace uvmtrace
