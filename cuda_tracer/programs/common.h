// Small helpers shared by the recording programs (CUDA runtime only).
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#ifdef __CUDACC__
// The GPU's nanosecond clock: one clock for every SM and every process on the GPU.
__device__ __forceinline__ uint64_t globaltimer() {
  uint64_t t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}
// The SM the calling thread runs on.
__device__ __forceinline__ uint32_t smid() {
  uint32_t id;
  asm volatile("mov.u32 %0, %%smid;" : "=r"(id));
  return id;
}
// Busy-waits until `ns` have passed since `t0` (a globaltimer() reading).
__device__ __forceinline__ void spin_from(uint64_t t0, uint64_t ns) {
  while (globaltimer() - t0 < ns) {
  }
}
#endif

#define CK(call)                                                                                  \
  do {                                                                                            \
    cudaError_t e_ = (call);                                                                      \
    if (e_ != cudaSuccess) {                                                                      \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(1);                                                                               \
    }                                                                                             \
  } while (0)

// "132,72,8" as numbers (a program's list option); anything else ends the program with a message.
inline std::vector<unsigned> parse_counts(const char* s) {
  std::vector<unsigned> v;
  for (const char* p = s; *p;) {
    char* end = nullptr;
    v.push_back(unsigned(std::strtoul(p, &end, 10)));
    if (end == p || (*end != ',' && *end != '\0')) {
      std::fprintf(stderr, "'%s' is not a list of counts (132,72,8)\n", s);
      std::exit(2);
    }
    p = *end == ',' ? end + 1 : end;
  }
  return v;
}

// The repetitions of a program whose only option is `--reps N` (N at least 1; `reps` without it); anything
// else ends the program with its usage.
inline int parse_reps(int argc, char** argv, const char* program, int reps) {
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: %s [--reps N]\n", program);
      std::exit(2);
    }
  }
  if (reps < 1) {
    std::fprintf(stderr, "%s: --reps must be at least 1\n", program);
    std::exit(2);
  }
  return reps;
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Never ask for more managed memory than the GPU has free: oversubscribing a shared GPU can hang it.
inline void check_fits(size_t bytes) {
  size_t free_b = 0, total_b = 0;
  CK(cudaMemGetInfo(&free_b, &total_b));
  if (bytes > free_b / 10 * 9) {
    std::fprintf(stderr,
                 "refusing: %zu bytes of managed memory would exceed 90%% of the GPU's %zu free bytes\n",
                 bytes, free_b);
    std::exit(3);
  }
}

// Runs `launch` (kernel launches on the default stream) between two events; returns the elapsed ms.
template <typename F>
float time_ms(cudaEvent_t e0, cudaEvent_t e1, F&& launch, cudaStream_t stream = 0) {
  float ms = 0;
  CK(cudaEventRecord(e0, stream));
  launch();
  CK(cudaGetLastError());
  CK(cudaEventRecord(e1, stream));
  CK(cudaDeviceSynchronize());
  CK(cudaEventElapsedTime(&ms, e0, e1));
  return ms;
}

inline size_t parse_size(const char* text) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(text, &end, 10);
  std::string unit = end ? end : "";
  size_t mul = 1;
  if (unit == "KiB" || unit == "K")
    mul = 1ull << 10;
  else if (unit == "MiB" || unit == "M")
    mul = 1ull << 20;
  else if (unit == "GiB" || unit == "G")
    mul = 1ull << 30;
  else if (!unit.empty() && unit != "B") {
    std::fprintf(stderr, "bad size '%s'\n", text);
    std::exit(2);
  }
  return size_t(v) * mul;
}
