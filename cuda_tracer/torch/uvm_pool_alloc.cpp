// A managed-memory allocator for PyTorch's CUDAPluggableAllocator: every segment PyTorch's pool asks for
// is a plain cudaMallocManaged allocation with no memory advice, so that faults and migrations are real.
// Used inside a torch.cuda.MemPool (cuda_tracer/trace_torch.py), so tensors are carved from few,
// long-lived segments and allocation does not dominate (reference/uvm-driver.md). Also exports
// uvm_pool_to_host(), which moves every live segment to the CPU: the start of a cold inference, and
// uvm_nvtx_push()/uvm_nvtx_pop(): NVTX ranges through the toolkit's NVTX, which uvmtrace's timing pass
// records (ranges pushed through torch.cuda.nvtx did not reach CUPTI on the H100 machine's PyTorch).
// Build: g++ -O2 -shared -fPIC -I$CUDA/include uvm_pool_alloc.cpp -L$CUDA/lib64 -lcudart -ldl -o libuvm_pool_alloc.so
#include <cuda_runtime_api.h>
#include <nvtx3/nvToolsExt.h>
#include <sys/types.h>

#include <cstdio>
#include <map>
#include <mutex>

namespace {
std::mutex mu;
std::map<void*, size_t> segments;
}  // namespace

extern "C" {

void* uvm_pool_malloc(ssize_t size, int device, cudaStream_t stream) {
  (void)device;
  (void)stream;
  void* p = nullptr;
  if (cudaMallocManaged(&p, size_t(size), cudaMemAttachGlobal) != cudaSuccess) return nullptr;
  std::lock_guard<std::mutex> lock(mu);
  segments[p] = size_t(size);
  return p;
}

void uvm_pool_free(void* p, ssize_t size, int device, cudaStream_t stream) {
  (void)size;
  (void)device;
  (void)stream;
  {
    std::lock_guard<std::mutex> lock(mu);
    segments.erase(p);
  }
  cudaFree(p);
}

// Moves every live segment to the CPU and waits: what follows starts cold. Returns the bytes moved, or
// -1 on a CUDA error.
long long uvm_pool_to_host() {
  std::lock_guard<std::mutex> lock(mu);
  long long bytes = 0;
  cudaMemLocation host{};
  host.type = cudaMemLocationTypeHost;
  host.id = 0;
  for (auto& [p, n] : segments) {
    if (cudaMemPrefetchAsync(p, n, host, 0, nullptr) != cudaSuccess) return -1;
    bytes += (long long)n;
  }
  if (cudaDeviceSynchronize() != cudaSuccess) return -1;
  return bytes;
}

long long uvm_pool_bytes() {
  std::lock_guard<std::mutex> lock(mu);
  long long bytes = 0;
  for (auto& [p, n] : segments) bytes += (long long)n;
  return bytes;
}

void uvm_nvtx_push(const char* name) { nvtxRangePushA(name); }
void uvm_nvtx_pop() { nvtxRangePop(); }
}
