// When does CUPTI's kernel record start, for a kernel whose CTAs wait behind another stream's kernel?
// The simulator needs this to time concurrent kernels as the recordings do (results/validation.md, the
// four-model mix). Each case launches a "big" kernel on one stream and right after it a one-CTA "tiny"
// kernel on another, and reads both kernels' CUPTI records (CONCURRENT_KERNEL) and the host's CUPTI
// timestamp just before the tiny launch:
//   queued: the big kernel fills every SM for several waves (two 1024-thread CTAs per SM), so the tiny
//           CTA can start only when a slot frees: if its record starts near its launch, CUPTI times a
//           kernel from its launch; if near the big kernel's last wave, from its first CTA.
//   room:   the big kernel is one 64-thread CTA per SM, leaving room: the tiny CTA can start at once.
// No managed memory. One JSON line per case and repetition on stdout (times in us, relative to the big
// kernel's start):   kernel_start_probe [--reps 5]
#include <cupti.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"

namespace {

__global__ void spin(uint64_t ns, int* sink) {
  const uint64_t t0 = globaltimer();
  while (globaltimer() - t0 < ns) {
  }
  if (threadIdx.x == 0 && sink) atomicAdd(sink, 1);
}

struct KernelRecord {
  uint32_t correlation = 0;
  uint64_t start = 0, end = 0;
};
std::vector<KernelRecord> g_records;

void CUPTIAPI buffer_requested(uint8_t** buffer, size_t* size, size_t* max_records) {
  *size = 1 << 20;
  *buffer = static_cast<uint8_t*>(aligned_alloc(8, *size));
  *max_records = 0;
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t* buffer, size_t, size_t valid) {
  CUpti_Activity* rec = nullptr;
  while (cuptiActivityGetNextRecord(buffer, valid, &rec) == CUPTI_SUCCESS)
    if (rec->kind == CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL) {
      auto* k = reinterpret_cast<CUpti_ActivityKernel10*>(rec);
      g_records.push_back({k->correlationId, k->start, k->end});
    }
  free(buffer);
}

void cupti_check(CUptiResult r, const char* what) {
  if (r == CUPTI_SUCCESS) return;
  const char* s = nullptr;
  cuptiGetResultString(r, &s);
  std::fprintf(stderr, "kernel_start_probe: %s: %s\n", what, s ? s : "?");
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = parse_reps(argc, argv, "kernel_start_probe", 5);
  cupti_check(cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed), "register callbacks");
  cupti_check(cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL), "enable CONCURRENT_KERNEL");
  int sms = 0;
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  cudaStream_t a, b;
  CK(cudaStreamCreateWithFlags(&a, cudaStreamNonBlocking));
  CK(cudaStreamCreateWithFlags(&b, cudaStreamNonBlocking));
  int* sink = nullptr;
  CK(cudaMalloc(&sink, sizeof(int)));
  spin<<<1, 32, 0, a>>>(1000, sink);  // warm-up: module load, CUPTI set-up
  CK(cudaDeviceSynchronize());

  struct Case {
    const char* name;
    int ctas, threads;
    uint64_t cta_ns;
  };
  const Case cases[] = {{"queued", 2 * sms * 4, 1024, 200000}, {"room", sms, 64, 800000}};
  struct Launch {
    const char* name;
    int rep;
    uint64_t tiny_launch_host;
  };
  std::vector<Launch> launches;
  for (int r = 0; r < reps; ++r)
    for (const Case& c : cases) {
      Launch l{c.name, r, 0};
      spin<<<c.ctas, c.threads, 0, a>>>(c.cta_ns, sink);
      cupti_check(cuptiGetTimestamp(&l.tiny_launch_host), "cuptiGetTimestamp");
      spin<<<1, 32, 0, b>>>(5000, sink);
      CK(cudaGetLastError());
      CK(cudaDeviceSynchronize());
      launches.push_back(l);
    }
  cupti_check(cuptiActivityFlushAll(1), "flush");
  // Correlation ids follow the launch order: the warm-up, then each case's big and tiny kernels.
  std::sort(g_records.begin(), g_records.end(),
            [](const KernelRecord& x, const KernelRecord& y) { return x.correlation < y.correlation; });
  if (g_records.size() != 1 + 2 * launches.size()) {
    std::fprintf(stderr, "kernel_start_probe: %zu CUPTI kernel records for %zu launches\n", g_records.size(),
                 1 + 2 * launches.size());
    return 1;
  }
  for (size_t i = 0; i < launches.size(); ++i) {
    const Launch& l = launches[i];
    const KernelRecord* big = &g_records[1 + 2 * i];
    const KernelRecord* tiny = &g_records[2 + 2 * i];
    auto us = [&](uint64_t t) { return (double(t) - double(big->start)) / 1e3; };
    std::printf(
        "{\"case\": \"%s\", \"rep\": %d, \"sms\": %d, \"big_end_us\": %.1f, \"tiny_launch_host_us\": %.1f, "
        "\"tiny_start_us\": %.1f, \"tiny_end_us\": %.1f}\n",
        l.name, l.rep, sms, us(big->end), us(l.tiny_launch_host), us(tiny->start), us(tiny->end));
  }
  return 0;
}
