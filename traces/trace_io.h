// Reading and writing .uvmt files. The reader checks every count, bound and ordering and throws
// TraceError naming the file, the byte offset and the problem; it never trusts a count to size memory.
#pragma once

#include <cstdint>
#include <functional>
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

// Bounds on what the reader decompresses, so that a small file cannot make it allocate without limit. A
// body may be at most max(kMinBodyCapBytes, max_ratio x the compressed file's size) and at most
// max_body_bytes; the error names the option that raises each (`uvmsim --max-trace-ratio`,
// `--max-trace-bytes`). Corpus traces reach a ratio of about 260.
struct ReadLimits {
  uint64_t max_ratio = 1024;
  uint64_t max_body_bytes = uint64_t{16} << 30;
};
constexpr uint64_t kMinBodyCapBytes = uint64_t{64} << 20;
// The limits read_trace uses when none are given: main sets them once from its options.
ReadLimits& default_read_limits();

// Validates the trace as the reader would (TraceError naming `path` otherwise), then writes atomically:
// a temporary file renamed into place, so a partial file never looks complete.
void write_trace(const Trace& t, const std::string& path, int zstd_level = 9);
// Reads, decompresses and validates; the returned hash identifies the trace's content.
Trace read_trace(const std::string& path, std::string* content_hash = nullptr);
Trace read_trace(const std::string& path, const ReadLimits& limits, std::string* content_hash = nullptr);
// The same from bytes in memory (the fuzzers' entry point).
Trace read_trace_bytes(const uint8_t* data, size_t size, const std::string& name,
                       std::string* content_hash = nullptr, const ReadLimits& limits = default_read_limits());

// Human-readable listings and exports.
void print_info(const Trace& t, const std::string& hash, std::ostream& os);
void print_dump(const Trace& t, std::ostream& os, uint64_t max_ranges_per_cta);
// One CSV file per section, each written to the stream `open(name)` returns.
void export_csv(const Trace& t, const std::function<std::ostream&(const char* name)>& open);

// FNV-1a 64 (offset basis 14695981039346656037, prime 1099511628211): the body hash of format version 3.
uint64_t fnv1a64(const uint8_t* data, size_t size);
// The body hash that files of format `version` carry: versions 1 and 2 were written with the seed
// 1469598103934665603 (a digit short of FNV-1a's basis), and still read.
uint64_t body_hash(uint32_t version, const uint8_t* data, size_t size);

}  // namespace uvmsim::trace
