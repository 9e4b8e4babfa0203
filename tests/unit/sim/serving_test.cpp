// Serving (sim/serving/, `uvmsim serve`): the spec's checks, the arrival processes, batches as the policies
// form them, per-request accounting, determinism, and runs that cannot finish.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <set>

#include "policies/policy.h"
#include "sim/cli/serve.h"
#include "sim/serving/arrivals.h"
#include "sim/serving/spec.h"
#include "test_util.h"
#include "traces/trace_io.h"
#include "workloads/model.h"

namespace uvmsim {
namespace {

// A model small enough that a serving run takes a fraction of a second: conv, ReLU, pool, linear, softmax.
// Written per test: ctest runs the tests in parallel processes, which must not rewrite a file another reads.
std::string tiny_model() {
  const std::string path = ::testing::TempDir() + "/serving_tiny_" +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name() + ".json";
  std::ofstream(path) << R"({"name": "tiny", "input": [3, 32, 32], "dtype": "fp32", "layers": [
 {"name": "conv0", "op": "conv", "out": 32, "kernel": 3, "stride": 1, "padding": 1, "bias": true},
 {"name": "relu0", "op": "relu"},
 {"name": "pool0", "op": "maxpool", "kernel": 2, "stride": 2, "padding": 0},
 {"name": "fc0", "op": "linear", "out": 256, "bias": true},
 {"name": "softmax", "op": "softmax"}]})";
  return path;
}

std::string error_of(const std::string& spec) {
  try {
    parse_serve_spec(spec, "s.json");
  } catch (const SpecError& e) {
    return e.what();
  }
  return "";
}

const std::string kTenant =
    R"({"model": "resnet18", "batch_sizes": [1, 2], "arrivals": {"process": "poisson", "rate_per_s": 10}})";

TEST(ServeSpec, ReadsEveryKey) {
  const ServeSpec s = parse_serve_spec(R"({"seed": 9, "requests": 30, "warmup_requests": 3, "warmup_ms": 1.5,
    "slowdown": false, "tenants": [
      {"name": "a", "model": "resnet18", "batch_sizes": [1, 4], "slo_ms": 20, "process": "own",
       "arrivals": {"process": "gamma", "rate_per_s": 50, "cv": 3},
       "batching": {"name": "fixed", "params": {"batch_size": 4, "timeout_ns": 1000}}},
      {"model": "vgg16", "batch_sizes": [2], "arrivals": {"process": "closed", "in_flight": 3, "think_ms": 2}}]})",
                                       "s.json");
  EXPECT_EQ(s.seed, 9u);
  EXPECT_EQ(s.requests, 30u);
  EXPECT_EQ(s.warmup_requests, 3u);
  EXPECT_EQ(s.warmup_ns, 1500000);
  EXPECT_FALSE(s.slowdown);
  ASSERT_EQ(s.tenants.size(), 2u);
  EXPECT_EQ(s.tenants[0].name, "a");
  EXPECT_TRUE(s.tenants[0].own_process);
  EXPECT_EQ(s.tenants[0].arrivals.kind, ArrivalKind::kGamma);
  EXPECT_EQ(s.tenants[0].arrivals.cv, 3);
  EXPECT_EQ(s.tenants[0].batching, "fixed");
  EXPECT_EQ(s.tenants[0].batching_params.at("batch_size"), 4);
  EXPECT_EQ(s.tenants[1].name, "vgg16#1");
  EXPECT_FALSE(s.tenants[1].own_process);
  EXPECT_EQ(s.tenants[1].arrivals.in_flight, 3u);
  EXPECT_EQ(s.tenants[1].arrivals.think_ns, 2000000);
}

TEST(ServeSpec, EachErrorNamesItsKey) {
  const std::map<std::string, std::string> cases = {
      {R"({"requests": 5, "tenants": [)" + kTenant + R"(], "sed": 1})", "s.json: sed: unknown key"},
      {R"({"requests": 5, "tenants": [{"model": "resnet18", "batch_sizes": [1],
          "arrivals": {"process": "poisson", "rate_per_s": -3}}]})",
       "tenants[0].arrivals.rate_per_s: -3 is outside"},
      {R"({"requests": 5, "tenants": [{"model": "resnet18", "batch_sizes": [1],
          "arrivals": {"process": "poisson", "rate_per_s": 0}}]})",
       "tenants[0].arrivals.rate_per_s: must be above 0"},
      {R"({"tenants": [{"model": "resnet18", "batch_sizes": [1], "arrivals": {"process": "closed", "in_flight": 2}}]})",
       "requests: missing: give requests"},
      {R"({"requests": 5, "tenants": [{"model": "resnet18", "batch_sizes": [4, 2],
          "arrivals": {"process": "closed", "in_flight": 2}}]})",
       "tenants[0].batch_sizes: must be ascending and distinct"},
      {R"({"requests": 5, "tenants": [{"model": "resnet18", "batch_sizes": [0],
          "arrivals": {"process": "closed", "in_flight": 2}}]})",
       "tenants[0].batch_sizes: 0 is not a batch size"},
      {R"({"requests": 5, "tenants": [{"model": "resnet18", "batch_sizes": [1],
          "arrivals": {"process": "uniform"}}]})",
       "tenants[0].arrivals.process: \"uniform\" is not one of closed, poisson, gamma, trace"},
      {R"({"requests": 5, "duration_ms": 3, "tenants": [)" + kTenant + "]}",
       "duration_ms: give either requests or duration_ms"},
      {R"({"requests": 5, "tenants": [)" + kTenant + "," + kTenant + "]}", ""},
      {R"({"requests": 5, "tenants": [{"name": "x", "model": "a", "batch_sizes": [1],
          "arrivals": {"process": "closed", "in_flight": 1}}, {"name": "x", "model": "b", "batch_sizes": [1],
          "arrivals": {"process": "closed", "in_flight": 1}}]})",
       "tenants[1].name: \"x\" names two tenants"},
      {R"({"requests": 5, "tenants": [{"model": "resnet18", "batch_sizes": [1], "process": "mine",
          "arrivals": {"process": "closed", "in_flight": 1}}]})",
       "tenants[0].process: \"mine\" is not one of shared, own"},
      {R"({"requests": 5, "tenants": [{"name": "a,b", "model": "resnet18", "batch_sizes": [1],
          "arrivals": {"process": "closed", "in_flight": 1}}]})",
       "tenants[0].name: \"a,b\" holds a comma"},
      {"[1, 2]", "s.json: the spec: must be a JSON object"},
      {"{", "s.json: not valid JSON"},
  };
  for (const auto& [spec, want] : cases) {
    const std::string e = error_of(spec);
    if (want.empty())
      EXPECT_EQ(e, "") << spec;
    else
      EXPECT_NE(e.find(want), std::string::npos) << spec << "\n got: " << e;
  }
}

TEST(ServeSpec, UnknownModelAndPolicyAndBatchBeyondTheGeneratorFail) {
  Config c;
  auto fails_with = [&](const std::string& spec, const std::string& want) {
    try {
      serve(parse_serve_spec(spec, "s.json"), c);
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
      return;
    }
    ADD_FAILURE() << "no error for " << spec;
  };
  const std::string model = tiny_model();
  fails_with(R"({"requests": 2, "tenants": [{"model": "resnet9", "batch_sizes": [1],
      "arrivals": {"process": "closed", "in_flight": 1}}]})",
             "resnet9");
  fails_with(R"({"requests": 2, "tenants": [{"model": ")" + model + R"(", "batch_sizes": [1],
      "arrivals": {"process": "closed", "in_flight": 1}, "batching": {"name": "greedy"}}]})",
             "tenants[0].batching: config key 'policies.batching.name': unknown policy 'greedy'");
  fails_with(R"({"requests": 2, "tenants": [{"model": ")" + model + R"(", "batch_sizes": [1, 1000],
      "arrivals": {"process": "closed", "in_flight": 1}}]})",
             "batch size 1000 outside 1..128");
}

TEST(Arrivals, PoissonAndGammaHaveTheirRateAndVariation) {
  for (double cv : {1.0, 0.5, 3.0}) {
    ArrivalSpec a;
    a.kind = cv == 1.0 ? ArrivalKind::kPoisson : ArrivalKind::kGamma;
    a.rate_per_s = 1000;
    a.cv = cv;
    Arrivals arr(a, 42, 0);
    const int n = 40000;
    std::vector<double> gaps;
    for (int i = 0; i < n; ++i) gaps.push_back(double(arr.next_gap()));
    const double mean = std::accumulate(gaps.begin(), gaps.end(), 0.0) / n;
    double var = 0;
    for (double g : gaps) var += (g - mean) * (g - mean);
    const double sd = std::sqrt(var / n);
    EXPECT_NEAR(mean, 1e6, 0.03e6) << "cv " << cv;
    EXPECT_NEAR(sd / mean, cv, 0.06 * cv) << "cv " << cv;
  }
}

TEST(Arrivals, ATenantsDrawsDependOnTheSeedAndItsIndexOnly) {
  ArrivalSpec a;
  a.rate_per_s = 100;
  Arrivals x(a, 7, 1), y(a, 7, 1), z(a, 7, 2), w(a, 8, 1);
  const int64_t gx = x.next_gap();
  EXPECT_EQ(gx, y.next_gap());
  EXPECT_NE(gx, z.next_gap());
  EXPECT_NE(gx, w.next_gap());
}

TEST(Arrivals, ATracesTimesGiveTheGapsAndThenEnd) {
  ArrivalSpec a;
  a.kind = ArrivalKind::kTrace;
  Arrivals arr(a, 1, 0, {5000, 1000, 2500});
  EXPECT_EQ(arr.next_gap(), 0);
  EXPECT_EQ(arr.next_gap(), 1500);
  EXPECT_EQ(arr.next_gap(), 2500);
  EXPECT_EQ(arr.next_gap(), -1);
}

TEST(Serving, SummaryPercentilesAreNearestRank) {
  std::vector<int64_t> ns;
  for (int i = 100; i >= 1; --i) ns.push_back(int64_t(i) * 1000000);
  const LatencySummary s = summarise(ns);
  EXPECT_EQ(s.count, 100u);
  EXPECT_DOUBLE_EQ(s.p50, 50);
  EXPECT_DOUBLE_EQ(s.p90, 90);
  EXPECT_DOUBLE_EQ(s.p99, 99);
  EXPECT_DOUBLE_EQ(s.max, 100);
  EXPECT_DOUBLE_EQ(s.mean, 50.5);
  EXPECT_DOUBLE_EQ(summarise({7000000}).p99, 7);
}

std::string closed_spec(const std::string& model, const std::string& batching, const std::string& sizes,
                        uint32_t in_flight, uint32_t requests, uint32_t warmup) {
  return R"({"seed": 3, "requests": )" + std::to_string(requests) + R"(, "warmup_requests": )" +
         std::to_string(warmup) + R"(, "tenants": [{"name": "t", "model": ")" + model +
         R"(", "batch_sizes": )" + sizes + R"(, "slo_ms": 1000, "arrivals": {"process": "closed", "in_flight": )" +
         std::to_string(in_flight) + R"(}, "batching": )" + batching + "}]}";
}

// A closed loop of 4 in flight with a fixed batch of 4 (that waits to fill): every batch holds the 4
// requests that completed
// together, each request's latency is its queueing plus its batch's execution, and only the counted ones
// (after the warm-up) enter the summary.
TEST(Serving, AClosedLoopWithAFixedBatchRunsFullBatches) {
  const ServeSpec spec = parse_serve_spec(
      closed_spec(tiny_model(), R"({"name": "fixed", "params": {"batch_size": 4, "timeout_ns": 1e12}})", "[1, 2, 4]", 4, 20, 4),
      "s.json");
  const ServeResult r = serve(spec, Config{});
  ASSERT_EQ(r.requests.size(), 24u);
  std::map<uint64_t, int> per_batch;
  for (const RequestRecord& q : r.requests) {
    EXPECT_EQ(q.batch_size, 4u);
    EXPECT_GE(q.start_ns, q.arrival_ns);
    EXPECT_GT(q.end_ns, q.start_ns);
    EXPECT_EQ(q.counted, q.id >= 4);
    ++per_batch[q.batch];
  }
  EXPECT_EQ(per_batch.size(), 6u);
  for (auto [b, n] : per_batch) EXPECT_EQ(n, 4) << "batch " << b;
  ASSERT_EQ(r.tenants.size(), 1u);
  const TenantServing& t = r.tenants[0];
  EXPECT_EQ(t.requests, 20u);
  EXPECT_EQ(t.batches, 5u);
  EXPECT_DOUBLE_EQ(t.mean_batch_size, 4);
  EXPECT_NEAR(t.latency.mean, t.queueing.mean + t.execution.mean, 1e-9);
  EXPECT_EQ(t.slo_attainment, 1.0);
  EXPECT_GT(t.throughput_per_s, 0);
  EXPECT_DOUBLE_EQ(t.goodput_per_s, t.throughput_per_s);
  // The first batch fetches the weights and zero-fills its activations; later ones find them resident.
  EXPECT_GT(r.requests[0].faults, 0u);
  EXPECT_GT(r.requests[0].paging_ns, 0);
  EXPECT_EQ(r.requests.back().faults, 0u);
  EXPECT_EQ(r.requests.back().paging_ns, 0);
}

// A cold tenant's weights go back to the CPU before each batch: every batch faults and moves them in again,
// while the same tenant warm faults only in its first batch.
TEST(Serving, AColdTenantFaultsItsWeightsInEveryBatch) {
  for (bool cold : {false, true}) {
    std::string spec = closed_spec(tiny_model(), R"({"name": "dynamic"})", "[1]", 1, 5, 0);
    if (cold) spec.replace(spec.find("\"arrivals\""), 0, "\"cold\": true, ");
    const ServeResult r = serve(parse_serve_spec(spec, "s.json"), Config{});
    ASSERT_EQ(r.requests.size(), 5u);
    for (size_t i = 1; i < r.requests.size(); ++i) {
      EXPECT_EQ(r.requests[i].faults > 0, cold) << "request " << i;
      EXPECT_EQ(r.requests[i].bytes_in, cold ? r.requests[1].bytes_in : 0) << "request " << i;
    }
    EXPECT_GT(r.requests[0].bytes_in, 0u);        // the weights and the input
    EXPECT_EQ(r.requests[1].bytes_in > 0, cold);  // the weights again
  }
}

// Green-context partitions ("sms"): each tenant's kernels run on its own SMs, disjoint from the other's,
// the sm_allocation policy choosing within them; a tenant on fewer SMs takes longer; partitions beyond the GPU fail.
TEST(Serving, ATenantsSmPartitionHoldsItsKernels) {
  const std::string model = tiny_model();
  const auto spec_of = [&](uint32_t a, uint32_t b) {
    return R"({"seed": 3, "requests": 6, "slowdown": false, "tenants": [)"
           R"({"name": "a", "model": ")" + model + R"(", "batch_sizes": [1], "sms": )" + std::to_string(a) +
           R"(, "arrivals": {"process": "closed", "in_flight": 1}, "batching": {"name": "dynamic"}},)"
           R"({"name": "b", "model": ")" + model + R"(", "batch_sizes": [1], "sms": )" + std::to_string(b) +
           R"(, "arrivals": {"process": "closed", "in_flight": 1}, "batching": {"name": "dynamic"}}]})";
  };
  Config c;
  c.gpu.sm_count = 16;
  for (const char* policy : {"shared", "even_partition"}) {
    c.policies["sm_allocation"].name = policy;
    const ServeResult r = serve(parse_serve_spec(spec_of(2, 12), "s.json"), c);
    const ServeResult whole = serve(parse_serve_spec(spec_of(0, 0), "s.json"), c);
    std::set<uint32_t> sms_of[2];
    for (size_t k = 0; k < r.stats.kernels.size(); ++k)
      if (r.stats.kernels[k].launches > 0)
        sms_of[r.workload->trace.kernels[k].tenant].insert(r.stats.kernels[k].sms);
    if (std::string(policy) == "shared") {
      EXPECT_EQ(sms_of[0], std::set<uint32_t>{2});
      EXPECT_EQ(sms_of[1], std::set<uint32_t>{12});
    } else {  // the policy's halves within the partitions: [0, 8) and [2, 14) give 2, [8, 16) and [2, 14) 6
      EXPECT_EQ(sms_of[0], std::set<uint32_t>{2});
      EXPECT_EQ(sms_of[1], std::set<uint32_t>{6});
    }
    EXPECT_GT(r.tenants[0].latency.p50, whole.tenants[0].latency.p50) << policy;
  }
  try {
    serve(parse_serve_spec(spec_of(8, 9), "s.json"), c);
    ADD_FAILURE() << "17 SMs of 16 accepted";
  } catch (const SimError& e) {
    EXPECT_NE(std::string(e.what()).find("\"sms\""), std::string::npos) << e.what();
  }
}

// Dynamic batching under overload takes what is queued: batches grow past 1, never past the queue or the
// largest allowed size; a Poisson stream's counted requests are exactly the spec's.
TEST(Serving, DynamicBatchingTakesWhatIsQueued) {
  const std::string model = tiny_model();
  const ServeSpec spec = parse_serve_spec(R"({"seed": 5, "requests": 60, "slowdown": false, "tenants": [
      {"model": ")" + model + R"(", "batch_sizes": [1, 2, 4, 8],
       "arrivals": {"process": "poisson", "rate_per_s": 50000}, "batching": {"name": "dynamic"}}]})",
                                          "s.json");
  const ServeResult r = serve(spec, Config{});
  EXPECT_EQ(r.tenants[0].requests, 60u);
  EXPECT_GT(r.tenants[0].mean_batch_size, 1.5);
  for (const RequestRecord& q : r.requests) {
    EXPECT_TRUE(q.batch_size == 1 || q.batch_size == 2 || q.batch_size == 4 || q.batch_size == 8);
    uint32_t queued_at_start = 0;  // requests that had arrived and not started when its batch started
    for (const RequestRecord& o : r.requests)
      queued_at_start += o.arrival_ns <= q.start_ns && o.start_ns >= q.start_ns;
    EXPECT_LE(q.batch_size, queued_at_start);
  }
}

TEST(Serving, SameSpecAndSeedGiveIdenticalOutputsAndAnotherSeedDiffers) {
  const std::string model = tiny_model();
  auto spec_with = [&](int seed) {
    return parse_serve_spec(R"({"seed": )" + std::to_string(seed) + R"(, "requests": 15, "tenants": [
      {"model": ")" + model + R"(", "batch_sizes": [1, 2], "arrivals": {"process": "gamma", "rate_per_s": 2000, "cv": 2},
       "batching": {"name": "dynamic"}},
      {"model": ")" + model + R"(", "batch_sizes": [1], "process": "own", "arrivals": {"process": "poisson", "rate_per_s": 1000}}]})",
                            "s.json");
  };
  const Config c;
  auto outputs = [&](const ServeSpec& s) {
    const ServeResult r = serve(s, c);
    std::ostringstream csv;
    write_requests_csv(s, r.requests, csv);
    return serve_json(s, c, r).dump() + csv.str();
  };
  const std::string a = outputs(spec_with(1));
  EXPECT_EQ(a, outputs(spec_with(1)));
  EXPECT_NE(a, outputs(spec_with(2)));
}

// engine.resident_shortcut: kernels launched with all their pages mapped skip run-ahead's page checks until
// an eviction takes them off; outputs are those of the checks, byte for byte, at 75% memory (where evictions
// come during such kernels) and at 100%, but for the setting and the shortcut's own counts.
TEST(Serving, TheResidentKernelShortcutChangesNothingButItsCounts) {
  const std::string model = tiny_model();
  const ServeSpec spec = parse_serve_spec(
      R"({"seed": 4, "requests": 24, "tenants": [
      {"model": ")" +
          model + R"(", "batch_sizes": [1, 2, 4], "arrivals": {"process": "poisson", "rate_per_s": 4000},
       "batching": {"name": "dynamic"}},
      {"model": "mobilenet_v2", "batch_sizes": [1], "arrivals": {"process": "closed", "in_flight": 1}}]})",
      "s.json");
  for (double fraction : {0.75, 1.0}) {
    std::string out[2];
    nlohmann::json counts[2];
    for (int on : {0, 1}) {
      Config c;
      c.gpu.memory_fraction = fraction;
      c.engine.resident_shortcut = on;
      const ServeResult r = serve(spec, c);
      std::ostringstream csv;
      write_requests_csv(spec, r.requests, csv);
      nlohmann::json j = serve_json(spec, c, r);
      j["config"]["engine"].erase("resident_shortcut");
      for (const char* k : {"resident_launches", "resident_launches_dropped"}) {
        counts[on][k] = j["stats"][k];
        j["stats"].erase(k);
      }
      out[on] = j.dump(1) + csv.str();
    }
    EXPECT_EQ(out[0], out[1]) << fraction;
    EXPECT_EQ(counts[0]["resident_launches"], 0) << fraction;
    EXPECT_GT(counts[1]["resident_launches"].get<uint64_t>(), 10u) << fraction;
    if (fraction < 1)  // an eviction came during a resident kernel
      EXPECT_GT(counts[1]["resident_launches_dropped"].get<uint64_t>(), 0u) << counts[1];
    else
      EXPECT_EQ(counts[1]["resident_launches_dropped"], 0) << fraction;
  }
}

// The batching kind's conformance: every registered batching policy (test_* aside), with its default
// parameters, serves every request of two tenants to the end, in batches of sizes the tenant allows, never
// starting a request before it arrived, and identically twice.
TEST(Serving, EveryBatchingPolicyServesEveryRequestInAllowedBatches) {
  const std::string model = tiny_model();
  for (const auto& [name, info] : PolicyCatalog::instance().find("batching")->policies) {
    if (name.rfind("test_", 0) == 0) continue;
    SCOPED_TRACE(name);
    const ServeSpec spec = parse_serve_spec(R"({"seed": 3, "requests": 12, "tenants": [
      {"model": ")" + model + R"(", "batch_sizes": [1, 2, 4], "arrivals": {"process": "poisson", "rate_per_s": 5000},
       "batching": {"name": ")" + name + R"("}},
      {"model": ")" + model + R"(", "batch_sizes": [1, 3], "arrivals": {"process": "gamma", "rate_per_s": 3000, "cv": 2},
       "batching": {"name": ")" + name + R"("}}]})",
                                            "s.json");
    const Config c;
    const ServeResult r = serve(spec, c);
    ASSERT_EQ(r.requests.size(), 24u);
    for (const RequestRecord& q : r.requests) {
      EXPECT_GE(q.start_ns, q.arrival_ns);
      EXPECT_GT(q.end_ns, q.start_ns);
      const auto& sizes = spec.tenants[q.tenant].batch_sizes;
      EXPECT_NE(std::find(sizes.begin(), sizes.end(), q.batch_size), sizes.end()) << q.batch_size;
    }
    EXPECT_EQ(serve_json(spec, c, r).dump(), serve_json(spec, c, serve(spec, c)).dump());
  }
}

// The other tenant slows this one: its latency alone (same arrivals, the other idle) is lower.
TEST(Serving, SlowdownComparesWithTheTenantAlone) {
  const std::string model = tiny_model();
  const ServeSpec spec = parse_serve_spec(R"({"seed": 2, "requests": 20, "tenants": [
      {"model": ")" + model + R"(", "batch_sizes": [1], "arrivals": {"process": "poisson", "rate_per_s": 3000}},
      {"model": ")" + model + R"(", "batch_sizes": [1], "arrivals": {"process": "closed", "in_flight": 4}}]})",
                                          "s.json");
  const ServeResult r = serve(spec, Config{});
  for (const TenantServing& t : r.tenants) {
    EXPECT_EQ(t.alone.count, 20u);
    EXPECT_GT(t.slowdown, 1.0) << t.name;
    EXPECT_NEAR(t.slowdown, t.latency.mean / t.alone.mean, 1e-12);
  }
}

// A run that cannot finish its requests stops with an error naming the tenant, not a hang: a batch size of
// 2 with one request left queued at the end.
TEST(Serving, RequestsAPolicyNeverRunsAreAnError) {
  const ServeSpec spec = parse_serve_spec(
      closed_spec(tiny_model(), R"({"name": "fixed", "params": {"batch_size": 2}})", "[2]", 1, 3, 0), "s.json");
  try {
    serve(spec, Config{});
    ADD_FAILURE() << "no error";
  } catch (const SimError& e) {
    EXPECT_NE(std::string(e.what()).find("tenant t: 1 requests never ran"), std::string::npos) << e.what();
  }
}

// The serving check's GPU runs (traces/corpus/serving/, from cuda_tracer/recordings/serving_check/, one
// run of each variant on the H200): every request of both tenants with its arrival, its batch and the
// batch's start and end, batches of allowed sizes whose requests share start and end.
TEST(Serving, TheCheckedInGpuServingRunsHoldEveryRequestAndBatch) {
  for (const char* v : {"warm", "cold"}) {
    SCOPED_TRACE(v);
    const trace::Trace t =
        trace::read_trace(testing::source_dir() + "/traces/corpus/serving/serving_check_" + v + ".uvmt");
    ASSERT_EQ(t.tenants.size(), 2u);
    ASSERT_EQ(t.requests.size(), 1040u);  // 500 + 20 warm-up per tenant
    std::map<uint64_t, const trace::Request*> first_of_batch;
    for (const trace::Request& r : t.requests) {
      EXPECT_GE(r.start_ns, r.arrival_ns);
      EXPECT_GT(r.end_ns, r.start_ns);
      EXPECT_TRUE(r.batch_size == 1 || r.batch_size == 2 || r.batch_size == 4 || r.batch_size == 8) << r.batch_size;
      const auto [it, fresh] = first_of_batch.try_emplace(r.batch, &r);
      if (!fresh) {
        EXPECT_EQ(it->second->start_ns, r.start_ns);
        EXPECT_EQ(it->second->end_ns, r.end_ns);
        EXPECT_EQ(it->second->tenant, r.tenant);
      }
    }
  }
}

// The green-context check's GPU runs (results/green_check.md), on an H100 and on the H200: every log is a
// whole run of its spec (440 requests in allowed batches), and the tenants ran on the partitions the spec
// names.
TEST(Serving, TheCheckedInGreenContextRunsHoldTheirSpecsPartitions) {
  for (const char* folder : {"green_check", "green_check_h200"}) {  // an H100's, an H200's (132 SMs each)
    SCOPED_TRACE(folder);
    const std::string dir = testing::source_dir() + "/cuda_tracer/recordings/" + folder + "/";
    int logs = 0;
    for (const char* name :
         {"green_even", "green_uneven", "green_even_warm", "green_uneven_warm", "green_whole_cold"}) {
      const std::string spec_path = testing::source_dir() + "/sim/serving/examples/" + name + ".json";
      const ServeSpec spec = load_serve_spec(spec_path);
      for (const auto& e : std::filesystem::directory_iterator(dir)) {
        const std::string f = e.path().filename().string();
        // NAME.N.jsonl or NAME.events.N.jsonl (not another spec's NAME_warm..., not the .tenants.json
        // summaries)
        const std::string prefix = std::string(name) + ".", suffix = ".jsonl";
        if (f.rfind(prefix, 0) != 0 || f.size() <= prefix.size() + suffix.size() ||
            f.compare(f.size() - suffix.size(), suffix.size(), suffix) != 0)
          continue;
        std::string run = f.substr(prefix.size(), f.size() - prefix.size() - suffix.size());
        if (run.rfind("events.", 0) == 0) run = run.substr(7);
        if (run.empty() || run.find_first_not_of("0123456789") != std::string::npos) continue;
        SCOPED_TRACE(f);
        const trace::Trace t = serving_recording(spec, e.path().string());
        EXPECT_EQ(t.requests.size(), 440u);
        std::ifstream in(e.path());
        std::string line, last;
        while (std::getline(in, line))
          if (!line.empty()) last = line;
        const auto summary = nlohmann::json::parse(last);
        ASSERT_TRUE(summary.contains("tenants"));
        for (size_t i = 0; i < spec.tenants.size(); ++i)
          EXPECT_EQ(summary["tenants"][i]["sms"].get<uint32_t>(),
                    spec.tenants[i].sms ? spec.tenants[i].sms : 132u);
        ++logs;
      }
    }
    EXPECT_EQ(logs, 2 * (3 + 2) + 3 * 2);  // two specs: 3 runs and 2 events runs; three specs: 2 runs
  }
}

TEST(Serving, ARecordedTracesRequestsGiveTheArrivals) {
  const std::string dir = ::testing::TempDir() + "/serving_trace";
  std::filesystem::create_directories(dir);
  trace::Trace t = testing::base_trace(1 << 20);
  for (int64_t at : {1000000, 3000000, 3500000, 9000000}) t.requests.push_back({0, at});
  trace::write_trace(t, dir + "/r.uvmt");
  const ServeSpec spec = parse_serve_spec(R"({"tenants": [{"model": ")" + tiny_model() +
                                              R"(", "batch_sizes": [1], "arrivals": {"process": "trace", "trace": ")" +
                                              dir + R"(/r.uvmt"}}]})",
                                          "s.json");
  const ServeResult r = serve(spec, Config{});
  ASSERT_EQ(r.requests.size(), 4u);
  const int64_t t0 = r.start_ns;
  EXPECT_EQ(r.requests[0].arrival_ns, t0);
  EXPECT_EQ(r.requests[1].arrival_ns, t0 + 2000000);
  EXPECT_EQ(r.requests[2].arrival_ns, t0 + 2500000);
  EXPECT_EQ(r.requests[3].arrival_ns, t0 + 8000000);
}

// A native run's log becomes a trace whose requests keep their batches, and `serve` replays its arrivals.
TEST(Serving, ANativeRunsLogBecomesATraceWhoseArrivalsServeReplays) {
  const std::string dir = ::testing::TempDir() + "/serving_native";
  std::filesystem::create_directories(dir);
  const std::string model = tiny_model();
  const ServeSpec spec = parse_serve_spec(
      R"({"requests": 3, "tenants": [{"name": "a", "model": ")" + model +
          R"(", "batch_sizes": [1, 2], "arrivals": {"process": "poisson", "rate_per_s": 10}}]})",
      "s.json");
  std::ofstream(dir + "/run.jsonl")
      << R"({"tenant": "a", "request": 0, "arrival_ns": 0, "start_ns": 10, "end_ns": 500, "batch": 1, "batch_size": 1, "counted": true})"
      << "\n"
      << R"({"tenant": "a", "request": 2, "arrival_ns": 300, "start_ns": 500, "end_ns": 900, "batch": 2, "batch_size": 2, "counted": true})"
      << "\n"
      << R"({"tenant": "a", "request": 1, "arrival_ns": 200, "start_ns": 500, "end_ns": 900, "batch": 2, "batch_size": 2, "counted": true})"
      << "\n"
      << R"({"program": "uvm_serve", "spec": "s.json", "device": "NVIDIA H200", "sm_count": 132, "memory_bytes": 150000000000, "requests": 3, "batches": 2, "unfinished": 0, "wall_ns": 1000})"
      << "\n";
  trace::Trace t = serving_recording(spec, dir + "/run.jsonl");
  EXPECT_EQ(t.header.device_name, "NVIDIA H200");
  trace::write_trace(t, dir + "/run.uvmt");
  const trace::Trace r = trace::read_trace(dir + "/run.uvmt");
  ASSERT_EQ(r.requests.size(), 3u);
  EXPECT_EQ(r.requests[1].arrival_ns, 200);  // in order of arrival
  EXPECT_EQ(r.requests[1].batch, 2u);
  EXPECT_EQ(r.requests[2].batch_size, 2u);
  const ServeSpec replay =
      parse_serve_spec(R"({"tenants": [{"name": "a", "model": ")" + model +
                           R"(", "batch_sizes": [1, 2], "arrivals": {"process": "trace", "trace": ")" + dir +
                           R"(/run.uvmt"}}]})",
                       "s.json");
  const ServeResult s = serve(replay, Config{});
  ASSERT_EQ(s.requests.size(), 3u);
  EXPECT_EQ(s.requests[2].arrival_ns - s.requests[0].arrival_ns, 300);
  std::ofstream(dir + "/bad.jsonl") << R"({"tenant": "b", "arrival_ns": 0})"
                                    << "\n";
  try {
    serving_recording(spec, dir + "/bad.jsonl");
    ADD_FAILURE() << "no error";
  } catch (const SpecError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl:1: tenant \"b\" is not in the spec"), std::string::npos)
        << e.what();
  }
}

// A recorded model as a tenant: its setup runs once before serving (here, a kernel touching pages 0 to 4 of
// its allocation), and a batch of its recorded batch size (4 requests) launches the kernels of its
// warm_inference NVTX range (one kernel touching pages 0 to 2 and 300 to 302); no other batch size.
TEST(Serving, ARecordedModelServesItsWarmInferenceKernels) {
  const std::string dir = ::testing::TempDir() + "/serving_recorded";
  std::filesystem::create_directories(dir);
  trace::Trace t = testing::base_trace(uint64_t{2} << 20);
  t.tenants[0].batch = 4;
  t.header.producer = trace::Producer::kTracer;
  testing::add_kernel(t, {{0, 1, 2}, {3, 4}});         // setup
  testing::add_kernel(t, {{0, 1, 2, 300, 301, 302}});  // the inference
  t.ops[0].host_ns = 100;
  t.ops[1].host_ns = 1000;
  t.nvtx.push_back({"warm_inference", 0, 900, 1100});
  testing::add_sync(t);
  t.ops.back().host_ns = 1200;
  trace::write_trace(t, dir + "/rec.uvmt");
  const auto spec = [&](const std::string& sizes) {
    return parse_serve_spec(
        R"({"requests": 8, "tenants": [{"name": "r", "model": ")" + dir + R"(/rec.uvmt", "batch_sizes": )" +
            sizes +
            R"(, "arrivals": {"process": "closed", "in_flight": 4}, "batching": {"name": "dynamic"}}]})",
        "s.json");
  };
  const ServeResult r = serve(spec("[4]"), Config{});
  ASSERT_EQ(r.requests.size(), 8u);
  // A batch is the recorded inference of 4 images: the setup's kernel ran once and the inference's twice.
  EXPECT_EQ(r.stats.tenants[0].ctas, 2u + 2u);
  EXPECT_EQ(r.requests[0].batch_size, 4u);
  EXPECT_GT(r.requests[0].faults, 0u);  // pages 300 to 302: not touched by the setup
  EXPECT_EQ(r.requests[7].faults, 0u);
  try {
    serve(spec("[1, 4]"), Config{});
    ADD_FAILURE() << "no error";
  } catch (const ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("runs at its recorded batch size only (batch_sizes [4])"),
              std::string::npos)
        << e.what();
  }
}

TEST(Serving, CommandWritesStatsAndRequestsAndRefusesABadOutput) {
  const std::string dir = ::testing::TempDir() + "/serving_cli";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/s.json") << closed_spec(tiny_model(), R"({"name": "dynamic"})", "[1, 2]", 2, 10, 2);
  const testing::Result ok = testing::sh("serve --spec " + dir + "/s.json --out " + dir + "/o");
  ASSERT_EQ(ok.status, 0) << ok.output;
  const auto j = nlohmann::json::parse(testing::slurp(dir + "/o/stats.json"));
  EXPECT_EQ(j["tenants"][0]["name"], "t");
  EXPECT_EQ(j["tenants"][0]["requests"], 10);
  EXPECT_GT(j["tenants"][0]["latency_ms"]["p99"].get<double>(), 0);
  EXPECT_GE(j["tenants"][0]["latency_ms"]["p99"].get<double>(), j["tenants"][0]["latency_ms"]["p50"].get<double>());
  const std::string csv = testing::slurp(dir + "/o/requests.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 13);  // the header and 12 requests
  std::ofstream(dir + "/file") << "x";
  const testing::Result bad = testing::sh("serve --spec " + dir + "/s.json --out " + dir + "/file");
  EXPECT_NE(bad.status, 0);
  EXPECT_NE(bad.output.find("--out"), std::string::npos) << bad.output;
  std::ofstream(dir + "/bad.json") << R"({"requests": 1, "tenants": [], "x": 1})";
  const testing::Result spec = testing::sh("serve --spec " + dir + "/bad.json --out " + dir + "/o2");
  EXPECT_NE(spec.status, 0);
  EXPECT_NE(spec.output.find("bad.json: tenants: must be a non-empty list"), std::string::npos) << spec.output;
  EXPECT_FALSE(std::filesystem::exists(dir + "/o2/stats.json"));
}

}  // namespace
}  // namespace uvmsim
