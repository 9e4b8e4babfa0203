// Which SM does each CTA of a kernel start on? The simulator places CTAs on SMs, and SMs share a uTLB in
// pairs (a TPC): which CTAs share a uTLB decides whether neighbouring CTAs' faults on one page are
// coalesced (same uTLB) or duplicates (results/calibration.md, the element-wise pattern). Each case
// launches a grid whose CTAs each record their %smid and %globaltimer at start; one JSON line per case and
// repetition on stdout with the SM of every CTA in CTA order, and the start of each CTA relative to the
// first (ns). No managed memory.   smid_probe [--reps 3]
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"

namespace {

__global__ void where(uint32_t* sm, uint64_t* start, uint64_t spin_ns) {
  const uint64_t t0 = globaltimer();
  if (threadIdx.x == 0) {
    sm[blockIdx.x] = smid();
    start[blockIdx.x] = t0;
  }
  spin_from(t0, spin_ns);
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = parse_reps(argc, argv, "smid_probe", 3);
  int sms = 0;
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  struct Case {
    const char* name;
    int ctas, threads;
  };
  // One CTA per SM; two waves of 8 256-thread CTAs per SM (an element-wise kernel's shape); 1-thread CTAs.
  const Case cases[] = {
      {"one_per_sm", sms, 32}, {"eltwise_two_waves", 2 * 8 * sms, 256}, {"one_thread", 4 * sms, 1}};
  const int most = 2 * 8 * sms * 2;
  uint32_t* d_sm = nullptr;
  uint64_t* d_start = nullptr;
  CK(cudaMalloc(&d_sm, sizeof(uint32_t) * most));
  CK(cudaMalloc(&d_start, sizeof(uint64_t) * most));
  where<<<1, 32>>>(d_sm, d_start, 1000);
  CK(cudaDeviceSynchronize());
  for (int r = 0; r < reps; ++r)
    for (const Case& c : cases) {
      where<<<c.ctas, c.threads>>>(d_sm, d_start, 20000);
      CK(cudaGetLastError());
      CK(cudaDeviceSynchronize());
      std::vector<uint32_t> sm(c.ctas);
      std::vector<uint64_t> start(c.ctas);
      CK(cudaMemcpy(sm.data(), d_sm, sizeof(uint32_t) * c.ctas, cudaMemcpyDeviceToHost));
      CK(cudaMemcpy(start.data(), d_start, sizeof(uint64_t) * c.ctas, cudaMemcpyDeviceToHost));
      uint64_t t0 = start[0];
      for (uint64_t s : start) t0 = std::min(t0, s);
      std::string sms_json, starts_json;
      for (int i = 0; i < c.ctas; ++i) {
        sms_json += (i ? "," : "") + std::to_string(sm[i]);
        starts_json += (i ? "," : "") + std::to_string(start[i] - t0);
      }
      std::printf(
          "{\"case\": \"%s\", \"rep\": %d, \"sms\": %d, \"ctas\": %d, \"threads\": %d, \"sm\": [%s], "
          "\"start_ns\": [%s]}\n",
          c.name, r, sms, c.ctas, c.threads, sms_json.c_str(), starts_json.c_str());
    }
  return 0;
}
