// Helpers for tests: small hand-built traces and one-call simulation.
#pragma once

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sim/cli/run.h"
#include "sim/config/config.h"
#include "traces/trace.h"
#include "workloads/micro.h"

namespace uvmsim::testing {

constexpr uint64_t kVa = 0x7f0000000000ull;  // 2 MiB aligned
constexpr uint64_t kVaPage = kVa >> trace::kPageShift;

// One tenant, one managed allocation of `bytes` at kVa; no ops.
inline trace::Trace base_trace(uint64_t bytes) {
  trace::Trace t;
  t.header.device_name = "test GPU";
  t.header.sm_count = 132;
  t.header.device_memory_bytes = uint64_t{80} << 30;
  t.tenants.push_back({"t#0", "t", 1, 0});
  t.allocations.push_back({0, trace::AllocKind::kManaged, trace::AllocRole::kInput, kVa, bytes, 0, -1, "data"});
  return t;
}

// Appends a kernel whose CTA i touches the pages (relative to kVa) in cta_pages[i], one range each run.
inline void add_kernel(trace::Trace& t, const std::vector<std::vector<uint64_t>>& cta_pages,
                       trace::AccessKind kind = trace::AccessKind::kRead, uint64_t resident_ns = 10000,
                       uint32_t threads = 256) {
  trace::Kernel k;
  k.name = "k";
  k.name += std::to_string(t.kernels.size());  // not operator+: GCC 12 -Wrestrict false positive
  k.grid = {uint32_t(cta_pages.size()), 1, 1};
  k.block = {threads, 1, 1};
  k.resident_ns = resident_ns;
  k.cta_begin = t.ctas.size();
  k.cta_count = cta_pages.size();
  for (auto& pages : cta_pages) {
    trace::Cta c{t.ranges.size(), 0};
    for (uint64_t p : pages) {
      if (c.range_count && t.ranges.back().page + t.ranges.back().count == kVaPage + p) {
        ++t.ranges.back().count;
        continue;
      }
      t.ranges.push_back({kVaPage + p, 1, kind, 0, 0});
      ++c.range_count;
    }
    t.ctas.push_back(c);
  }
  trace::Op o;
  o.kind = trace::OpKind::kKernel;
  o.a = t.kernels.size();
  t.kernels.push_back(k);
  t.ops.push_back(o);
}

inline void add_op(trace::Trace& t, trace::OpKind kind, uint64_t first_page, uint64_t pages,
                   trace::AccessKind access = trace::AccessKind::kWrite, int32_t device = 0) {
  trace::Op o;
  o.kind = kind;
  o.access = access;
  o.device = device;
  o.a = kVa + first_page * trace::kPageBytes;
  o.b = pages * trace::kPageBytes;
  t.ops.push_back(o);
}

inline void add_sync(trace::Trace& t) {
  trace::Op o;
  o.kind = trace::OpKind::kSync;
  t.ops.push_back(o);
}

// Every kernel of the run started and ended (a kernel never launched keeps start_ns -1): the number of
// kernel records alone says nothing, the statistics are sized from the trace.
inline bool all_kernels_ran(const Stats& s) {
  for (const KernelRecord& k : s.kernels)
    if (k.start_ns < 0 || k.end_ns < k.start_ns) return false;
  return !s.kernels.empty();
}

inline Stats run(const trace::Trace& t, const Config& c = Config{}) {
  Workload w = Workload::build(t, "test");
  return simulate(w, c, true).stats;
}

// run(), keeping every batch the driver model serviced in `records`.
inline Stats run(const trace::Trace& t, const Config& c, std::vector<BatchRecord>* records) {
  Workload w = Workload::build(t, "test");
  return simulate(w, c, true, nullptr, nullptr, records).stats;
}

inline Workload micro(bool random, uint64_t bytes, bool host_init = true, bool touch_back = false,
                      bool prefetch = false, bool write = false) {
  MicroSpec s;
  s.pattern = random ? MicroPattern::kRandom : MicroPattern::kSeq;
  s.bytes = bytes;
  s.host_init = host_init;
  s.touch_back = touch_back;
  s.prefetch = prefetch;
  s.write = write;
  return Workload::build(generate_micro(s), "micro");
}

inline std::string source_dir() { return UVMSIM_SOURCE_DIR; }

// The uvmsim command as a user runs it: its exit status and its output (stdout and stderr together).
struct Result {
  int status;
  std::string output;
};
inline Result sh(const std::string& args) {
  const std::string cmd = std::string(UVMSIM_BINARY) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
  const int st = pclose(p);
  return {WEXITSTATUS(st), out};
}

inline std::string slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

}  // namespace uvmsim::testing
