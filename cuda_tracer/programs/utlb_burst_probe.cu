// What does a uTLB fault on between two replays when its SM's demand is known? Every thread of the kernel
// reads one byte of a page of its own, each page in a 2 MiB VA block of its own (so the prefetcher has
// nothing to add and every fault is a distinct page and granule). The kernel runs on a green-context
// partition of --sms SMs with --ctas-per-sm CTAs of --warps warps per SM: each SM's demand is
// ctas-per-sm x warps x 32 pages, all at once. --threads T instead gives each CTA T threads (1 to 1024; under
// 14 per SM, every access holds a miss slot and none waits for one), and --ctas N runs N CTAs in all (on as
// many SMs as the block scheduler gives them: fewer uTLBs and GPCs faulting on the same partition). Run it
// under uvmtrace's events pass and count, per MMU client and round (replay to replay), the entries the
// driver serviced (cuda_tracer/utlb_burst.sh).
// --lanes L: only each warp's first L lanes read (a page each); --stagger NS: warp w of a CTA reads w x NS
// after the CTA's start (its thread 0's %globaltimer), so an SM's misses come one warp at a time that far
// apart: does a uTLB take a miss that comes after its first fault of the round, before the replay?
// The pages are written by the CPU first (first touch: each fault migrates one page). One JSON line.
//   utlb_burst_probe --sms 8 --warps 1 --ctas-per-sm 1 [--threads T] [--ctas N] [--lanes L] [--stagger NS]
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../src/green_context.h"
#include "common.h"

namespace {

constexpr uint64_t kBlock = 2ull << 20;

__global__ void touch(const char* data, int* sink, unsigned lanes, uint64_t stagger_ns) {
  const unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = (blockDim.x + 31) / 32;
  if (stagger_ns > 0) {  // every thread of the CTA takes part: the barrier needs them all
    __shared__ uint64_t start;
    if (threadIdx.x == 0) start = globaltimer();
    __syncthreads();
    while (globaltimer() < start + warp * stagger_ns) {
    }
  }
  if (lane >= lanes) return;
  // this lane's page among the kernel's read pages: `lanes` per warp, `warps` per CTA
  const uint64_t g = (uint64_t(blockIdx.x) * warps + warp) * lanes + lane;
  if (data[g * kBlock] == 42) atomicAdd(sink, 1);
}

}  // namespace

int main(int argc, char** argv) {
  unsigned sms_asked = 8, warps = 1, per_sm = 1, threads_asked = 0, ctas_asked = 0, lanes = 32;
  uint64_t stagger_ns = 0;
  for (int i = 1; i < argc; ++i) {
    auto next = [&]() -> unsigned {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", argv[i]);
        std::exit(2);
      }
      return unsigned(std::atoi(argv[++i]));
    };
    if (!std::strcmp(argv[i], "--sms"))
      sms_asked = next();
    else if (!std::strcmp(argv[i], "--warps"))
      warps = next();
    else if (!std::strcmp(argv[i], "--ctas-per-sm"))
      per_sm = next();
    else if (!std::strcmp(argv[i], "--threads"))
      threads_asked = next();
    else if (!std::strcmp(argv[i], "--ctas"))
      ctas_asked = next();
    else if (!std::strcmp(argv[i], "--lanes"))
      lanes = next();
    else if (!std::strcmp(argv[i], "--stagger"))
      stagger_ns = next();
    else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (sms_asked == 0 || warps == 0 || warps > 32 || per_sm == 0 || per_sm > 32 || threads_asked > 1024 ||
      ctas_asked > 4096 || lanes == 0 || lanes > 32 || stagger_ns > 1000000) {
    std::fprintf(stderr, "bad arguments\n");
    return 2;
  }
  int dev = 0;
  CK(cudaGetDevice(&dev));
  CK(cudaFree(nullptr));  // the primary context, which the partition needs
  uvmtrace::SmPartition part = uvmtrace::SmPartition::make(dev, sms_asked);
  const unsigned sms = part.sms();
  const unsigned ctas = ctas_asked ? ctas_asked : sms * per_sm;
  const unsigned threads = threads_asked ? threads_asked : warps * 32;
  const unsigned warps_per_cta = (threads + 31) / 32;
  lanes = std::min(lanes, std::min(threads, 32u));  // a CTA of fewer than 32 threads reads with them all
  const uint64_t pages = uint64_t(ctas) * warps_per_cta * lanes, bytes = pages * kBlock;
  check_fits(bytes);
  char* data = nullptr;
  int* sink = nullptr;
  CK(cudaMalloc(&sink, sizeof(int)));
  CK(cudaMallocManaged(&data, bytes));
  for (uint64_t p = 0; p < pages; ++p) data[p * kBlock] = 1;
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  const auto launch = [&] { touch<<<ctas, threads, 0, part.stream(0)>>>(data, sink, lanes, stagger_ns); };
  const float ms = time_ms(e0, e1, launch, part.stream(0));
  std::printf(
      "{\"program\": \"utlb_burst_probe\", \"sms\": %u, \"threads\": %u, \"ctas\": %u, \"lanes\": %u, "
      "\"stagger_ns\": %llu, \"pages\": %llu, \"touch_ms\": %.4f}\n",
      sms, threads, ctas, lanes, (unsigned long long)stagger_ns, (unsigned long long)pages, ms);
  CK(cudaFree(data));
  CK(cudaFree(sink));
  return 0;
}
