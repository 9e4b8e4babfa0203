// Reading and writing .uvmt files. The reader checks every count, bound and ordering and throws
// TraceError naming the file, the byte offset and the problem; it never trusts a count to size memory.
#pragma once

#include <cstdint>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "traces/trace.h"

namespace uvmsim::trace {

class TraceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Serialises the trace body (uncompressed, little-endian) exactly as written to disk.
std::vector<uint8_t> encode_body(const Trace& t);
// Parses and validates a body; `name` and the offsets in errors refer to the decompressed body.
Trace decode_body(const uint8_t* data, size_t size, const std::string& name);

// Validates the trace as the reader would (TraceError naming `path` otherwise), then writes atomically:
// a temporary file renamed into place, so a partial file never looks complete.
void write_trace(const Trace& t, const std::string& path, int zstd_level = 9);
// Reads, decompresses and validates; the returned hash identifies the trace's content.
Trace read_trace(const std::string& path, std::string* content_hash = nullptr);
// The same from bytes in memory (the fuzzer's entry point).
Trace read_trace_bytes(const uint8_t* data, size_t size, const std::string& name,
                       std::string* content_hash = nullptr);

// Human-readable listings and exports.
void print_info(const Trace& t, const std::string& hash, std::ostream& os);
void print_dump(const Trace& t, std::ostream& os, uint64_t max_ranges_per_cta);
// One CSV file per section in `dir` (created if missing).
void export_csv(const Trace& t, const std::string& dir);

uint64_t fnv1a64(const uint8_t* data, size_t size);

}  // namespace uvmsim::trace
