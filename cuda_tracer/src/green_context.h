// The one green-context launcher of the recording programs, uvm_runtime and the recording scripts: streams
// whose kernels run on a partition of the GPU's SMs (CUDA green contexts, driver API). The driver hands SMs
// out in steps (sm.smCoscheduledAlignment: 8 on the H200, with a minimum partition of 8), so a partition
// may hold more SMs than asked for: `sms` is the count obtained, and every recording notes it.
//   SmPartition p = SmPartition::make(0, 32);   // 32 SMs (or the next step up)
//   kernel<<<grid, block, smem, p.stream(0)>>>(...);
// Kernels of the runtime API launch into these streams as into any other.
#pragma once

#include <cuda.h>
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace uvmtrace {

#define UVMTRACE_CU(call)                                                                            \
  do {                                                                                               \
    CUresult r_ = (call);                                                                            \
    if (r_ != CUDA_SUCCESS) {                                                                        \
      const char* s_ = nullptr;                                                                      \
      cuGetErrorString(r_, &s_);                                                                     \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, s_ ? s_ : "unknown error"); \
      std::exit(1);                                                                                  \
    }                                                                                                \
  } while (0)

class SmPartition {
 public:
  // `want` SMs of `device` (0 or at least the GPU's count: the whole GPU, through the primary context), with
  // `streams` streams of their own. The runtime's primary context must exist (any runtime call makes it).
  static SmPartition make(int device, unsigned want, unsigned streams = 1) {
    SmPartition p;
    UVMTRACE_CU(cuInit(0));
    CUdevice dev;
    UVMTRACE_CU(cuDeviceGet(&dev, device));
    CUdevResource all{};
    UVMTRACE_CU(cuDeviceGetDevResource(dev, &all, CU_DEV_RESOURCE_TYPE_SM));
    p.total_ = all.sm.smCount;
    if (want == 0 || want >= all.sm.smCount) {
      p.sms_ = all.sm.smCount;
      for (unsigned i = 0; i < streams; ++i) {
        cudaStream_t s;
        if (cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) != cudaSuccess) std::exit(1);
        p.streams_.push_back(s);
      }
      return p;
    }
    return split(device, {want}, streams).front();
  }
  // Disjoint partitions of `device`, one per entry of `wants` (SMs asked for, in order), each with
  // `streams` streams: each is split off what the ones before it left, and one that asks for at least what
  // is left takes all of it. Tenants in their own partitions never share an SM (BARM-like splits).
  static std::vector<SmPartition> split(int device, const std::vector<unsigned>& wants, unsigned streams = 1) {
    UVMTRACE_CU(cuInit(0));
    CUdevice dev;
    UVMTRACE_CU(cuDeviceGet(&dev, device));
    CUdevResource left{};
    UVMTRACE_CU(cuDeviceGetDevResource(dev, &left, CU_DEV_RESOURCE_TYPE_SM));
    const unsigned total = left.sm.smCount;
    std::vector<SmPartition> parts;
    for (unsigned want : wants) {
      if (left.sm.smCount == 0 || want == 0) {
        std::fprintf(stderr, "green context: no SMs left for a partition of %u (of %u)\n", want, total);
        std::exit(1);
      }
      CUdevResource part = left, rest{};
      if (want < left.sm.smCount) {
        unsigned groups = 1;
        UVMTRACE_CU(cuDevSmResourceSplitByCount(&part, &groups, &left, &rest, 0, want));
        if (groups != 1) {
          std::fprintf(stderr, "green context: no partition of %u SMs out of %u left\n", want, left.sm.smCount);
          std::exit(1);
        }
      }
      parts.push_back(from_resource(dev, part, total, streams));
      left = rest;
    }
    return parts;
  }
  unsigned sms() const { return sms_; }      // SMs obtained
  unsigned total() const { return total_; }  // SMs of the GPU
  cudaStream_t stream(unsigned i = 0) const { return streams_.at(i); }
  // Streams and context are kept for the process's life: recording programs make a few and exit.

 private:
  // A green context on the SMs of `part`, and its streams.
  static SmPartition from_resource(CUdevice dev, CUdevResource& part, unsigned total, unsigned streams) {
    SmPartition p;
    p.total_ = total;
    p.sms_ = part.sm.smCount;
    CUdevResourceDesc desc;
    UVMTRACE_CU(cuDevResourceGenerateDesc(&desc, &part, 1));
    UVMTRACE_CU(cuGreenCtxCreate(&p.ctx_, desc, dev, CU_GREEN_CTX_DEFAULT_STREAM));
    for (unsigned i = 0; i < streams; ++i) {
      CUstream s;
      UVMTRACE_CU(cuGreenCtxStreamCreate(&s, p.ctx_, CU_STREAM_NON_BLOCKING, 0));
      p.streams_.push_back(reinterpret_cast<cudaStream_t>(s));
    }
    return p;
  }
  CUgreenCtx ctx_ = nullptr;
  unsigned sms_ = 0, total_ = 0;
  std::vector<cudaStream_t> streams_;
};

}  // namespace uvmtrace
