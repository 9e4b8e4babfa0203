#include "sim/cli/validate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "test_util.h"
#include "traces/driver_batches.h"
#include "workloads/micro.h"

namespace uvmsim {
namespace {

Workload corpus(const std::string& name) {
  return Workload::load(testing::source_dir() + "/traces/corpus/" + name + ".uvmt");
}

Config recording_config(const Workload& w) { return with_recording(Config{}, w.trace); }

const Quantity& find(const Validation& v, const std::string& key) {
  auto it =
      std::find_if(v.quantities.begin(), v.quantities.end(), [&](const Quantity& q) { return q.key == key; });
  EXPECT_NE(it, v.quantities.end()) << key;
  return *it;
}

// The recording's header becomes config settings: its SM count and the driver's module parameters.
TEST(Validate, TakesTheRecordingsGpuAndDriverParameters) {
  const Workload w = corpus("micro_seq_64m");
  const std::vector<std::string> s = recording_settings(w.trace);
  auto has = [&](const std::string& x) { return std::find(s.begin(), s.end(), x) != s.end(); };
  EXPECT_TRUE(has("gpu.sm_count=132"));
  EXPECT_TRUE(has("driver.fault_batch_count=256"));
  EXPECT_TRUE(has("policies.prefetch.params.threshold=51"));
  EXPECT_TRUE(has("policies.replay.name=batch_flush"));
  EXPECT_TRUE(has("policies.prefetch.name=driver_tree"));
  const Config c = recording_config(w);
  EXPECT_EQ(c.gpu.sm_count, 132);
}

// A 64 MiB touch-back: every stream complete, so every quantity is scored; the observed values are the
// recording's (64 MiB each way, one kernel with paging overhead).
TEST(Validate, ScoresCompleteStreamsOfATouchBack) {
  const Workload w = corpus("micro_touchback_64m");
  const Validation v = validate(w, recording_config(w), "micro_touchback_64m");
  EXPECT_EQ(v.skipped(), 0u);
  EXPECT_EQ(v.scored(), v.quantities.size());
  EXPECT_DOUBLE_EQ(find(v, "htod_mib").observed, 64.0);
  EXPECT_DOUBLE_EQ(find(v, "dtoh_mib").observed, 64.0);
  EXPECT_DOUBLE_EQ(find(v, "htod_mib").simulated, 64.0);
  EXPECT_GT(find(v, "paging_overhead_ms").observed, 5.0);
  EXPECT_GT(find(v, "cpu_faults").observed, 0.0);
  EXPECT_EQ(v.kernels_scored, 1u);
  std::ostringstream os;
  print_validation(v, os);
  EXPECT_NE(os.str().find("9 quantities scored, 0 skipped"), std::string::npos) << os.str();
  const nlohmann::json j = validation_json(v);
  EXPECT_EQ(j["scored"], 9);
  EXPECT_EQ(j["kernels"].size(), w.trace.kernels.size());
}

// Where the recording has events passes (the driver's own batches: an H200 recording of a 16 MiB sequential
// first touch with two of them, tests/data/h200_micro_seq_16m_events.uvmt, converted from
// cuda_tracer/testdata/raw_h200_events.tar.xz), validation scores the batches: their count, entries, pages
// and VA blocks per batch and their duration, the driver's figure of the median run with the runs' range,
// and per kernel the batches its faults made. A recording without them scores none.
TEST(Validate, ScoresTheDriversBatchesWhereTheRecordingHasThem) {
  const Workload w = Workload::load(testing::source_dir() + "/tests/data/h200_micro_seq_16m_events.uvmt");
  const Validation v = validate(w, recording_config(w), "h200_micro_seq_16m_events");
  const std::vector<trace::DriverRunBatches> runs = trace::driver_batches(w.trace);
  ASSERT_EQ(runs.size(), 2u);
  const Quantity& batches = find(v, "batches");
  EXPECT_TRUE(batches.scored);
  const double a = double(runs[0].batches.size()), b = double(runs[1].batches.size());
  EXPECT_EQ(batches.observed, std::min(a, b));  // the lower of two runs
  EXPECT_EQ(batches.observed_min, std::min(a, b));
  EXPECT_EQ(batches.observed_max, std::max(a, b));
  EXPECT_GT(batches.simulated, 0);
  for (const char* key : {"entries_per_batch_p50", "entries_per_batch_p90", "pages_per_batch_p50",
                          "blocks_per_batch_p50", "batch_ms_p50"}) {
    EXPECT_TRUE(find(v, key).scored) << key;
    EXPECT_GT(find(v, key).observed, 0) << key;
    EXPECT_GT(find(v, key).simulated, 0) << key;
  }
  EXPECT_LE(find(v, "entries_per_batch_p90").observed, 256);
  // The entries over the run: each run's sum over its batches (the median run's), the model's over its own.
  const Quantity& total = find(v, "entries_total");
  EXPECT_TRUE(total.scored);
  std::vector<double> sums;
  for (const auto& r : runs) {
    double n = 0;
    for (const auto& bt : r.batches) n += double(bt.entries);
    sums.push_back(n);
  }
  EXPECT_EQ(total.observed_min, std::min(sums[0], sums[1]));
  EXPECT_EQ(total.observed_max, std::max(sums[0], sums[1]));
  EXPECT_GE(total.simulated, batches.simulated);  // at least one entry a batch
  // Every batch is the first kernel's ("touch"); the second touches resident pages.
  EXPECT_EQ(v.kernels[0].observed_batches, batches.observed);
  EXPECT_EQ(v.kernels[0].simulated_batches, batches.simulated);
  EXPECT_EQ(v.kernels[1].observed_batches, 0);
  const nlohmann::json j = validation_json(v);
  bool with_runs = false;
  for (const auto& q : j["quantities"]) with_runs |= q["key"] == "batches" && q.contains("observed_runs");
  EXPECT_TRUE(with_runs);
  EXPECT_TRUE(j["kernels"][0].contains("batches"));

  const Workload plain = corpus("micro_touchback_64m");
  const Validation u = validate(plain, recording_config(plain), "micro_touchback_64m");
  for (const Quantity& q : u.quantities) EXPECT_NE(q.key, "batches");
}

// A dependent chain stays one (issue 21): one thread follows a pointer through the 4096 pages of 16 MiB in
// random order on the H200 (traces/corpus/h200/micro_chain_16m_sm132.uvmt); the driver serviced it in 109
// batches of one entry each (the prefetcher brought the rest), and the model replays the same number of
// one-entry batches, within 10%, where a CTA's uses on a 64-step grid would merge 64 steps into one moment.
TEST(Validate, ADependentChainReplaysTheDriversOneEntryBatches) {
  const Workload w = Workload::load(testing::source_dir() + "/traces/corpus/h200/micro_chain_16m_sm132.uvmt");
  const Validation v = validate(w, with_recording(Config{}, w.trace), "micro_chain_16m_sm132");
  const Quantity& b = find(v, "batches");
  EXPECT_EQ(b.observed, 109);
  EXPECT_LE(std::abs(b.error()), 0.10) << b.simulated;
  EXPECT_EQ(find(v, "entries_per_batch_p50").observed, 1);
  EXPECT_EQ(find(v, "entries_per_batch_p50").simulated, 1);
}

// Without --config, validate simulates a trace under the config of the GPU it was recorded on, compiled in:
// an H200 trace under sim/configs/h200.json, an H100 trace under h100.json.
TEST(Validate, PicksTheConfigOfTheTracesGpu) {
  std::string name;
  const Workload h200 =
      Workload::load(testing::source_dir() + "/traces/corpus/h200/micro_chain_16m_sm8.uvmt");
  const Config a = recording_gpu_config(h200.trace, &name);
  EXPECT_NE(name.find("sim/configs/h200.json"), std::string::npos) << name;
  EXPECT_EQ(a.gpu.dram_bytes_per_s,
            load_config(testing::source_dir() + "/sim/configs/h200.json", {}).gpu.dram_bytes_per_s);
  const Config b = recording_gpu_config(corpus("micro_seq_64m").trace, &name);
  EXPECT_NE(name.find("sim/configs/h100.json"), std::string::npos) << name;
  EXPECT_EQ(b.driver.pte_ns, load_config(testing::source_dir() + "/sim/configs/h100.json", {}).driver.pte_ns);
  const testing::Result r = testing::sh("validate --trace " + testing::source_dir() +
                                        "/traces/corpus/h200/micro_chain_16m_sm8.uvmt");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("config sim/configs/h200.json (compiled in"), std::string::npos) << r.output;
}

// The structure of the migrations: the counter pass's HtoD records of micro_seq_64m (1307 copies in 242
// groups with no gap over 5 us) against the model's copies and groups, scored where HtoD is complete.
TEST(Validate, ComparesHtodCopiesAndTheirGroups) {
  const Workload w = corpus("micro_seq_64m");
  const Config c = recording_config(w);
  const Validation v = validate(w, c, "micro_seq_64m");
  EXPECT_DOUBLE_EQ(find(v, "htod_copies").observed, 1307.0);
  EXPECT_DOUBLE_EQ(find(v, "htod_copy_groups").observed, 242.0);
  const Stats s = simulate(w, c, false).stats;
  EXPECT_DOUBLE_EQ(find(v, "htod_copies").simulated, double(s.htod_copies));
  EXPECT_DOUBLE_EQ(find(v, "htod_copy_groups").simulated, double(s.htod_copy_groups));
  EXPECT_TRUE(find(v, "htod_copies").scored);
  EXPECT_GE(s.htod_copies, s.htod_copy_groups);
  const Workload big = corpus("micro_seq_1g");  // HtoD incomplete: not scored
  EXPECT_FALSE(find(validate(big, recording_config(big), "micro_seq_1g"), "htod_copies").scored);
}

// A stream whose records hold under 98% of the expected moves is skipped with the reason, and so is the
// prefetch share that depends on it.
TEST(Validate, SkipsIncompleteStreams) {
  const Workload w = corpus("micro_seq_1g");  // 28% of its HtoD bytes recorded
  const Validation v = validate(w, recording_config(w), "micro_seq_1g");
  EXPECT_FALSE(find(v, "htod_mib").scored);
  EXPECT_NE(find(v, "htod_mib").skipped.find("incomplete"), std::string::npos);
  EXPECT_FALSE(find(v, "prefetch_share_pct").scored);
  EXPECT_TRUE(find(v, "e2e_ms").scored);
}

// Completeness counts the expected page moves the records hold, not their bytes: 100 pages expected, 90
// of them recorded and 20 untouched prefetched pages besides (110% of the bytes) is incomplete.
TEST(Validate, RecordedBytesPaddedByPrefetchAreNotComplete) {
  trace::Trace t = testing::base_trace(2 << 20);
  testing::add_op(t, trace::OpKind::kHostAccess, 0, 100);
  std::vector<uint64_t> pages;
  for (uint64_t p = 0; p < 100; ++p) pages.push_back(p);
  testing::add_kernel(t, {pages});
  t.observed.push_back({trace::ObservedKind::kKernelExec, 0, 1000, 90000, 0, 0});
  t.observed.push_back({trace::ObservedKind::kHtoD, 1, 2000, 3000, testing::kVa, 90 * 4096});
  t.observed.push_back({trace::ObservedKind::kHtoD, 2, 3000, 4000, testing::kVa + 100 * 4096, 20 * 4096});
  t.completeness.push_back({trace::ObservedKind::kHtoD, 100 * 4096, 110 * 4096, 0});
  const Workload w = Workload::build(t, "padded");
  const Validation v = validate(w, recording_config(w), "padded");
  EXPECT_FALSE(find(v, "htod_mib").scored);
  EXPECT_EQ(find(v, "htod_mib").skipped,
            "HtoD stream incomplete (90.0% of the expected page moves recorded)");
  EXPECT_FALSE(find(v, "prefetch_share_pct").scored);
  t.observed[1].value = 100 * 4096;  // every expected move recorded
  const Workload full = Workload::build(t, "full");
  EXPECT_TRUE(find(validate(full, recording_config(full), "full"), "htod_mib").scored);
}

// A generated trace holds no observation: validate refuses it.
TEST(Validate, RefusesAGeneratedTrace) {
  MicroSpec spec;
  spec.bytes = 8 << 20;
  spec.host_init = true;
  const Workload w = Workload::build(generate_micro(spec), "g");
  EXPECT_THROW(validate(w, Config{}, "generated"), std::invalid_argument);
}

}  // namespace
}  // namespace uvmsim
