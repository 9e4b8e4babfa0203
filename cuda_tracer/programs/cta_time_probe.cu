// How much the CTAs of one kernel differ in how long they take: every CTA stamps the GPU's clock when all
// its threads have started and when all have finished. Two kernels of 256-thread CTAs, eight per SM, six
// waves: a streaming one (each thread loads, scales and stores `per_thread` floats, one load in flight, as an
// element-wise layer does) and a compute-only one (FMA chains). Each at several lengths, so the spread can be
// split into a part that does not grow with a CTA's length and a part that does (the SM-sharing model's
// gpu.cta_time_variance_ns). One JSON line per (kernel, length, repetition): the CTAs' mean duration,
// standard deviation and percentiles, all CTAs and the middle four waves (no first-wave dispatch, no tail),
// and the kernel's span (first CTA's start to last CTA's end). On SM partitions of 132, 72, 32 and 8 SMs
// (green contexts), the same grid: whether a CTA's own time, or the time between CTAs on a slot, changes with
// how many SMs run the kernel. And one wave of long streaming CTAs on the whole GPU (`wave` 1024: 1 MiB in
// and out per CTA, as sm_share_probe's copy): how far apart CTAs that start together end when the DRAM is
// saturated throughout (`ends`: each CTA's end from the kernel's first start, percentiles and extremes).
//   cta_time_probe [--reps N]
#include <cmath>

#include "../src/green_context.h"
#include "common.h"

namespace {

constexpr unsigned kThreads = 256;

__global__ void __launch_bounds__(kThreads)
    stream_kernel(const float* in, float* out, unsigned per_thread, uint64_t* stamps) {
  __syncthreads();
  if (threadIdx.x == 0) stamps[2 * blockIdx.x] = globaltimer();
  const size_t base = size_t(blockIdx.x) * kThreads * per_thread;
  for (unsigned i = 0; i < per_thread; ++i) {
    const size_t at = base + size_t(i) * kThreads + threadIdx.x;
    out[at] = in[at] * 2.f + 1.f;
  }
  __syncthreads();
  if (threadIdx.x == 0) stamps[2 * blockIdx.x + 1] = globaltimer();
}

__global__ void __launch_bounds__(kThreads) fma_kernel(unsigned iters, float* out, uint64_t* stamps) {
  __syncthreads();
  if (threadIdx.x == 0) stamps[2 * blockIdx.x] = globaltimer();
  float a[4];
  for (int k = 0; k < 4; ++k) a[k] = float(threadIdx.x + k) * 1e-3f;
  for (unsigned it = 0; it < iters; ++it)
    for (int k = 0; k < 4; ++k) a[k] = fmaf(a[k], 0.999f, 0.5f);
  out[size_t(blockIdx.x) * kThreads + threadIdx.x] = a[0] + a[1] + a[2] + a[3];
  __syncthreads();
  if (threadIdx.x == 0) stamps[2 * blockIdx.x + 1] = globaltimer();
}

struct Summary {
  double mean = 0, sd = 0, p10 = 0, p50 = 0, p90 = 0;
};

Summary summarize(std::vector<double> d) {
  Summary s;
  for (double x : d) s.mean += x;
  s.mean /= double(d.size());
  for (double x : d) s.sd += (x - s.mean) * (x - s.mean);
  s.sd = std::sqrt(s.sd / double(d.size()));
  std::sort(d.begin(), d.end());
  s.p10 = d[d.size() / 10];
  s.p50 = d[d.size() / 2];
  s.p90 = d[d.size() * 9 / 10];
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  const int reps = parse_reps(argc, argv, "cta_time_probe", 3);
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, 0));
  const unsigned per_sm = unsigned(prop.maxThreadsPerMultiProcessor) / kThreads;
  const unsigned wave = unsigned(prop.multiProcessorCount) * per_sm, ctas = 6 * wave;
  const unsigned most = 64;
  const unsigned longest = 1024;  // floats per thread of the one-wave case
  const size_t elems = std::max(size_t(ctas) * kThreads * most, size_t(wave) * kThreads * longest);
  size_t free_bytes = 0, total = 0;
  CK(cudaMemGetInfo(&free_bytes, &total));
  if (2 * elems * sizeof(float) > free_bytes / 2) {
    std::fprintf(stderr, "cta_time_probe: %zu bytes wanted, %zu free\n", 2 * elems * sizeof(float),
                 free_bytes);
    return 1;
  }
  float *in = nullptr, *out = nullptr;
  uint64_t* stamps = nullptr;
  CK(cudaMalloc(&in, elems * sizeof(float)));
  CK(cudaMalloc(&out, elems * sizeof(float)));
  CK(cudaMalloc(&stamps, 2 * size_t(ctas) * sizeof(uint64_t)));
  CK(cudaMemset(in, 0, elems * sizeof(float)));
  std::vector<uint64_t> h(2 * size_t(ctas));
  struct Case {
    const char* kernel;
    unsigned length;  // floats per thread, or FMA iterations
  };
  const Case cases[] = {{"stream", 1}, {"stream", 4}, {"stream", 16}, {"stream", 64},   {"fma", 256},
                        {"fma", 1024}, {"fma", 4096}, {"fma", 16384}, {"wave", longest}};
  std::vector<uvmtrace::SmPartition> parts;
  for (const unsigned want : {132u, 72u, 32u, 8u}) parts.push_back(uvmtrace::SmPartition::make(0, want, 1));
  for (const uvmtrace::SmPartition& p : parts)
    for (const Case& c : cases) {
      const unsigned want = p.sms();
      const bool one_wave = c.kernel[0] == 'w';
      if (want != 132 && (one_wave || c.length > (c.kernel[0] == 's' ? 4u : 256u))) continue;  // short only
      const unsigned grid = one_wave ? wave : ctas;
      auto launch = [&] {
        if (c.kernel[0] != 'f')
          stream_kernel<<<grid, kThreads, 0, p.stream(0)>>>(in, out, c.length, stamps);
        else
          fma_kernel<<<ctas, kThreads, 0, p.stream(0)>>>(c.length, out, stamps);
        CK(cudaGetLastError());
        CK(cudaDeviceSynchronize());
      };
      launch();  // warm-up
      for (int r = 0; r < reps; ++r) {
        launch();
        CK(cudaMemcpy(h.data(), stamps, h.size() * sizeof(uint64_t), cudaMemcpyDeviceToHost));
        std::vector<double> all, middle, ends;
        uint64_t first = UINT64_MAX, last = 0;
        for (unsigned i = 0; i < grid; ++i) {
          first = std::min(first, h[2 * i]);
          last = std::max(last, h[2 * i + 1]);
          const double d = double(h[2 * i + 1] - h[2 * i]);
          all.push_back(d);
          if (one_wave || (i >= wave && i < 5 * wave)) middle.push_back(d);
        }
        for (unsigned i = 0; i < grid; ++i) ends.push_back(double(h[2 * i + 1] - first));
        std::sort(ends.begin(), ends.end());
        const Summary a = summarize(all), m = summarize(middle), e = summarize(ends);
        std::printf(
            "{\"program\": \"cta_time_probe\", \"gpu\": \"%s\", \"sms\": %u, \"span_ns\": %llu, \"ctas\": "
            "%u, "
            "\"threads\": %u, "
            "\"ctas_per_sm\": %u, \"kernel\": \"%s\", \"length\": %u, \"rep\": %d, \"all\": {\"mean_ns\": "
            "%.1f, "
            "\"sd_ns\": %.1f, \"p10_ns\": %.0f, \"p50_ns\": %.0f, \"p90_ns\": %.0f}, \"middle\": "
            "{\"mean_ns\": "
            "%.1f, \"sd_ns\": %.1f, \"p10_ns\": %.0f, \"p50_ns\": %.0f, \"p90_ns\": %.0f}, \"ends\": "
            "{\"min_ns\": %.0f, \"p10_ns\": %.0f, \"p50_ns\": %.0f, \"p90_ns\": %.0f, \"max_ns\": %.0f, "
            "\"sd_ns\": %.1f}}\n",
            prop.name, p.sms(), (unsigned long long)(last - first), grid, kThreads, per_sm, c.kernel,
            c.length, r + 1, a.mean, a.sd, a.p10, a.p50, a.p90, m.mean, m.sd, m.p10, m.p50, m.p90,
            ends.front(), e.p10, e.p50, e.p90, ends.back(), e.sd);
      }
    }
  CK(cudaFree(in));
  CK(cudaFree(out));
  CK(cudaFree(stamps));
  return 0;
}
