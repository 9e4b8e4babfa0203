// The micro-workloads of reference/measurements.md on a real GPU: one managed allocation, one thread per
// 4 KiB page, pages in address order, in the same random permutation as `uvmsim generate` (mt19937_64
// Fisher-Yates with --seed), or strided (CTA c's thread t touches page t * CTAs + c, as the generator's), or
// a chain (one thread follows a pointer through every page in that random order: each load's address is the
// previous load's value, so each page faults on its own, a dependent chain; the CPU writes the chain).
// Steps, as in the generator: [CPU writes every page] [prefetch to the GPU] kernel "touch", sync, kernel
// "touch_again", sync, [CPU reads every page back]. Each step is timed (CUDA events on the GPU, the host
// clock on the CPU); with --reps R --warmup W the whole sequence runs W + R times on fresh allocations and
// the medians are printed as JSON. With --sms N the kernels (and the prefetch) run on a green-context
// partition of N SMs (the next step up the GPU hands out; "sms" in the JSON is the count obtained).
// With --run-pages R (pattern seq) the threads touch R consecutive pages of every 2R, half the allocation:
// the same faults, VA blocks and 4 KiB mappings (no 64 KiB page is more than half touched, so the driver's
// prefetcher adds nothing, below R = 16) in runs of R pages, one copy each: what a fault batch costs per copy
// against what it costs per page or per mapping.
#include <nvtx3/nvToolsExt.h>

#include <chrono>
#include <cstdint>
#include <random>

#include "../src/green_context.h"
#include "common.h"

// One thread per page: read (kept alive by a branch never taken) or write the page's first byte. With
// `sharers` > 1, CTA c touches the pages of c / sharers: neighbouring CTAs share them (duplicate faults).
__device__ __forceinline__ void touch_page(char* data, const uint32_t* order, uint64_t pages, int write,
                                           int* sink, char value, unsigned sharers) {
  uint64_t i = uint64_t(blockIdx.x / sharers) * blockDim.x + threadIdx.x;
  if (i >= pages) return;
  char* p = data + (order ? order[i] : i) * 4096;
  if (write) {
    *p = value;
  } else if (*p == 0x7f) {
    atomicAdd(sink, 1);
  }
}

// A dependent chain: one thread reads the next page's index from the page it is on, `steps` times.
__global__ void chase(const char* data, uint32_t first, uint64_t steps, int* sink) {
  uint32_t p = first;
  for (uint64_t i = 0; i < steps; ++i)
    p = *reinterpret_cast<const volatile uint32_t*>(data + uint64_t(p) * 4096);
  if (p == 0xffffffffu) atomicAdd(sink, 1);
}

// Two kernels, so that the first touch and the resident touch have their own names in traces.
__global__ void touch(char* data, const uint32_t* order, uint64_t pages, int write, int* sink,
                      unsigned sharers) {
  touch_page(data, order, pages, write, sink, 1, sharers);
}
__global__ void touch_again(char* data, const uint32_t* order, uint64_t pages, int write, int* sink,
                            unsigned sharers) {
  touch_page(data, order, pages, write, sink, 2, sharers);
}

int main(int argc, char** argv) {
  bool random = false, strided = false, chain = false, host_init = false, write = false, prefetch = false,
       touch_back = false;
  bool alloc_only = false;  // allocate and free, nothing else (tests the tracer's refusal safely)
  size_t bytes = 64ull << 20;
  unsigned threads = 256, sharers = 1, run_pages = 0;
  uint64_t seed = 1;
  int reps = 1, warmup = 0;
  unsigned sms_asked = 0;  // 0: the whole GPU, on the default stream
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "%s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--pattern") {
      std::string p = next();
      if (p != "seq" && p != "random" && p != "strided" && p != "chain") {
        std::fprintf(stderr, "--pattern is seq, random, strided or chain\n");
        return 2;
      }
      chain = p == "chain";
      random = p == "random" || chain;
      strided = p == "strided";
    } else if (a == "--bytes")
      bytes = parse_size(next());
    else if (a == "--threads-per-cta")
      threads = unsigned(std::atoi(next()));
    else if (a == "--run-pages")
      run_pages = unsigned(std::atoi(next()));
    else if (a == "--sharers")
      sharers = unsigned(std::atoi(next()));
    else if (a == "--seed")
      seed = std::strtoull(next(), nullptr, 10);
    else if (a == "--reps")
      reps = std::atoi(next());
    else if (a == "--warmup")
      warmup = std::atoi(next());
    else if (a == "--host-init")
      host_init = true;
    else if (a == "--write")
      write = true;
    else if (a == "--prefetch")
      prefetch = true;
    else if (a == "--touch-back")
      touch_back = true;
    else if (a == "--alloc-only")
      alloc_only = true;
    else if (a == "--sms")
      sms_asked = unsigned(std::atoi(next()));
    else {
      std::fprintf(stderr, "unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  if (bytes == 0 || bytes % 4096 || threads == 0 || threads > 1024 || sharers == 0 || sharers > 1024 ||
      reps < 1) {
    std::fprintf(stderr, "bad arguments\n");
    return 2;
  }
  if (alloc_only) {  // no check of our own: the tracer must refuse an allocation the GPU cannot hold
    char* data = nullptr;
    CK(cudaMallocManaged(&data, bytes));
    CK(cudaFree(data));
    std::printf("{\"program\": \"uvm_micro\", \"alloc_only\": %zu}\n", bytes);
    return 0;
  }
  const uint64_t pages = bytes / 4096;
  if (run_pages > 0 && (random || strided || chain || pages % (2 * run_pages) != 0)) {
    std::fprintf(stderr, "--run-pages R needs --pattern seq and a size of whole 2R pages\n");
    return 2;
  }
  const uint64_t touched = run_pages > 0 ? pages / 2 : pages;  // pages the kernels touch
  if (strided && pages % threads != 0) {
    std::fprintf(stderr, "--pattern strided needs whole CTAs: %llu pages, %u threads per CTA\n",
                 (unsigned long long)pages, threads);
    return 2;
  }
  std::vector<uint32_t> order(pages);
  for (uint64_t i = 0; i < pages; ++i) order[i] = uint32_t(i);
  if (random) {
    std::mt19937_64 rng(seed);
    for (uint64_t i = pages - 1; i > 0; --i) std::swap(order[i], order[rng() % (i + 1)]);
  }
  if (strided)
    for (uint64_t i = 0; i < pages; ++i) order[i] = uint32_t((i % threads) * (pages / threads) + i / threads);
  if (run_pages > 0)
    for (uint64_t i = 0; i < touched; ++i) order[i] = uint32_t(i / run_pages * 2 * run_pages + i % run_pages);
  uint32_t* d_order = nullptr;
  int* sink = nullptr;
  if (random || strided || run_pages > 0) {
    CK(cudaMalloc(&d_order, pages * sizeof(uint32_t)));
    CK(cudaMemcpy(d_order, order.data(), pages * sizeof(uint32_t), cudaMemcpyHostToDevice));
  }
  CK(cudaMalloc(&sink, sizeof(int)));
  CK(cudaMemset(sink, 0, sizeof(int)));
  int dev = 0;
  CK(cudaGetDevice(&dev));
  // A partition's stream, or the default stream for the whole GPU (as recorded before --sms existed).
  cudaStream_t stream = 0;
  unsigned sms = 0;
  std::vector<uvmtrace::SmPartition> part;
  if (sms_asked > 0) {
    part.push_back(uvmtrace::SmPartition::make(dev, sms_asked));
    stream = part[0].stream(0);
    sms = part[0].sms();
  } else {
    cudaDeviceProp prop{};
    CK(cudaGetDeviceProperties(&prop, dev));
    sms = unsigned(prop.multiProcessorCount);
  }
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  const unsigned ctas = unsigned((touched + threads - 1) / threads);
  std::vector<double> t_init, t_prefetch, t_touch, t_again, t_back;
  for (int rep = 0; rep < warmup + reps; ++rep) {
    check_fits(bytes);
    char* data = nullptr;
    CK(cudaMallocManaged(&data, bytes));
    nvtxRangePushA("host_init");
    auto h0 = std::chrono::steady_clock::now();
    if (chain)  // each page holds the index of the next one in the order (the last: itself)
      for (uint64_t i = 0; i < pages; ++i)
        *reinterpret_cast<uint32_t*>(data + uint64_t(order[i]) * 4096) = order[i + 1 < pages ? i + 1 : i];
    else if (host_init)
      for (uint64_t p = 0; p < pages; ++p) data[p * 4096] = 3;
    auto h1 = std::chrono::steady_clock::now();
    nvtxRangePop();
    nvtxRangePushA("gpu");
    float ms_prefetch = 0, ms_touch = 0, ms_again = 0;
    if (prefetch) {
      cudaMemLocation loc{};
      loc.type = cudaMemLocationTypeDevice;
      loc.id = dev;
      ms_prefetch = time_ms(
          e0, e1, [&] { CK(cudaMemPrefetchAsync(data, bytes, loc, 0, stream)); }, stream);
    }
    if (chain) {
      ms_touch = time_ms(
          e0, e1, [&] { chase<<<1, 1, 0, stream>>>(data, order[0], pages, sink); }, stream);
      ms_again = time_ms(
          e0, e1, [&] { chase<<<1, 1, 0, stream>>>(data, order[0], pages, sink); }, stream);
    } else {
      ms_touch = time_ms(
          e0, e1,
          [&] { touch<<<ctas * sharers, threads, 0, stream>>>(data, d_order, touched, write, sink, sharers); },
          stream);
      ms_again = time_ms(
          e0, e1,
          [&] {
            touch_again<<<ctas * sharers, threads, 0, stream>>>(data, d_order, touched, write, sink, sharers);
          },
          stream);
    }
    nvtxRangePop();
    nvtxRangePushA("touch_back");
    auto b0 = std::chrono::steady_clock::now();
    volatile long sum = 0;
    if (touch_back)
      for (uint64_t p = 0; p < pages; ++p) sum += data[p * 4096];
    auto b1 = std::chrono::steady_clock::now();
    nvtxRangePop();
    if (write && touch_back && run_pages == 0 && sum != long(pages) * 2) {
      std::fprintf(stderr, "wrong data read back\n");
      return 1;
    }
    CK(cudaFree(data));
    if (rep < warmup) continue;
    t_init.push_back(std::chrono::duration<double, std::milli>(h1 - h0).count());
    t_prefetch.push_back(ms_prefetch);
    t_touch.push_back(ms_touch);
    t_again.push_back(ms_again);
    t_back.push_back(std::chrono::duration<double, std::milli>(b1 - b0).count());
  }
  std::printf(
      "{\"program\": \"uvm_micro\", \"pattern\": \"%s\", \"bytes\": %zu, \"threads_per_cta\": %u, "
      "\"sharers\": %u, \"run_pages\": %u, \"sms\": %u, "
      "\"host_init\": %d, \"write\": %d, \"prefetch\": %d, \"touch_back\": %d, \"reps\": %d, \"warmup\": %d, "
      "\"host_init_ms\": %.4f, \"prefetch_ms\": %.4f, \"touch_ms\": %.4f, \"touch_again_ms\": %.4f, "
      "\"touch_back_ms\": %.4f, \"touch_ms_min\": %.4f, \"touch_ms_max\": %.4f}\n",
      chain     ? "chain"
      : random  ? "random"
      : strided ? "strided"
                : "seq",
      bytes, threads, sharers, run_pages, sms, int(host_init), int(write), int(prefetch), int(touch_back), reps, warmup,
      median(t_init), median(t_prefetch), median(t_touch), median(t_again), median(t_back),
      *std::min_element(t_touch.begin(), t_touch.end()), *std::max_element(t_touch.begin(), t_touch.end()));
  if (d_order) CK(cudaFree(d_order));
  CK(cudaFree(sink));
  return 0;
}
