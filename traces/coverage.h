// How much of what the driver had to migrate a trace's counter pass recorded, page by page.
//
// The moves a stream must hold follow from the trace alone, by the converter's rule for the expected
// bytes: a page the trace has on the CPU (a host access, or a prefetch to the CPU of a GPU-resident page)
// that a kernel, a prefetch to the GPU or a memset then uses moves HtoD once; a GPU-resident page that a
// host access or a prefetch to the CPU then takes moves DtoH once. A stream's coverage is the share of
// those moves that its records hold. Recorded bytes against expected bytes can look complete when records
// were lost: the prefetcher also moves pages that nothing touched, and their records pad the sum.
#pragma once

#include <cstdint>

#include "traces/trace.h"

namespace uvmsim::trace {

struct StreamCoverage {
  uint64_t expected_pages = 0;  // moves the trace implies (a page moved twice counts twice)
  uint64_t recorded_pages = 0;  // pages in the stream's records
  uint64_t covered_pages = 0;   // expected moves that a record holds
  // covered / expected; negative when nothing was expected.
  double share() const { return expected_pages ? double(covered_pages) / double(expected_pages) : -1.0; }
};

struct CounterCoverage {
  StreamCoverage htod, dtoh;
  // The stream's coverage; `stream` is ObservedKind::kHtoD or kDtoH (std::invalid_argument otherwise).
  const StreamCoverage& of(ObservedKind stream) const;
};

CounterCoverage counter_coverage(const Trace& t);

}  // namespace uvmsim::trace
