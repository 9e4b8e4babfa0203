// What does a uTLB fault on between two replays when its SM's demand is known? Every thread of the kernel
// reads one byte of a page of its own, each page in a 2 MiB VA block of its own (so the prefetcher has
// nothing to add and every fault is a distinct page and granule). The kernel runs on a green-context
// partition of --sms SMs with --ctas-per-sm CTAs of --warps warps per SM: each SM's demand is
// ctas-per-sm x warps x 32 pages, all at once. --threads T instead gives each CTA T threads (1 to 1024; under
// 14 per SM, every access holds a miss slot and none waits for one), and --ctas N runs N CTAs in all (on as
// many SMs as the block scheduler gives them: fewer uTLBs and GPCs faulting on the same partition). Run it
// under uvmtrace's events pass and count, per MMU client and round (replay to replay), the entries the
// driver serviced (cuda_tracer/utlb_burst.sh).
// The pages are written by the CPU first (first touch: each fault migrates one page). One JSON line.
//   utlb_burst_probe --sms 8 --warps 1 --ctas-per-sm 1 [--threads T] [--ctas N]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../src/green_context.h"
#include "common.h"

namespace {

constexpr uint64_t kBlock = 2ull << 20;

__global__ void touch(const char* data, int* sink) {
  const uint64_t g = uint64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (data[g * kBlock] == 42) atomicAdd(sink, 1);
}

}  // namespace

int main(int argc, char** argv) {
  unsigned sms_asked = 8, warps = 1, per_sm = 1, threads_asked = 0, ctas_asked = 0;
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
    else {
      std::fprintf(stderr, "unknown argument %s\n", argv[i]);
      return 2;
    }
  }
  if (sms_asked == 0 || warps == 0 || warps > 32 || per_sm == 0 || per_sm > 32 || threads_asked > 1024 ||
      ctas_asked > 4096) {
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
  const uint64_t pages = uint64_t(ctas) * threads, bytes = pages * kBlock;
  check_fits(bytes);
  char* data = nullptr;
  int* sink = nullptr;
  CK(cudaMalloc(&sink, sizeof(int)));
  CK(cudaMallocManaged(&data, bytes));
  for (uint64_t p = 0; p < pages; ++p) data[p * kBlock] = 1;
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  const float ms = time_ms(
      e0, e1, [&] { touch<<<ctas, threads, 0, part.stream(0)>>>(data, sink); }, part.stream(0));
  std::printf(
      "{\"program\": \"utlb_burst_probe\", \"sms\": %u, \"threads\": %u, \"ctas\": %u, \"pages\": %llu, "
      "\"touch_ms\": %.4f}\n",
      sms, threads, ctas, (unsigned long long)pages, ms);
  CK(cudaFree(data));
  CK(cudaFree(sink));
  return 0;
}
