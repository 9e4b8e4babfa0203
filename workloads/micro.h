// Micro-workloads of reference/measurements.md: one managed allocation, one thread per 4 KiB page,
// pages touched in address order, in a random permutation or strided across the CTAs, with optional CPU
// initialisation, explicit prefetch, GPU writes instead of reads, and a CPU touch-back.
#pragma once

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "traces/trace.h"

namespace uvmsim {

// The order in which the threads of the CTAs touch the pages: in address order (thread i of the grid the
// i-th page); in a random permutation (mt19937_64 Fisher-Yates with the seed); or strided: CTA c's thread t
// touches page t * CTAs + c (needs whole CTAs), every CTA one page in each stretch of CTAs pages, as a
// convolution's CTAs write their tile of every output channel plane.
enum class MicroPattern : uint8_t { kSeq, kRandom, kStrided };

struct MicroSpec {
  MicroPattern pattern = MicroPattern::kSeq;
  uint64_t bytes = uint64_t{64} << 20;
  uint32_t threads_per_cta = 256;
  // Each CTA's pages are touched by this many neighbouring CTAs (CTA c touches the pages of c / sharers):
  // the duplicate faults of CTAs that share weights or tiles, which no other micro-workload has.
  uint32_t sharers = 1;
  // The threads touch every page_stride-th page of the allocation (the pattern's i-th page times the
  // stride): with 512, one 4 KiB page in each 2 MiB VA block, which the tree prefetcher leaves alone
  // (cuda_tracer/programs/utlb_burst_probe). --host-init then writes only those pages.
  uint32_t page_stride = 1;
  // > 0 (pattern seq, stride 1): the threads touch run_pages consecutive pages of every 2 x run_pages, half
  // of the allocation; --host-init still writes all of it (cuda_tracer/programs/uvm_micro.cu --run-pages:
  // the same faults and VA blocks in runs of another length, so copies and mappings of another count).
  uint32_t run_pages = 0;
  bool host_init = false;   // the CPU writes every page first (so the GPU's first touch migrates HtoD)
  bool write = false;       // the kernels write instead of read
  bool prefetch = false;    // cudaMemPrefetchAsync to the GPU before the kernels
  bool touch_back = false;  // the CPU reads every page after the kernels
  uint64_t seed = 1;
  uint64_t resident_ns = 0;  // each kernel's resident duration; 0: micro_resident_ns(pages)
};

// Ops, in order: [host write] [prefetch, sync] kernel "touch", sync, kernel "touch_again", sync,
// [host read]. Each kernel's resident duration is s.resident_ns (a measured "touch again"), or
// micro_resident_ns() when that is 0.
// Throws std::invalid_argument for nonsense, and for more than kMaxMicroBytes (the limit named).
constexpr uint64_t kMaxMicroBytes = uint64_t{256} << 30;
trace::Trace generate_micro(const MicroSpec& s);

// The header of generated traces: our H100 (132 SMs, 80 GB) and the driver's default parameters.
trace::Header generated_header();

// Resident duration of the micro kernel over `pages` pages: the H100's launch-and-sync floor plus a
// per-page term, measured on our H100 by the same kernel with its data resident (reference/measurements.md:
// 0.041 ms at 64 MiB to 0.053 ms at 1 GiB). It stands in for the resident pass a recording would have.
uint64_t micro_resident_ns(uint64_t pages);

// "seq", "random" or "strided".
const char* micro_pattern_name(const MicroSpec& s);
// Sets s.pattern from a pattern's name; throws std::invalid_argument naming any other text.
void set_micro_pattern(MicroSpec& s, const std::string& name);

// The settings above by the names a sweep's "generate" and a calibration row (`uvmsim calibrate`) give
// them: pattern, bytes (a size or a number), threads_per_cta, sharers, page_stride, run_pages, host_init,
// write, prefetch, touch_back, seed, resident_ns.
extern const char* const kMicroSettingNames;
// Sets s's setting `key` from its JSON value: false if `key` names none; throws std::invalid_argument
// saying what the value should be.
bool set_micro_setting(MicroSpec& s, const std::string& key, const nlohmann::json& v);
// Every setting of s in one string: equal for equal specs (a cache key).
std::string micro_key(const MicroSpec& s);

// "64MiB", "1GiB", "4096", "2KiB" -> bytes; throws std::invalid_argument naming the text.
uint64_t parse_bytes(const std::string& text);

}  // namespace uvmsim
