// Speed targets live here, never in timed tests. Reports events per second of the engine, and simulated
// page accesses and faults per second of whole runs of the 1 GiB random micro-workload at 100% and 50% of
// its footprint (faults, prefetches and evictions all busy), and at 50% with the issue slots oldest first
// (gpu.issue_by_age: a clock per CTA, the cost of sim/configs/h200.json's choice). Target: >= 5 M page
// accesses and >= 1 M faults simulated per second on one core. Counters: page_accesses (completed),
// accesses_issued (re-issues after replays included), faults (raised by the GPU into the buffer, flushed ones
// included) and faults_serviced (fetched by the driver). BM_GenerateMix: `uvmsim generate` of the four-model
// mix (alexnet, vgg16, resnet50, mobilenet_v2) at batch 1 and 8, CTAs and ranges generated per second on all
// cores.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "sim/cli/run.h"
#include "sim/cli/sweep.h"
#include "sim/engine/event_queue.h"
#include "workloads/generate.h"
#include "workloads/micro.h"

namespace uvmsim {
namespace {

void BM_EventQueue(benchmark::State& st) {
  EventQueue q;
  uint64_t x = 1;
  for (int i = 0; i < 4096; ++i) q.push(int64_t(i), 0, 0, 0);
  for (auto _ : st) {
    Event e = q.pop();
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    q.push(e.time + int64_t(x >> 54), uint8_t(x & 3), 0, 0);
  }
  st.SetItemsProcessed(st.iterations());
  st.counters["events/s"] = benchmark::Counter(double(st.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EventQueue);

const Workload& random_1gib() {
  static const Workload w = [] {
    MicroSpec s;
    s.pattern = MicroPattern::kRandom;
    s.bytes = uint64_t{1} << 30;
    s.host_init = true;
    return Workload::build(generate_micro(s), "bench");
  }();
  return w;
}

void BM_Random1GiB(benchmark::State& st) {
  const Workload& w = random_1gib();
  Config c;
  c.gpu.memory_fraction = double(st.range(0)) / 100.0;
  c.gpu.issue_by_age = st.range(1);
  uint64_t accesses = 0, issued = 0, faults = 0, fetched = 0, events = 0;
  for (auto _ : st) {
    RunResult r = simulate(w, c, false);
    accesses += r.stats.page_accesses;
    issued += r.stats.accesses_issued;
    faults += r.stats.faults_raised;
    fetched += r.stats.faults_fetched;
    events += r.stats.events;
    benchmark::DoNotOptimize(r.stats.sim_time_ns);
  }
  st.counters["page_accesses/s"] = benchmark::Counter(double(accesses), benchmark::Counter::kIsRate);
  st.counters["accesses_issued/s"] = benchmark::Counter(double(issued), benchmark::Counter::kIsRate);
  st.counters["faults/s"] = benchmark::Counter(double(faults), benchmark::Counter::kIsRate);
  st.counters["faults_serviced/s"] = benchmark::Counter(double(fetched), benchmark::Counter::kIsRate);
  st.counters["events/s"] = benchmark::Counter(double(events), benchmark::Counter::kIsRate);
  st.counters["faults/run"] = double(faults) / double(st.iterations());
}
BENCHMARK(BM_Random1GiB)->Args({100, 0})->Args({50, 0})->Args({50, 1})->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace uvmsim

// Trace generation for a model mix (the generator's exact per-CTA accesses, validation and compression
// included in write_trace are not): CTAs and ranges generated per second, all cores.
void BM_GenerateMix(benchmark::State& st) {
  uvmsim::GenerateOptions o;
  o.models = uvmsim::parse_model_list("alexnet:" + std::to_string(st.range(0)) + ",vgg16:" + std::to_string(st.range(0)) +
                                      ",resnet50:" + std::to_string(st.range(0)) + ",mobilenet_v2:" + std::to_string(st.range(0)));
  uint64_t ctas = 0, ranges = 0;
  for (auto _ : st) {
    uvmsim::trace::Trace t = uvmsim::generate_models(o);
    ctas += t.ctas.size();
    ranges += t.ranges.size();
    benchmark::DoNotOptimize(t.ranges.data());
  }
  st.counters["CTAs/s"] = benchmark::Counter(double(ctas), benchmark::Counter::kIsRate);
  st.counters["ranges/s"] = benchmark::Counter(double(ranges), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_GenerateMix)->Arg(1)->Arg(8)->Unit(benchmark::kMillisecond)->Iterations(1);

// The named 200-point sweep (tests/bench/sweep200.json: the corpus's 64 MiB sequential trace over 10 memory
// fractions, 2 eviction and 2 prefetch policies and 5 seeds) on 1 and 2 threads, from an empty folder each
// time: points per second, and with 2 threads the speed-up over the last 1-thread run (target: at least 1.7
// on 2 cores; not meaningful on a machine whose cores are busy).
double g_one_job_s = 0;
void BM_Sweep200(benchmark::State& st) {
  namespace fs = std::filesystem;
  const std::string src = UVMSIM_SOURCE_DIR;
  nlohmann::json spec = nlohmann::json::parse(std::ifstream(src + "/tests/bench/sweep200.json"));
  spec["trace"] = src + "/" + spec["trace"].get<std::string>();
  spec["config"] = src + "/" + spec["config"].get<std::string>();
  const fs::path dir = fs::temp_directory_path() / ("uvmsim_bench_sweep_" + std::to_string(st.range(0)));
  fs::create_directories(dir);
  std::ofstream(dir / "spec.json") << spec.dump();
  double seconds = 0;
  for (auto _ : st) {
    fs::remove_all(dir / "out");
    const auto t0 = std::chrono::steady_clock::now();
    uvmsim::SweepArgs a{(dir / "spec.json").string(), (dir / "out").string(), unsigned(st.range(0)), true};
    if (uvmsim::run_sweep(a) != 0) st.SkipWithError("a point failed");
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  st.counters["points/s"] = 200 / seconds;
  if (st.range(0) == 1) g_one_job_s = seconds;
  if (st.range(0) == 2 && g_one_job_s > 0) st.counters["speedup"] = g_one_job_s / seconds;
  fs::remove_all(dir);
}
BENCHMARK(BM_Sweep200)->Arg(1)->Arg(2)->Unit(benchmark::kSecond)->Iterations(1)->UseRealTime();

BENCHMARK_MAIN();
