// libFuzzer target for the trace reader: any input must either parse or throw TraceError; never crash,
// hang or allocate without bound. Both entry points are fuzzed: the whole file (header, zstd, body) and
// the decompressed body parser directly (first input byte selects which).
#include <cstddef>
#include <cstdint>

#include "traces/trace_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  try {
    if (data[0] & 1)
      uvmsim::trace::read_trace_bytes(data + 1, size - 1, "fuzz");
    else
      uvmsim::trace::decode_body(data + 1, size - 1, "fuzz");
  } catch (const uvmsim::trace::TraceError&) {
  }
  return 0;
}
