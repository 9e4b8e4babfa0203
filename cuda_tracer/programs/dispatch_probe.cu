// How the GPU hands out CTA slots between two kernels on two streams of one context (the engine issue, item
// 3: the SM-sharing probe's pairs). Two grids of spinning CTAs are launched on two streams, A then B, and
// every CTA records its SM and its start and end on the global timer. The question is the order in which
// slots that free go to the two grids: all of A's CTAs before any of B's (grids in the order they came), or
// B's CTAs mixed in among A's pending ones. One JSON line per case and repetition: each grid's first and
// last CTA start and last end (us from A's first CTA start), how many of B's CTAs started before A's last
// CTA started, and B's share of the CTA starts in the window where both grids had CTAs left to start. Each
// case runs on two plain streams and on two streams of one green context of every SM (as sm_share_probe
// launches its pairs, cuda_tracer/src/green_context.h). Before them, the stamp kernel's own timing: from one
// stamp's start to the next's on one stream, and from a grid's last CTA end to the stamp after it; and
// sm_share_probe's fma+fma pair in its own pattern, with every FMA CTA's end: whether the eight CTAs on an
// SM end together or one after another, and when the stamps of the two streams run; and an older kernel's
// CTAs (a dependent FMA chain, one per SM) beside a younger kernel's short CTAs: who gives way.
//   dispatch_probe [--reps 3]
#include <cuda_runtime.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "../src/green_context.h"
#include "common.h"

namespace {

// Thread 0 of a CTA records its SM, its start t0 and now (its end), after every thread got there.
__device__ void record_cta(uint64_t* rec, uint64_t t0) {
  __syncthreads();
  if (threadIdx.x == 0) {
    uint32_t sm;
    asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
    rec[3 * blockIdx.x] = sm;
    rec[3 * blockIdx.x + 1] = t0;
    rec[3 * blockIdx.x + 2] = globaltimer();
  }
}

// Each CTA spins for `ns` on the global timer; thread 0 records (SM, start, end).
__global__ void spin(uint64_t ns, uint64_t* rec) {
  extern __shared__ uint8_t pad[];  // dynamic shared memory: limits the CTAs per SM
  const uint64_t t0 = globaltimer();
  while (globaltimer() - t0 < ns) {
  }
  if (ns == 1) pad[0] = 1;  // never: keeps the array
  record_cta(rec, t0);
}

// sm_share_probe's FMA kernel (`chains` independent FMA chains per thread) with every CTA's SM, start and end
// recorded as `spin` records them: whether the CTAs sharing an SM end together (each warp gets its share of
// the issue slots) or one after another (older warps issue first).
template <int chains>
__global__ void __launch_bounds__(256) fma_rec(float* out, uint32_t iters, uint64_t* rec) {
  __syncthreads();
  const uint64_t t0 = globaltimer();
  float a[chains];
  for (int i = 0; i < chains; ++i) a[i] = float(threadIdx.x + i) * 1e-3f;
  for (uint32_t it = 0; it < iters; ++it)
    for (int i = 0; i < chains; ++i) a[i] = fmaf(a[i], 0.999f, 0.5f);
  float s = 0;
  for (int i = 0; i < chains; ++i) s += a[i];
  out[blockIdx.x * blockDim.x + threadIdx.x] = s;
  record_cta(rec, t0);
}

// One thread records the global timer: sm_share_probe's stamp kernel.
__global__ void stamp(uint64_t* at) { *at = globaltimer(); }

struct Grid {
  const char* name;
  unsigned ctas, threads;
  uint64_t ns;  // each CTA's spin
  size_t smem;  // dynamic shared memory per CTA (0: none)
};

struct Case {
  const char* name;
  Grid a, b;
  unsigned gap_us;  // host sleep between launching A and B
};

}  // namespace

int main(int argc, char** argv) {
  const int reps = parse_reps(argc, argv, "dispatch_probe", 3);
  cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, 0));
  const unsigned sms = unsigned(prop.multiProcessorCount);
  CK(cudaFuncSetAttribute(spin, cudaFuncAttributeMaxDynamicSharedMemorySize,
                          int(prop.sharedMemPerBlockOptin)));
  // 4 CTAs per SM by shared memory (a quarter of the SM's, less the per-CTA reserve).
  const size_t quarter = prop.sharedMemPerMultiprocessor / 4 - 1024;
  const Case cases[] = {
      // Both grids fill every SM's threads (8 x 256), three waves each, 100 us CTAs.
      {"full_full", {"a", 24 * sms, 256, 100000, 0}, {"b", 24 * sms, 256, 100000, 0}, 0},
      {"full_full_gap", {"a", 24 * sms, 256, 100000, 0}, {"b", 24 * sms, 256, 100000, 0}, 150},
      // Many short CTAs first, then a grid of long CTAs limited to 4 per SM (the add+conv1x1 pair's shape).
      {"short_long", {"a", 190 * sms, 256, 2000, 0}, {"b", 3 * sms, 256, 100000, quarter}, 0},
      {"long_short", {"a", 12 * sms, 256, 100000, quarter}, {"b", 190 * sms, 256, 2000, 0}, 0},
  };
  size_t most = 0;
  for (const Case& c : cases) most = std::max<size_t>(most, std::max(c.a.ctas, c.b.ctas));
  uint64_t *ra, *rb;
  CK(cudaMalloc(&ra, most * 3 * sizeof(uint64_t)));
  CK(cudaMalloc(&rb, most * 3 * sizeof(uint64_t)));
  cudaStream_t plain_a, plain_b;
  CK(cudaStreamCreateWithFlags(&plain_a, cudaStreamNonBlocking));
  CK(cudaStreamCreateWithFlags(&plain_b, cudaStreamNonBlocking));
  const uvmtrace::SmPartition green = uvmtrace::SmPartition::make(0, sms, 2);
  std::vector<uint64_t> ha(most * 3), hb(most * 3);
  // Stamps: the time from one stamp kernel's start to the next one's on the same stream (its run and the
  // dependent launch), and from a grid's last CTA end to the start of the stamp after it.
  {
    uint64_t* at;
    CK(cudaMalloc(&at, 64 * sizeof(uint64_t)));
    std::vector<uint64_t> h(64);
    for (int r = 0; r <= reps; ++r) {
      for (int i = 0; i < 21; ++i) stamp<<<1, 1, 0, plain_a>>>(at + i);
      spin<<<190 * sms, 256, 0, plain_a>>>(2000, ra);
      stamp<<<1, 1, 0, plain_a>>>(at + 21);
      CK(cudaGetLastError());
      CK(cudaDeviceSynchronize());
      if (r == 0) continue;
      CK(cudaMemcpy(h.data(), at, 22 * sizeof(uint64_t), cudaMemcpyDeviceToHost));
      CK(cudaMemcpy(ha.data(), ra, size_t(190) * sms * 3 * sizeof(uint64_t), cudaMemcpyDeviceToHost));
      std::vector<double> gaps;
      for (int i = 1; i < 21; ++i) gaps.push_back(double(h[size_t(i)] - h[size_t(i) - 1]) / 1e3);
      uint64_t last_end = 0;
      for (size_t i = 0; i < size_t(190) * sms; ++i) last_end = std::max(last_end, ha[3 * i + 2]);
      std::printf(
          "{\"program\": \"dispatch_probe\", \"gpu\": \"%s\", \"sms\": %u, \"case\": \"stamps\", \"rep\": "
          "%d, "
          "\"stamp_to_stamp_us\": {\"median\": %.2f, \"min\": %.2f, \"max\": %.2f}, "
          "\"grid_end_to_stamp_us\": %.2f}\n",
          prop.name, sms, r, median(gaps), *std::min_element(gaps.begin(), gaps.end()),
          *std::max_element(gaps.begin(), gaps.end()), (double(h[21]) - double(last_end)) / 1e3);
    }
    CK(cudaFree(at));
  }
  // sm_share_probe's pair pattern (stamp, kernel, stamp on one stream, then on the other): which comes first
  // once the first kernel's CTAs are all dispatched, the second stream's kernel (after its first stamp) or
  // the first stream's closing stamp (after the first kernel ends)?
  {
    uint64_t* at;
    CK(cudaMalloc(&at, 4 * sizeof(uint64_t)));
    std::vector<uint64_t> h(4);
    const uvmtrace::SmPartition green8 = uvmtrace::SmPartition::make(0, 8, 2);
    for (int g = 0; g < 3; ++g)
      for (int r = 0; r <= reps; ++r) {
        const unsigned n = g == 2 ? green8.sms() : sms;
        const Grid a{"a", 190 * n, 256, 2000, 0}, b{"b", 12 * n, 256, 100000, quarter};
        cudaStream_t sa = g == 2 ? green8.stream(0) : g ? green.stream(0) : plain_a;
        cudaStream_t sb = g == 2 ? green8.stream(1) : g ? green.stream(1) : plain_b;
        stamp<<<1, 1, 0, sa>>>(at);
        spin<<<a.ctas, a.threads, a.smem, sa>>>(a.ns, ra);
        stamp<<<1, 1, 0, sa>>>(at + 1);
        stamp<<<1, 1, 0, sb>>>(at + 2);
        spin<<<b.ctas, b.threads, b.smem, sb>>>(b.ns, rb);
        stamp<<<1, 1, 0, sb>>>(at + 3);
        CK(cudaGetLastError());
        CK(cudaDeviceSynchronize());
        if (r == 0) continue;
        CK(cudaMemcpy(h.data(), at, 4 * sizeof(uint64_t), cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(ha.data(), ra, a.ctas * 3 * sizeof(uint64_t), cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(hb.data(), rb, b.ctas * 3 * sizeof(uint64_t), cudaMemcpyDeviceToHost));
        uint64_t a_last = 0, a_end = 0, b_first = UINT64_MAX;
        for (unsigned i = 0; i < a.ctas; ++i) a_last = std::max(a_last, ha[3 * i + 1]);
        for (unsigned i = 0; i < a.ctas; ++i) a_end = std::max(a_end, ha[3 * i + 2]);
        for (unsigned i = 0; i < b.ctas; ++i) b_first = std::min(b_first, hb[3 * i + 1]);
        auto us = [&](uint64_t t) { return (double(t) - double(h[0])) / 1e3; };
        std::printf(
            "{\"program\": \"dispatch_probe\", \"gpu\": \"%s\", \"sms\": %u, \"streams\": \"%s\", "
            "\"case\": \"probe_pattern\", \"rep\": %d, \"a_last_start_us\": %.1f, \"a_last_end_us\": %.1f, "
            "\"first_stream_closing_stamp_us\": %.1f, \"second_stream_first_stamp_us\": %.1f, "
            "\"b_first_start_us\": %.1f, \"second_stream_closing_stamp_us\": %.1f}\n",
            prop.name, n, g ? "green" : "plain", r, us(a_last), us(a_end), us(h[1]), us(h[2]), us(b_first),
            us(h[3]));
      }
    CK(cudaFree(at));
  }
  // sm_share_probe's fma+fma pair: one full wave of FMA CTAs (eight per SM, 2 ms alone) on each stream, in
  // the probe's pattern. When do the CTAs of the first end (first, tenth percentile, median, last), and
  // when do the stamps run? With 4 chains per thread (cta_time_probe's FMA) and 8 (sm_share_probe's).
  {
    uint64_t* at;
    CK(cudaMalloc(&at, 4 * sizeof(uint64_t)));
    float* out;
    CK(cudaMalloc(&out, size_t(8) * sms * 256 * sizeof(float)));
    std::vector<uint64_t> h(4);
    for (int chains : {8, 4})
      for (int g = 0; g < 2; ++g)
        for (int r = 0; r <= reps; ++r) {
          cudaStream_t sa = g ? green.stream(0) : plain_a, sb = g ? green.stream(1) : plain_b;
          const unsigned ctas = 8 * sms;
          const uint32_t iters = chains == 8 ? 1u << 14 : 1u << 15;
          auto launch = [&](cudaStream_t st, uint64_t* rec) {
            if (chains == 8)
              fma_rec<8><<<ctas, 256, 0, st>>>(out, iters, rec);
            else
              fma_rec<4><<<ctas, 256, 0, st>>>(out, iters, rec);
          };
          stamp<<<1, 1, 0, sa>>>(at);
          launch(sa, ra);
          stamp<<<1, 1, 0, sa>>>(at + 1);
          stamp<<<1, 1, 0, sb>>>(at + 2);
          launch(sb, rb);
          stamp<<<1, 1, 0, sb>>>(at + 3);
          CK(cudaGetLastError());
          CK(cudaDeviceSynchronize());
          if (r == 0) continue;
          CK(cudaMemcpy(h.data(), at, 4 * sizeof(uint64_t), cudaMemcpyDeviceToHost));
          CK(cudaMemcpy(ha.data(), ra, ctas * 3 * sizeof(uint64_t), cudaMemcpyDeviceToHost));
          CK(cudaMemcpy(hb.data(), rb, ctas * 3 * sizeof(uint64_t), cudaMemcpyDeviceToHost));
          std::vector<double> ends;
          uint64_t a_first = UINT64_MAX, a_last = 0, b_first = UINT64_MAX, b_end = 0;
          for (unsigned i = 0; i < ctas; ++i) {
            a_first = std::min(a_first, ha[3 * i + 1]);
            a_last = std::max(a_last, ha[3 * i + 1]);
            b_first = std::min(b_first, hb[3 * i + 1]);
            b_end = std::max(b_end, hb[3 * i + 2]);
          }
          auto us = [&](uint64_t t) { return (double(t) - double(a_first)) / 1e3; };
          for (unsigned i = 0; i < ctas; ++i) ends.push_back(us(ha[3 * i + 2]));
          std::sort(ends.begin(), ends.end());
          // CTAs that ran on the same SM as the first CTA to end: their ends, in order.
          unsigned first_sm = 0;
          for (unsigned i = 0; i < ctas; ++i)
            if (us(ha[3 * i + 2]) == ends.front()) first_sm = unsigned(ha[3 * i]);
          std::vector<double> same;
          for (unsigned i = 0; i < ctas; ++i)
            if (ha[3 * i] == first_sm) same.push_back(us(ha[3 * i + 2]));
          std::sort(same.begin(), same.end());
          std::string same_s;
          for (double e : same) same_s += (same_s.empty() ? "" : ", ") + std::to_string(int(e));
          std::printf(
              "{\"program\": \"dispatch_probe\", \"gpu\": \"%s\", \"sms\": %u, \"streams\": \"%s\", "
              "\"case\": \"fma_pair\", \"chains\": %d, \"rep\": %d, \"a_last_start_us\": %.1f, "
              "\"a_end_us\": {\"first\": %.1f, \"p10\": %.1f, \"median\": %.1f, \"last\": %.1f}, "
              "\"first_sm_ends_us\": [%s], \"first_stream_closing_stamp_us\": %.1f, "
              "\"second_stream_first_stamp_us\": %.1f, \"b_first_start_us\": %.1f, \"b_last_end_us\": %.1f, "
              "\"second_stream_closing_stamp_us\": %.1f}\n",
              prop.name, sms, g ? "green" : "plain", chains, r, us(a_last), ends.front(),
              ends[ends.size() / 10], ends[ends.size() / 2], ends.back(), same_s.c_str(), us(h[1]), us(h[2]),
              us(b_first), us(b_end), us(h[3]));
        }
    CK(cudaFree(out));
    CK(cudaFree(at));
  }
  // An older kernel's CTAs beside a younger kernel's on the same SMs: one CTA per SM of a dependent FMA
  // chain (each warp can issue only when its last FMA is done, every few cycles), then, on the
  // other stream, many waves of short CTAs of 4 chains (seven per SM beside it). Alone and together: each
  // kernel's median CTA duration. Oldest first, the chain CTA keeps its time alone and the short CTAs get
  // what is left; with equal shares both slow.
  {
    float* out;
    const unsigned a_ctas = sms, b_ctas = 7 * sms * 10;
    CK(cudaMalloc(&out, size_t(b_ctas) * 256 * sizeof(float)));
    auto median_us = [&](const std::vector<uint64_t>& rec, unsigned n) {
      std::vector<double> d;
      for (unsigned i = 0; i < n; ++i) d.push_back(double(rec[3 * i + 2] - rec[3 * i + 1]) / 1e3);
      return median(d);
    };
    for (int mode = 0; mode < 3; ++mode)  // A alone, B alone, A then B
      for (int r = 0; r <= reps; ++r) {
        if (mode != 1) fma_rec<1><<<a_ctas, 256, 0, plain_a>>>(out, 1u << 17, ra);
        if (mode != 0) fma_rec<4><<<b_ctas, 256, 0, plain_b>>>(out, 1u << 9, rb);
        CK(cudaGetLastError());
        CK(cudaDeviceSynchronize());
        if (r == 0) continue;
        CK(cudaMemcpy(ha.data(), ra, a_ctas * 3 * sizeof(uint64_t), cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(hb.data(), rb, b_ctas * 3 * sizeof(uint64_t), cudaMemcpyDeviceToHost));
        uint64_t b_first = UINT64_MAX, b_end = 0;
        for (unsigned i = 0; i < b_ctas; ++i) {
          b_first = std::min(b_first, hb[3 * i + 1]);
          b_end = std::max(b_end, hb[3 * i + 2]);
        }
        std::printf(
            "{\"program\": \"dispatch_probe\", \"gpu\": \"%s\", \"sms\": %u, \"case\": \"older_kernel\", "
            "\"mode\": \"%s\", \"rep\": %d, \"a_cta_us\": %.1f, \"b_cta_us\": %.2f, \"b_span_us\": %.1f}\n",
            prop.name, sms,
            mode == 0   ? "chain_alone"
            : mode == 1 ? "short_alone"
                        : "chain_then_short",
            r, mode != 1 ? median_us(ha, a_ctas) : 0.0, mode != 0 ? median_us(hb, b_ctas) : 0.0,
            mode != 0 ? double(b_end - b_first) / 1e3 : 0.0);
      }
    CK(cudaFree(out));
  }
  for (int g = 0; g < 2; ++g)
    for (const Case& c : cases) {
      cudaStream_t sa = g ? green.stream(0) : plain_a, sb = g ? green.stream(1) : plain_b;
      for (int r = 0; r <= reps; ++r) {  // the first is a warm-up
        spin<<<c.a.ctas, c.a.threads, c.a.smem, sa>>>(c.a.ns, ra);
        if (c.gap_us) usleep(c.gap_us);
        spin<<<c.b.ctas, c.b.threads, c.b.smem, sb>>>(c.b.ns, rb);
        CK(cudaGetLastError());
        CK(cudaDeviceSynchronize());
        if (r == 0) continue;
        CK(cudaMemcpy(ha.data(), ra, c.a.ctas * 3 * sizeof(uint64_t), cudaMemcpyDeviceToHost));
        CK(cudaMemcpy(hb.data(), rb, c.b.ctas * 3 * sizeof(uint64_t), cudaMemcpyDeviceToHost));
        struct Start {
          uint64_t t;
          int grid;
        };
        std::vector<Start> starts;
        uint64_t a_first = UINT64_MAX, a_last = 0, a_end = 0, b_first = UINT64_MAX, b_last = 0, b_end = 0;
        for (unsigned i = 0; i < c.a.ctas; ++i) {
          a_first = std::min(a_first, ha[3 * i + 1]);
          a_last = std::max(a_last, ha[3 * i + 1]);
          a_end = std::max(a_end, ha[3 * i + 2]);
          starts.push_back({ha[3 * i + 1], 0});
        }
        for (unsigned i = 0; i < c.b.ctas; ++i) {
          b_first = std::min(b_first, hb[3 * i + 1]);
          b_last = std::max(b_last, hb[3 * i + 1]);
          b_end = std::max(b_end, hb[3 * i + 2]);
          starts.push_back({hb[3 * i + 1], 1});
        }
        unsigned b_before = 0;
        for (unsigned i = 0; i < c.b.ctas; ++i) b_before += hb[3 * i + 1] < a_last;
        // In the window where both grids still had CTAs to start, B's share of the starts.
        const uint64_t lo = std::max(a_first, b_first), hi = std::min(a_last, b_last);
        unsigned in_a = 0, in_b = 0;
        for (const Start& s : starts)
          if (s.t >= lo && s.t <= hi) (s.grid ? in_b : in_a) += 1;
        auto us = [&](uint64_t t) { return (double(t) - double(a_first)) / 1e3; };
        std::printf(
            "{\"program\": \"dispatch_probe\", \"gpu\": \"%s\", \"sms\": %u, \"streams\": \"%s\", \"case\": "
            "\"%s\", \"rep\": %d, "
            "\"a\": {\"ctas\": %u, \"threads\": %u, \"spin_us\": %.1f, \"smem\": %zu, \"first_start_us\": "
            "%.1f, "
            "\"last_start_us\": %.1f, \"last_end_us\": %.1f}, "
            "\"b\": {\"ctas\": %u, \"threads\": %u, \"spin_us\": %.1f, \"smem\": %zu, \"first_start_us\": "
            "%.1f, "
            "\"last_start_us\": %.1f, \"last_end_us\": %.1f}, \"gap_us\": %u, \"b_started_before_a_last\": "
            "%u, "
            "\"window_starts_a\": %u, \"window_starts_b\": %u}\n",
            prop.name, sms, g ? "green" : "plain", c.name, r, c.a.ctas, c.a.threads, double(c.a.ns) / 1e3,
            c.a.smem, us(a_first), us(a_last), us(a_end), c.b.ctas, c.b.threads, double(c.b.ns) / 1e3,
            c.b.smem, us(b_first), us(b_last), us(b_end), c.gap_us, b_before, in_a, in_b);
        std::fflush(stdout);
      }
    }
  return 0;
}
