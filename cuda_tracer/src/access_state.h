// State shared by the access-capture tool (host) and its device patches: one per instrumented launch.
#pragma once

#include <cstdint>

#include "raw_format.h"

namespace uvmtrace {

struct DeviceState {
  unsigned long long* keys = nullptr;     // table_mask + 1 slots; 0 = empty, else ((page + 1) << 27) | cta
  unsigned int* slot_entry = nullptr;     // per slot: entry index + 1 once published
  AccessEntry* entries = nullptr;         // append-only, `capacity` entries
  unsigned int* warps = nullptr;          // per entry: the warps of its CTA that read it, then that wrote it
  // per entry, reads then writes: (the earliest use's ordinal << 32) | the warps that touched it at that use
  unsigned long long* first_warps = nullptr;
  // the same for the page's 128-byte lines: (the earliest use's ordinal << 32) | the lines touched at it
  unsigned long long* first_lines = nullptr;
  unsigned int* thread_counts = nullptr;  // per thread of the launch: global accesses so far
  unsigned long long table_mask = 0;
  unsigned long long capacity = 0;
  unsigned long long thread_capacity = 0;
  unsigned long long count = 0;  // entries appended (may exceed capacity: then overflow is set)
  unsigned int overflow = 0;     // bit 0: table or entries full, or page/CTA out of range; bit 1: threads
  unsigned int pad = 0;
  // Per access kind (0 read, 1 write, 2 atomic) and n in 1..32: the (warp access, page) pairs whose lanes
  // touched n distinct 128-byte lines of the page, the requests a uTLB sees for it (lines.tsv).
  unsigned long long lines[3][33] = {};
};

}  // namespace uvmtrace
