// When do the CTAs of a faulting kernel finish? CUPTI shows no fault batches of a zero-fill (no copies),
// but each CTA can see when its access completed: completions cluster at the driver's replays, so the
// clusters ("rounds") show how many replays a kernel needed and how far apart they were. The simulator's
// batches and replays can be compared with them (results/calibration.md, the element-wise pattern).
// Each case allocates managed memory (never more than 90% of the free GPU memory), optionally writes it
// from the CPU (first touch: HtoD copies) or not (zero-fill), and launches one 1-thread CTA per
// (page, sharer): CTA c does an atomicAdd on page c / K (K sharers per page) and records %globaltimer
// before and after. One JSON line per case and repetition: kernel span and the rounds (runs of CTA
// completions with no gap over 5 us: start and end in us from the first CTA's start, and CTAs).
//   fault_rounds_probe [--bytes MIB] [--reps 3]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"

namespace {

__global__ void touch(int* data, unsigned sharers, uint64_t* t_begin, uint64_t* t_end) {
  const uint64_t c = blockIdx.x;
  const uint64_t t0 = globaltimer();
  atomicAdd(data + (c / sharers) * 1024 + (c % sharers), 1);  // 1024 ints = one 4 KiB page
  __threadfence();
  t_begin[c] = t0;
  t_end[c] = globaltimer();
}

}  // namespace

int main(int argc, char** argv) {
  size_t mib = 64;
  int reps = 3;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--bytes") && i + 1 < argc) {
      mib = size_t(std::atol(argv[++i]));
    } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: fault_rounds_probe [--bytes MIB] [--reps N]\n");
      return 2;
    }
  }
  if (mib < 1 || mib > 4096 || reps < 1) return 2;
  const size_t bytes = mib << 20, pages = bytes / 4096;
  check_fits(bytes);
  const unsigned most_sharers = 4;
  uint64_t *d_begin = nullptr, *d_end = nullptr;
  CK(cudaMalloc(&d_begin, sizeof(uint64_t) * pages * most_sharers));
  CK(cudaMalloc(&d_end, sizeof(uint64_t) * pages * most_sharers));
  for (int r = 0; r < reps; ++r)
    for (int host_init = 0; host_init < 2; ++host_init)
      for (unsigned sharers : {1u, 4u}) {
        int* data = nullptr;
        CK(cudaMallocManaged(&data, bytes));
        if (host_init) std::memset(data, 0, bytes);
        const size_t ctas = pages * sharers;
        touch<<<unsigned(ctas), 1>>>(data, sharers, d_begin, d_end);
        CK(cudaGetLastError());
        CK(cudaDeviceSynchronize());
        std::vector<uint64_t> b(ctas), e(ctas);
        CK(cudaMemcpy(b.data(), d_begin, sizeof(uint64_t) * ctas, cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(e.data(), d_end, sizeof(uint64_t) * ctas, cudaMemcpyDeviceToHost));
        CK(cudaFree(data));
        uint64_t t0 = b[0], t1 = 0;
        for (size_t i = 0; i < ctas; ++i) t0 = std::min(t0, b[i]), t1 = std::max(t1, e[i]);
        std::sort(e.begin(), e.end());
        std::string rounds;
        size_t first = 0;
        for (size_t i = 1; i <= ctas; ++i)
          if (i == ctas || e[i] - e[i - 1] > 5000) {
            char buf[96];
            std::snprintf(buf, sizeof buf, "%s[%.1f, %.1f, %zu]", rounds.empty() ? "" : ", ", (e[first] - t0) / 1e3,
                          (e[i - 1] - t0) / 1e3, i - first);
            rounds += buf;
            first = i;
          }
        std::printf(
            "{\"bytes\": %zu, \"zero_fill\": %d, \"host_init\": %d, \"sharers\": %u, \"rep\": %d, \"ctas\": %zu, "
            "\"span_ms\": %.4f, \"rounds\": [%s]}\n",
            bytes, 1 - host_init, host_init, sharers, r, ctas, (t1 - t0) / 1e6, rounds.c_str());
        std::fflush(stdout);
      }
  return 0;
}
