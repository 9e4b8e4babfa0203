// The CPU side of the tracer: turns the raw records of one `uvmtrace` recording (a directory with one
// folder per pass) into a validated .uvmt trace. Kernels are matched across passes by stream (numbered
// in order of first launch), launch order and name; allocations by order and size. A mismatch, a missing
// or unfinished pass, or a corrupt raw file is an error naming the file and the offset or line.
#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

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

// Kernel times of a trace from repeated runs: `dir` is a uvmtrace recording of the same program with passes
// timing.1..timing.N and optionally resident.1..resident.M (uvmtrace --passes). The run whose summed
// kernel time is the median (the lower one for even N) replaces the trace's observed kernel times, and the
// median resident run its kernels' resident times; the pass notes say so and list every run's sum. One
// run is a whole real execution, so a kernel's start, end and neighbours stay consistent; the calls' host
// times and the NVTX ranges come from the same run (allocation times stay the recording's). Kernels must
// match by stream, order and name, and the device by name; single-process recordings only.
trace::Trace retime_recording(trace::Trace t, const std::string& dir);

// Each kernel's lines per warp access (Kernel::read_lines, write_lines) from an access capture's lines.tsv
// (cuda_tracer/RAW.md) of the same program: its launch L is the trace's kernel L, whose name must be the
// row's demangled name (else an error naming the row); kernels without a row keep 0. For traces recorded
// before the capture counted lines.
trace::Trace stamp_lines(trace::Trace t, const std::string& lines_tsv);

// The recorded calls behind a trace's ops: a call split into parts (per tensor piece) is the run of
// consecutive ops of its kind and host time; CPU accesses (seen by the counters pass) belong to no call.
struct CallParts {
  std::vector<int64_t> call_of;  // per op: its call, or -1
  std::vector<bool> first_part;  // per op: the first part of its call
  int64_t calls = 0;
};
CallParts call_parts(const trace::Trace& t);

// Gives each split call's host gap to its first part only, as the converter now does (traces converted
// before 2026-11-24 repeated the gap for every part, so the simulated host waited it several times).
// Returns the number of gaps cleared.
size_t repair_split_call_gaps(trace::Trace& t);

// Matches a trace's calls with a run's, by kind in order: kernel launches one to one, the calls between two
// launches by their longest common subsequence. Returns each trace call's run call (-1: unmatched) and the
// number of calls left unmatched on either side.
std::vector<int64_t> match_calls(const std::vector<trace::OpKind>& trace_calls,
                                 const std::vector<trace::OpKind>& run_calls, size_t* unmatched);

// Matches a trace's NVTX ranges with a run's, in order: each trace range takes the run's next range of its
// name that holds the most of the kernels the trace range holds (by kernel start, the same kernel index on
// both sides; ties to the earliest), so that a newer program's extra ranges of a repeated name (a tenant's
// range around set-up as well as around each inference) are skipped. Returns each trace range's run range;
// from the first that has none, -1.
std::vector<int64_t> match_nvtx(const std::vector<trace::NvtxRange>& trace,
                                const std::vector<std::pair<int64_t, int64_t> >& trace_kernels,
                                const std::vector<trace::NvtxRange>& run,
                                const std::vector<std::pair<int64_t, int64_t> >& run_kernels);

// The index of the run whose value is the median of `sums` (the lower median for an even count).
size_t median_run(const std::vector<int64_t>& sums);

}  // namespace uvmsim
