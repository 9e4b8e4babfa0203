// The CPU side of the tracer: turns the raw records of one `uvmtrace` recording (a directory with one
// folder per pass) into a validated .uvmt trace. Kernels are matched across passes by stream (numbered
// in order of first launch), launch order and name; allocations by order and size. A mismatch, a missing
// or unfinished pass, or a corrupt raw file is an error naming the file and the offset or line.
#pragma once

#include <stdexcept>
#include <string>

#include "traces/trace.h"

namespace uvmsim {

class ConvertError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ConvertOptions {
  std::string tenant;  // tenant name (default: the program's file name)
  std::string model;   // model name (default: the tenant name)
  uint32_t batch = 1;
};

// Whether this build can decode CUPTI activity buffers (it needs CUPTI's headers at build time).
bool convert_supported();

trace::Trace convert_recording(const std::string& dir, const ConvertOptions& options = {});

}  // namespace uvmsim
