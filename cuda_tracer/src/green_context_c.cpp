// A C entry to green_context.h for programs that are not C++ (cuda_tracer/torch/sm_share_torch.py loads it
// with ctypes and wraps the streams in torch.cuda.ExternalStream): the same launcher, no second copy.
//   uvm_green_streams(device, want, n, streams, sms, total)
// makes a partition of `want` SMs (0: the whole GPU) with n streams; returns 0, or exits the process with a
// message naming the failing driver call.
#include "green_context.h"

extern "C" int uvm_green_streams(int device, unsigned want, unsigned n, void** streams, unsigned* sms,
                                 unsigned* total) {
  // The runtime's primary context first, as SmPartition::make requires.
  if (cudaFree(nullptr) != cudaSuccess) return 1;
  static std::vector<uvmtrace::SmPartition> keep;  // kept for the process's life, as the class says
  keep.push_back(uvmtrace::SmPartition::make(device, want, n));
  const auto& p = keep.back();
  for (unsigned i = 0; i < n; ++i) streams[i] = p.stream(i);
  *sms = p.sms();
  *total = p.total();
  return 0;
}
