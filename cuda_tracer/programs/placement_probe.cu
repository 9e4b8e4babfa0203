// Where do a new kernel's CTAs go when some SMs are busy with an older kernel and others idle? The
// simulator's dispatcher places a pass of CTAs over the SMs (sim/gpu/cta_scheduler.cpp, Gpu::fill_sms);
// whether that pass visits the SMs in a fixed rotation or the least occupied first decides whether a small
// kernel beside another tenant's lands on idle SMs or shares busy ones.
//
// Each case: a holder kernel A (A_CTAS CTAs of A_THREADS threads; one per SM but in the last cases) on
// stream 1, whose CTAs on the chosen "busy" SMs spin for 3 ms and the others exit at once; the host waits
// WAIT us (400: the quick ones gone), then launches kernel B (B_CTAS CTAs of B_THREADS threads, each
// spinning 100 us) on stream 2. The last cases ask how deep B piles onto free SMs (two to eight a SM) and
// what a grid launched at once beside a holder of 100 CTAs does (the pairs of cuda_tracer/sm_share.sh). Every CTA records its
// %smid and start (%globaltimer). One JSON line per case and repetition: the SMs A's spinning CTAs held
// when B started, B's CTAs' SMs, and how many of them landed on a busy SM. No managed memory.
//   placement_probe [--reps 3]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "common.h"

namespace {

// mode 0: SMs with an odd %smid are busy; 1: SMs whose %smid is below half the count; 2: every fourth; 3:
// every SM the holder's CTAs land on.
__device__ bool busy_sm(uint32_t sm, int mode, int sms) {
  return mode == 0 ? (sm & 1) != 0 : mode == 1 ? int(sm) < sms / 2 : mode == 2 ? sm % 4 == 0 : true;
}

__global__ void holder(uint32_t* sm_out, uint32_t* held, int mode, int sms, uint64_t hold_ns) {
  const uint64_t t0 = globaltimer();
  const uint32_t id = smid();
  const bool busy = busy_sm(id, mode, sms);
  if (threadIdx.x == 0) {
    sm_out[blockIdx.x] = id;
    held[blockIdx.x] = busy;
  }
  if (busy) spin_from(t0, hold_ns);
}

__global__ void newcomer(uint32_t* sm_out, uint64_t* start, uint64_t spin_ns) {
  const uint64_t t0 = globaltimer();
  if (threadIdx.x == 0) {
    sm_out[blockIdx.x] = smid();
    start[blockIdx.x] = t0;
  }
  spin_from(t0, spin_ns);
}

std::string list(const std::vector<uint32_t>& v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(v[i]);
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = parse_reps(argc, argv, "placement_probe", 3);
  int sms = 0;
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, 0));
  std::printf("{\"program\": \"placement_probe\", \"device\": \"%s\", \"sms\": %d}\n", prop.name, sms);
  struct Case {
    const char* name;
    int mode, a_ctas, a_threads, b_ctas, b_threads, wait_us;
  };
  const Case cases[] = {{"odd_busy_light_b_half", 0, sms, 32, sms / 2, 128, 400},
                        {"odd_busy_heavy_b_half", 0, sms, 1024, sms / 2, 128, 400},
                        {"odd_busy_light_b_quarter", 0, sms, 32, sms / 4, 128, 400},
                        {"low_half_busy_light_b_half", 1, sms, 32, sms / 2, 128, 400},
                        {"low_half_busy_heavy_b_half", 1, sms, 1024, sms / 2, 128, 400},
                        {"quarter_busy_light_b_half", 2, sms, 32, sms / 2, 128, 400},
                        {"odd_busy_light_b_all", 0, sms, 32, sms, 128, 400},
                        {"odd_busy_light_b_twice", 0, sms, 32, 2 * sms, 128, 400},
                        {"odd_busy_light_b_4x", 0, sms, 32, 4 * sms, 128, 400},
                        {"odd_busy_light_b_4x_256", 0, sms, 32, 4 * sms, 256, 400},
                        {"holder100_b100_at_once", 3, 100, 256, 100, 256, 0},
                        {"holder100_b100_after", 3, 100, 256, 100, 256, 400},
                        {"holder100_b200_at_once", 3, 100, 256, 200, 256, 0}};
  const int most = 4 * sms;
  uint32_t *a_sm = nullptr, *a_held = nullptr, *b_sm = nullptr;
  uint64_t* b_start = nullptr;
  CK(cudaMalloc(&a_sm, sizeof(uint32_t) * most));
  CK(cudaMalloc(&a_held, sizeof(uint32_t) * most));
  CK(cudaMalloc(&b_sm, sizeof(uint32_t) * most));
  CK(cudaMalloc(&b_start, sizeof(uint64_t) * most));
  cudaStream_t s1, s2;
  CK(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  CK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  holder<<<sms, 32, 0, s1>>>(a_sm, a_held, 0, sms, 1000);  // warm-up
  newcomer<<<1, 32, 0, s2>>>(b_sm, b_start, 1000);
  CK(cudaDeviceSynchronize());
  for (int r = 0; r < reps; ++r)
    for (const Case& c : cases) {
      holder<<<c.a_ctas, c.a_threads, 0, s1>>>(a_sm, a_held, c.mode, sms, 3000000);
      CK(cudaGetLastError());
      const auto t0 = std::chrono::steady_clock::now();
      while (std::chrono::steady_clock::now() - t0 < std::chrono::microseconds(c.wait_us)) {
      }
      newcomer<<<c.b_ctas, c.b_threads, 0, s2>>>(b_sm, b_start, 100000);
      CK(cudaGetLastError());
      CK(cudaDeviceSynchronize());
      std::vector<uint32_t> asm_(c.a_ctas), aheld(c.a_ctas), bsm(c.b_ctas);
      CK(cudaMemcpy(asm_.data(), a_sm, sizeof(uint32_t) * c.a_ctas, cudaMemcpyDeviceToHost));
      CK(cudaMemcpy(aheld.data(), a_held, sizeof(uint32_t) * c.a_ctas, cudaMemcpyDeviceToHost));
      CK(cudaMemcpy(bsm.data(), b_sm, sizeof(uint32_t) * c.b_ctas, cudaMemcpyDeviceToHost));
      std::set<uint32_t> busy, a_used;
      for (int i = 0; i < c.a_ctas; ++i) {
        a_used.insert(asm_[i]);
        if (aheld[i]) busy.insert(asm_[i]);
      }
      int on_busy = 0;
      std::set<uint32_t> b_used;
      for (uint32_t s : bsm) on_busy += busy.count(s) > 0, b_used.insert(s);
      std::printf(
          "{\"case\": \"%s\", \"rep\": %d, \"a_ctas\": %d, \"a_threads\": %d, \"b_ctas\": %d, \"b_threads\": %d, "
          "\"wait_us\": %d, \"a_distinct_sms\": %zu, \"busy_sms\": %zu, \"b_on_busy\": %d, \"b_distinct_sms\": %zu, "
          "\"busy\": [%s], \"b_sm\": [%s]}\n",
          c.name, r, c.a_ctas, c.a_threads, c.b_ctas, c.b_threads, c.wait_us, a_used.size(), busy.size(), on_busy,
          b_used.size(),
          list(std::vector<uint32_t>(busy.begin(), busy.end())).c_str(), list(bsm).c_str());
      std::fflush(stdout);
    }
  return 0;
}
