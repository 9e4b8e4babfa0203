// libFuzzer target for the simulator itself: a mutated trace body that the reader accepts is simulated under
// the default config with GPU memory at 100%, 50%, 75% or 30% of the footprint, under ASan and UBSan (seeds:
// tests/fuzz/sim_corpus, bodies of small micro-workloads). It must end with a result or one of the
// simulator's errors (a SimError, a ConfigError, a time beyond 2^62 ns, a workload too large): never crash,
// overflow, hang or allocate without bound. The step cap: traces with more than 4096 CTAs, 16384 ranges or
// 256 MiB of allocations (or of dense pages) are skipped, and runs stop after 2 million events (engine.max_events) or 20,000 without
// progress.
#include <cstddef>
#include <cstdint>
#include <stdexcept>

#include "sim/cli/run.h"
#include "traces/trace_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace uvmsim;
  trace::Trace t;
  try {
    t = trace::decode_body(data, size, "fuzz");
  } catch (const trace::TraceError&) {
    return 0;
  }
  if (t.ctas.size() > 4096 || t.ranges.size() > 16384) return 0;
  uint64_t bytes = 0;
  for (const auto& a : t.allocations) bytes += a.bytes;
  constexpr uint64_t kMaxBytes = uint64_t{256} << 20;
  if (bytes > kMaxBytes) return 0;
  try {
    const Workload w = Workload::build(std::move(t), "fuzz");
    if (w.pages > kMaxBytes / trace::kPageBytes) return 0;
    Config c;  // the input's size picks a memory size, so that eviction and thrashing are fuzzed too
    static const double kFractions[] = {0, 0.5, 0.75, 0.3};
    c.gpu.memory_fraction = kFractions[size % 4];
    c.engine.max_events = 2000000;
    c.engine.max_events_without_progress = 20000;
    simulate(w, c, true);
  } catch (const std::runtime_error&) {
    // The simulator's errors (SimError, ConfigError, a time beyond 2^62 ns) and the workload's own checks
    // (pages outside every allocation, too large) all derive from it; anything else is a finding.
  }
  return 0;
}
