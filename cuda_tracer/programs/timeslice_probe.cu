// How does the GPU share itself between two processes (two CUDA contexts, no MPS)? The simulator needs
// the time slice and the cost of a switch to replay traces of several processes
// (torch_2proc_resnet18_b1_mobilenet_v2_b1: each process's kernels run in turns of about 2 ms).
// The program forks two processes before any CUDA call; each initialises CUDA, both start together
// (through pipes) and run the same cases, timing themselves with %globaltimer (one clock for both):
//   long:   one kernel, one 32-thread CTA per SM, spinning for --ms; CTA 0's thread 0 notes every moment
//           its clock jumps by more than 10 us (the context was switched out): its running intervals.
//   stream: 50 us kernels (one CTA per SM) launched back to back on one stream for --ms; each kernel's
//           start and end.
//   sync:   the same kernels with a cudaStreamSynchronize after each, as a framework that waits for
//           its results.
// No managed memory, a few KiB of device memory. One JSON line per process, case and repetition on
// stdout (absolute %globaltimer ns; scripts/timeslice.py reads them):   timeslice_probe [--ms 40] [--reps 3]
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common.h"

namespace {

constexpr uint64_t kGapNs = 10000;
constexpr int kMaxIntervals = 8192;

// Spins for `ns`; CTA 0's thread 0 records [begin, end) of each stretch it ran without a jump over kGapNs.
__global__ void spin_watch(uint64_t ns, uint64_t* iv, int* n) {
  const uint64_t t0 = globaltimer();
  if (blockIdx.x != 0 || threadIdx.x != 0) {
    while (globaltimer() - t0 < ns) {
    }
    return;
  }
  uint64_t begin = t0, prev = t0;
  int k = 0;
  for (;;) {
    const uint64_t t = globaltimer();
    if (t - prev > kGapNs && k < kMaxIntervals) {
      iv[2 * k] = begin;
      iv[2 * k + 1] = prev;
      ++k;
      begin = t;
    }
    prev = t;
    if (t - t0 >= ns) break;
  }
  if (k < kMaxIntervals) {
    iv[2 * k] = begin;
    iv[2 * k + 1] = prev;
    ++k;
  }
  *n = k;
}

// Spins for `ns`; CTA 0's thread 0 records the kernel's start and end in slot i.
__global__ void spin_mark(uint64_t ns, uint64_t* marks, int i) {
  const uint64_t t0 = globaltimer();
  while (globaltimer() - t0 < ns) {
  }
  if (blockIdx.x == 0 && threadIdx.x == 0) {
    marks[2 * i] = t0;
    marks[2 * i + 1] = globaltimer();
  }
}

std::string intervals_json(const std::vector<uint64_t>& v, size_t n) {
  std::string s = "[";
  for (size_t i = 0; i < n; ++i) {
    if (v[2 * i] == 0) continue;  // a kernel that never wrote (should not happen)
    if (s.size() > 1) s += ", ";
    s += "[" + std::to_string(v[2 * i]) + ", " + std::to_string(v[2 * i + 1]) + "]";
  }
  return s + "]";
}

// One process's part: waits for the go, runs every case, writes its JSON lines to `out`.
int child(int role, int ready_fd, int go_fd, int out_fd, double ms, int reps) {
  int sms = 0;
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
  uint64_t* d_iv = nullptr;
  int* d_n = nullptr;
  const int max_marks = 4096;
  CK(cudaMalloc(&d_iv, sizeof(uint64_t) * 2 * std::max(kMaxIntervals, max_marks)));
  CK(cudaMalloc(&d_n, sizeof(int)));
  spin_mark<<<1, 32>>>(1000, d_iv, 0);  // warm-up: context and module
  CK(cudaDeviceSynchronize());
  char c = 'r';
  if (write(ready_fd, &c, 1) != 1 || read(go_fd, &c, 1) != 1) return 1;
  const uint64_t span = uint64_t(ms * 1e6), kernel_ns = 50000;
  std::string out;
  char head[160];
  for (int r = 0; r < reps; ++r) {
    for (const char* name : {"long", "stream", "sync"}) {
      std::vector<uint64_t> h(2 * std::max(kMaxIntervals, max_marks));
      size_t n = 0;
      CK(cudaMemset(d_iv, 0, h.size() * sizeof(uint64_t)));
      CK(cudaDeviceSynchronize());
      if (!std::strcmp(name, "long")) {
        spin_watch<<<sms, 32>>>(span, d_iv, d_n);
        CK(cudaGetLastError());
        CK(cudaDeviceSynchronize());
        int k = 0;
        CK(cudaMemcpy(&k, d_n, sizeof(int), cudaMemcpyDeviceToHost));
        n = size_t(k);
      } else {
        n = std::min<size_t>(max_marks, span / kernel_ns);
        for (size_t i = 0; i < n; ++i) {
          spin_mark<<<sms, 32>>>(kernel_ns, d_iv, int(i));
          if (!std::strcmp(name, "sync")) CK(cudaDeviceSynchronize());
        }
        CK(cudaGetLastError());
        CK(cudaDeviceSynchronize());
      }
      CK(cudaMemcpy(h.data(), d_iv, h.size() * sizeof(uint64_t), cudaMemcpyDeviceToHost));
      std::snprintf(head, sizeof head, "{\"case\": \"%s\", \"rep\": %d, \"process\": %d, \"sms\": %d, \"intervals\": ",
                    name, r, role, sms);
      out += head + intervals_json(h, n) + "}\n";
      // Both processes start each case together again.
      if (write(ready_fd, &c, 1) != 1 || read(go_fd, &c, 1) != 1) return 1;
    }
  }
  size_t done = 0;
  while (done < out.size()) {
    ssize_t w = write(out_fd, out.data() + done, out.size() - done);
    if (w <= 0) return 1;
    done += size_t(w);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  double ms = 40;
  int reps = 3;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--ms") && i + 1 < argc) {
      ms = std::atof(argv[++i]);
    } else if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: timeslice_probe [--ms MS] [--reps N]\n");
      return 2;
    }
  }
  if (reps < 1 || !(ms >= 1 && ms <= 1000)) {
    std::fprintf(stderr, "timeslice_probe: --reps must be at least 1 and --ms within 1 to 1000\n");
    return 2;
  }
  // Fork before any CUDA call: a child of an initialised CUDA process cannot use CUDA.
  int ready[2][2], go[2][2], out[2][2];
  pid_t pid[2];
  for (int p = 0; p < 2; ++p) {
    if (pipe(ready[p]) || pipe(go[p]) || pipe(out[p])) return 1;
    pid[p] = fork();
    if (pid[p] < 0) return 1;
    if (pid[p] == 0) {
      close(ready[p][0]);
      close(go[p][1]);
      close(out[p][0]);
      _exit(child(p, ready[p][1], go[p][0], out[p][1], ms, reps));
    }
    close(ready[p][1]);
    close(go[p][0]);
    close(out[p][1]);
  }
  // A barrier before the first case and after each: both processes ready, then both go.
  for (int round = 0; round <= 3 * reps; ++round) {
    char c;
    for (int p = 0; p < 2; ++p)
      if (read(ready[p][0], &c, 1) != 1) {
        std::fprintf(stderr, "timeslice_probe: process %d failed\n", p);
        return 1;
      }
    for (int p = 0; p < 2; ++p)
      if (write(go[p][1], "g", 1) != 1) return 1;
  }
  int status = 0;
  for (int p = 0; p < 2; ++p) {
    std::string text;
    char buf[65536];
    ssize_t r;
    while ((r = read(out[p][0], buf, sizeof buf)) > 0) text.append(buf, size_t(r));
    int st = 0;
    waitpid(pid[p], &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) status = 1;
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  return status;
}
