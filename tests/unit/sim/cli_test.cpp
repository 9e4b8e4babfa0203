// The uvmsim command as a user runs it: clear errors with a non-zero exit, identical bytes on reruns.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "test_util.h"

namespace uvmsim {
namespace {

using testing::Result;
using testing::sh;
using testing::slurp;

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = ::testing::TempDir() + "/cli_" + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    ASSERT_EQ(sh("generate --pattern random --bytes 16MiB --host-init --touch-back --out " + dir_ + "/t.uvmt").status, 0);
  }
  std::string dir_;
};

TEST_F(Cli, RunTwiceGivesIdenticalStats) {
  std::string cfg = testing::source_dir() + "/sim/configs/h100.json";
  for (const char* o : {"a", "b"})
    ASSERT_EQ(sh("run --trace " + dir_ + "/t.uvmt --config " + cfg + " --set gpu.memory_fraction=0.5 --check --out " +
                 dir_ + "/" + o + " --batch-log " + dir_ + "/" + o + ".log")
                  .status,
              0);
  std::string a = slurp(dir_ + "/a/stats.json");
  EXPECT_GT(a.size(), 1000u);
  EXPECT_EQ(a, slurp(dir_ + "/b/stats.json"));
  EXPECT_EQ(slurp(dir_ + "/a.log"), slurp(dir_ + "/b.log"));
  auto j = nlohmann::json::parse(a);
  EXPECT_EQ(j["config"]["gpu"]["memory_fraction"], 0.5);
  EXPECT_EQ(j["program"]["name"], "uvmsim");
  EXPECT_EQ(j["trace"]["hash"].get<std::string>().size(), 16u);
  EXPECT_GT(j["stats"]["chunks_evicted"].get<uint64_t>(), 0u);
}

// uvmsim compare: the config key that differs, each statistic with A, B and B/A; a folder without a
// stats.json or a file that is not one is one error naming it.
TEST_F(Cli, CompareShowsTheDifferingKeyAndEachStatisticsRatio) {
  const std::string cfg = testing::source_dir() + "/sim/configs/h100.json";
  for (const char* f : {"1.0", "0.5"})
    ASSERT_EQ(sh("run --trace " + dir_ + "/t.uvmt --config " + cfg + " --set gpu.memory_fraction=" + f +
                 " --out " + dir_ + "/m" + f)
                  .status,
              0);
  const Result r = sh("compare " + dir_ + "/m1.0 " + dir_ + "/m0.5/stats.json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("config keys that differ: 1\n  gpu.memory_fraction: 1.0 -> 0.5"), std::string::npos)
      << r.output;
  // Evictions happen only at half memory: absent ratio (A is 0); the page accesses are the same (ratio 1).
  std::istringstream lines(r.output);
  std::string line;
  bool evicted = false, accesses = false;
  while (std::getline(lines, line)) {
    std::istringstream w(line);
    std::string name, a, b, ratio;
    w >> name >> a >> b >> ratio;
    if (name == "chunks_evicted") evicted = a == "0" && b != "0" && ratio == "-";
    if (name == "page_accesses") accesses = a == b && ratio == "1.000";
  }
  EXPECT_TRUE(evicted) << r.output;
  EXPECT_TRUE(accesses) << r.output;
  const Result missing = sh("compare " + dir_ + " " + dir_ + "/m0.5");
  EXPECT_NE(missing.status, 0);
  EXPECT_NE(missing.output.find(dir_ + "/stats.json"), std::string::npos) << missing.output;
  const Result wrong = sh("compare " + dir_ + "/m0.5/config.json " + dir_ + "/m0.5");
  EXPECT_NE(wrong.status, 0);
  EXPECT_NE(wrong.output.find("config.json: not a uvmsim stats.json"), std::string::npos) << wrong.output;
}

// --timeline: a Chrome trace JSON whose events are kernels per tenant, fault batches with their sizes,
// HtoD and DtoH copies, evictions and each SM's stalled CTAs; a window keeps only what overlaps it; a bad
// window or a directory as the output is one error naming the option.
TEST_F(Cli, TimelineHoldsEveryKindOfEventAndItsWindowBoundsIt) {
  const std::string cfg = testing::source_dir() + "/sim/configs/h100.json";
  const auto run_with = [&](const std::string& extra) {
    return sh("run --trace " + dir_ + "/t.uvmt --config " + cfg + " --set gpu.memory_fraction=0.5 --out " +
              dir_ + "/o --timeline " + dir_ + "/tl.json" + extra);
  };
  Result r = run_with("");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(slurp(dir_ + "/tl.json"));
  ASSERT_TRUE(j.contains("traceEvents"));
  std::map<std::string, int> kinds;
  double last_end_us = 0;
  for (const auto& e : j["traceEvents"]) {
    ASSERT_TRUE(e.contains("ph") && e.contains("pid")) << e.dump();
    const std::string ph = e["ph"];
    if (ph == "M") continue;
    ASSERT_TRUE(e.contains("ts") && e["ts"].is_number()) << e.dump();
    if (ph == "X") {
      ASSERT_TRUE(e["dur"].get<double>() >= 0) << e.dump();
      last_end_us = std::max(last_end_us, e["ts"].get<double>() + e["dur"].get<double>());
    }
    const int pid = e["pid"];
    const std::string kind = ph == "C"             ? "stall counter"
                             : ph == "i"           ? "eviction"
                             : pid == 1            ? "kernel"
                             : pid == 2            ? "batch"
                             : e["name"] == "HtoD" ? "htod"
                             : e["name"] == "DtoH" ? "dtoh"
                                                   : "other";
    ++kinds[kind];
    if (kind == "batch") {
      EXPECT_GT(e["args"]["entries"].get<int>(), 0);
    }
  }
  for (const char* k : {"kernel", "batch", "htod", "dtoh", "eviction", "stall counter"})
    EXPECT_GT(kinds[k], 0) << k;
  EXPECT_EQ(kinds["other"], 0);
  // What Perfetto's JSON importer (trace_processor's json_trace_tokenizer and json_trace_parser) needs to
  // show every event: no two slices of one track overlap (it drops slices that overlap without nesting), in
  // a run and in a serve whose requests queue together, and each further track is named; a tid is the
  // system's (one thread whatever its pid) and tid 0 reads as the pid, so no tid is 0 or used by two
  // processes; a counter has numeric args; an instant of thread scope has a tid.
  const auto no_overlap = [](const nlohmann::json& doc) {
    std::map<std::pair<int, int64_t>, std::vector<std::pair<double, double>>> tracks;
    std::set<std::pair<int, int64_t>> named;
    std::map<int64_t, int> pid_of_tid;
    for (const auto& e : doc["traceEvents"]) {
      if (e.contains("tid")) {
        const int64_t tid = e["tid"];
        EXPECT_GT(tid, 0) << e.dump();
        EXPECT_LE(tid, int64_t(UINT32_MAX)) << e.dump();
        const auto [it, fresh] = pid_of_tid.emplace(tid, e["pid"].get<int>());
        EXPECT_EQ(it->second, e["pid"].get<int>()) << "tid " << tid << " in two processes";
      }
      if (e["ph"] == "M" && e["name"] == "thread_name")
        named.insert({e["pid"].get<int>(), e["tid"].get<int64_t>()});
      if (e["ph"] == "X")
        tracks[{e["pid"].get<int>(), e["tid"].get<int64_t>()}].push_back(
            {e["ts"].get<double>(), e["ts"].get<double>() + e["dur"].get<double>()});
      if (e["ph"] == "C") {
        EXPECT_FALSE(e["args"].empty()) << e.dump();
        for (const auto& [k, v] : e["args"].items()) EXPECT_TRUE(v.is_number()) << e.dump();
      }
      if (e["ph"] == "i") {
        EXPECT_TRUE(e["s"] != "t" || e.contains("tid")) << e.dump();
      }
    }
    size_t lanes = 0;
    for (auto& [track, slices] : tracks) {
      std::sort(slices.begin(), slices.end());
      for (size_t i = 1; i < slices.size(); ++i)
        EXPECT_LE(slices[i - 1].second, slices[i].first + 1e-6) << track.first << "/" << track.second;
      EXPECT_TRUE(named.count(track)) << track.first << "/" << track.second;
      lanes += track.second % 100'000'000 > 1000;
    }
    return lanes;
  };
  no_overlap(j);
  std::ofstream(dir_ + "/serve.json") << R"({"requests": 12, "warmup_requests": 0, "slowdown": false,
    "tenants": [{"model": "resnet18", "batch_sizes": [1], "arrivals": {"process": "poisson", "rate_per_s": 400}}]})";
  r = sh("serve --spec " + dir_ + "/serve.json --config " + cfg + " --out " + dir_ + "/so --timeline " +
         dir_ + "/stl.json");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_GT(no_overlap(nlohmann::json::parse(slurp(dir_ + "/stl.json"))), 0u);  // queued requests, own lanes
  // The first tenth of the run only: fewer events, each overlapping the window.
  const double window_ms = last_end_us / 1000 / 10;
  r = run_with(" --timeline-window 0:" + std::to_string(window_ms));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto w = nlohmann::json::parse(slurp(dir_ + "/tl.json"));
  EXPECT_LT(w["traceEvents"].size(), j["traceEvents"].size());
  for (const auto& e : w["traceEvents"])
    if (e["ph"] != "M") {
      EXPECT_LE(e["ts"].get<double>(), window_ms * 1000 + 1e-3) << e.dump();
    }
  r = run_with(" --timeline-window 5:1");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--timeline-window '5:1'"), std::string::npos) << r.output;
  r = sh("run --trace " + dir_ + "/t.uvmt --out " + dir_ + "/o2 --timeline " + dir_);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("--timeline"), std::string::npos) << r.output;
}

// uvmsim sweep on the threads: one row per point in results.csv and each point's stats.json; the same
// bytes with 1 and 2 threads; a point that cannot run records its error and the others run; run again on
// the same folder, it resumes: a removed point runs again, the others are kept, no row is lost or doubled.
TEST_F(Cli, SweepRunsEveryPointResumesAndRecordsAFailure) {
  std::ofstream(dir_ + "/sweep.json") << R"({"trace": ")" << dir_ << R"(/t.uvmt", "config": ")"
                                      << testing::source_dir() << R"(/sim/configs/h100.json",
    "axes": {"gpu.memory_fraction": [1.0, 0.5], "policies.eviction.name": ["driver_fifo", "lru_2mb"]},
    "points": [{"engine.max_events": 100}]})";
  Result r = sh("sweep --spec " + dir_ + "/sweep.json --out " + dir_ + "/s2 --jobs 2");
  EXPECT_EQ(r.status, 3) << r.output;  // the listed point fails: it stops after 100 events
  r = sh("sweep --spec " + dir_ + "/sweep.json --out " + dir_ + "/s1 --jobs 1");
  EXPECT_EQ(r.status, 3) << r.output;
  const std::string rows = slurp(dir_ + "/s2/results.csv");
  EXPECT_EQ(rows, slurp(dir_ + "/s1/results.csv"));
  EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), 6);  // header and five points
  EXPECT_EQ(rows.rfind("status,key,gpu.memory_fraction,policies.eviction.name,engine.max_events,sim_time_ms", 0),
            0u)
      << rows;
  EXPECT_NE(rows.find("\nfailed,"), std::string::npos) << rows;
  // The same rows in SQLite: five points, four done, the metrics as numbers.
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((dir_ + "/s2/results.db").c_str(), &db, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "select count(*), sum(status = 'done'), typeof(max(batches)) from points",
                               -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 5);
  EXPECT_EQ(sqlite3_column_int(st, 1), 4);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, 2))), "real");
  sqlite3_finalize(st);
  sqlite3_close(db);
  size_t ok = 0, failed = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/s2/points")) {
    const std::string key = e.path().filename().string();
    if (std::filesystem::exists(e.path() / "stats.json")) {
      ++ok;
      EXPECT_EQ(slurp((e.path() / "stats.json").string()), slurp(dir_ + "/s1/points/" + key + "/stats.json"));
    } else {
      ++failed;
      EXPECT_NE(slurp((e.path() / "error.txt").string()).find("engine.max_events"), std::string::npos);
    }
  }
  EXPECT_EQ(ok, 4u);
  EXPECT_EQ(failed, 1u);
  // Resume: remove one finished point; only it runs again.
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/s2/points"))
    if (std::filesystem::exists(e.path() / "stats.json")) {
      std::filesystem::remove_all(e.path());
      break;
    }
  r = sh("sweep --spec " + dir_ + "/sweep.json --out " + dir_ + "/s2 --jobs 2");
  EXPECT_NE(r.output.find("5 points, 3 done before, 2 to run"), std::string::npos) << r.output;
  EXPECT_EQ(slurp(dir_ + "/s2/results.csv"), rows);
  // Another build's folder is refused.
  std::ofstream(dir_ + "/s2/sweep.json") << R"({"build": "0.0.1+0123456789abcdef"})";
  r = sh("sweep --spec " + dir_ + "/sweep.json --out " + dir_ + "/s2");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("swept by another build of uvmsim (0.0.1+0123456789abcdef"), std::string::npos)
      << r.output;
  // A bad axis is one error naming it, before anything runs.
  std::ofstream(dir_ + "/bad.json") << R"({"trace": ")" << dir_ << R"(/t.uvmt", "axes": {"gpu.memory_fractio": [1]}})";
  r = sh("sweep --spec " + dir_ + "/bad.json --out " + dir_ + "/s3");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("gpu.memory_fractio"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/s3"));
}

// A serving sweep over mixes (each a serving spec) and policy sets (policies/sets/*.json's form): every point
// serves its mix under its set's policies, as `uvmsim serve` with those settings does (the same statistics),
// and keeps its requests.csv beside its stats.json; the kernel templates shared between points change
// nothing (one thread and two give the same bytes).
TEST_F(Cli, ASweepServesEachMixUnderEachPolicySet) {
  const std::string mix =
      R"("warmup_requests": 1, "slowdown": false, "tenants": [{"model": "resnet18", "batch_sizes": [1, 2],
      "arrivals": {"process": "poisson", "rate_per_s": 50}})";
  std::ofstream(dir_ + "/a.json") << R"({"requests": 4, )" << mix << "]}";
  std::ofstream(dir_ + "/b.json") << R"({"requests": 3, )" << mix
                                  << R"(, {"model": "resnet18", "batch_sizes": [1], "arrivals": {"process":
      "poisson", "rate_per_s": 40}}]})";
  std::ofstream(dir_ + "/lru.json") << R"({"name": "lru", "policies": {"eviction": {"name": "lru_2mb"},
      "batching": {"name": "fixed", "params": {"batch_size": 2, "timeout_ns": 1000000}}}})";
  const std::string config = testing::source_dir() + "/sim/configs/h200.json";
  std::ofstream(dir_ + "/sweep.json")
      << R"({"config": ")" << config << R"(", "axes": {"mix": [")" << dir_ << R"(/a.json", ")" << dir_
      << R"(/b.json"], "policy_set": [")" << dir_ << R"(/lru.json", ")" << testing::source_dir()
      << R"(/policies/sets/baseline.json"], "gpu.memory_fraction": [0.5]}})";
  Result r = sh("sweep --spec " + dir_ + "/sweep.json --out " + dir_ + "/s2 --jobs 2");
  ASSERT_EQ(r.status, 0) << r.output;
  r = sh("sweep --spec " + dir_ + "/sweep.json --out " + dir_ + "/s1 --jobs 1");
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string rows = slurp(dir_ + "/s2/results.csv");
  EXPECT_EQ(rows, slurp(dir_ + "/s1/results.csv"));
  EXPECT_EQ(std::count(rows.begin(), rows.end(), '\n'), 5);  // header and four points
  EXPECT_EQ(rows.rfind("status,key,gpu.memory_fraction,mix,policy_set,", 0), 0u) << rows;
  // The point of mix a under the lru set: serve with the same settings gives the same statistics.
  ASSERT_EQ(sh("serve --spec " + dir_ + "/a.json --config " + config +
               " --set gpu.memory_fraction=0.5 --set policies.eviction.name=lru_2mb --set "
               "policies.batching.name=fixed --set policies.batching.params.batch_size=2 --set "
               "policies.batching.params.timeout_ns=1000000 --out " +
               dir_ + "/alone")
                .status,
            0);
  nlohmann::json alone = nlohmann::json::parse(slurp(dir_ + "/alone/stats.json"));
  size_t found = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/s2/points")) {
    const std::string key = e.path().filename().string();
    EXPECT_EQ(slurp((e.path() / "stats.json").string()), slurp(dir_ + "/s1/points/" + key + "/stats.json"));
    EXPECT_EQ(slurp((e.path() / "requests.csv").string()),
              slurp(dir_ + "/s1/points/" + key + "/requests.csv"));
    nlohmann::json j = nlohmann::json::parse(slurp((e.path() / "stats.json").string()));
    const nlohmann::json axes = j["sweep_point"]["axes"];
    EXPECT_EQ(
        j["config"]["policies"]["eviction"]["name"],
        axes["policy_set"].get<std::string>().find("lru") != std::string::npos ? "lru_2mb" : "driver_fifo");
    if (axes["mix"] == dir_ + "/a.json" && axes["policy_set"] == dir_ + "/lru.json") {
      ++found;
      EXPECT_EQ(j["stats"], alone["stats"]);
      EXPECT_EQ(j["tenants"], alone["tenants"]);
      EXPECT_EQ(slurp((e.path() / "requests.csv").string()), slurp(dir_ + "/alone/requests.csv"));
    }
  }
  EXPECT_EQ(found, 1u);
  // A policy set that is not one is an error naming the axis value, before anything runs.
  std::ofstream(dir_ + "/notaset.json") << R"({"name": "x"})";
  std::ofstream(dir_ + "/bad.json") << R"({"serve": ")" << dir_ << R"(/a.json", "axes": {"policy_set": [")"
                                    << dir_ << R"(/notaset.json"]}})";
  r = sh("sweep --spec " + dir_ + "/bad.json --out " + dir_ + "/s3");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("axes.policy_set.0"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/s3"));
}

// A sweep over generator settings: each point's trace is what `uvmsim generate` makes with them (the same
// statistics as generating and running it), and a setting the generator does not take is named.
TEST_F(Cli, ASweepOverGeneratorSettingsRunsWhatGenerateMakes) {
  const std::string config = testing::source_dir() + "/sim/configs/h100.json";
  std::ofstream(dir_ + "/sweep.json") << R"({"generate": {"pattern": "seq", "host_init": true}, "config": ")"
                                      << config << R"(", "axes": {"generate.bytes": ["16MiB", "32MiB"],
      "generate.pattern": ["seq", "random"], "gpu.memory_fraction": [0.5]}})";
  Result r = sh("sweep --spec " + dir_ + "/sweep.json --out " + dir_ + "/s --jobs 2");
  ASSERT_EQ(r.status, 0) << r.output;
  ASSERT_EQ(sh("generate --pattern random --bytes 32MiB --host-init --out " + dir_ + "/r.uvmt").status, 0);
  ASSERT_EQ(sh("run --trace " + dir_ + "/r.uvmt --config " + config +
               " --set gpu.memory_fraction=0.5 --out " + dir_ + "/alone")
                .status,
            0);
  const nlohmann::json alone = nlohmann::json::parse(slurp(dir_ + "/alone/stats.json"));
  size_t points = 0, found = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_ + "/s/points")) {
    ++points;
    const nlohmann::json j = nlohmann::json::parse(slurp((e.path() / "stats.json").string()));
    const nlohmann::json axes = j["sweep_point"]["axes"];
    if (axes["generate.bytes"] == "32MiB" && axes["generate.pattern"] == "random") {
      ++found;
      EXPECT_EQ(j["stats"], alone["stats"]);
      EXPECT_EQ(j["trace"]["command"], alone["trace"]["command"]);
    }
  }
  EXPECT_EQ(points, 4u);
  EXPECT_EQ(found, 1u);
  std::ofstream(dir_ + "/bad.json") << R"({"generate": {"pattern": "seq"}, "axes": {"generate.bytez": [1]}})";
  r = sh("sweep --spec " + dir_ + "/bad.json --out " + dir_ + "/s3");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("'generate.bytez': unknown setting"), std::string::npos) << r.output;
}

// A sweep killed with SIGKILL midway and run again loses no row and doubles none: every point once.
TEST_F(Cli, ASweepKilledMidwayResumesWithEveryPointOnce) {
  ASSERT_EQ(sh("generate --pattern random --bytes 128MiB --host-init --out " + dir_ + "/big.uvmt").status, 0);
  std::ofstream(dir_ + "/sweep.json") << R"({"trace": ")" << dir_ << R"(/big.uvmt", "axes": {
    "gpu.memory_fraction": [1.0, 0.9, 0.8, 0.7, 0.6, 0.5], "policies.eviction.name": ["driver_fifo", "lru_2mb"]}})";
  const std::string cmd =
      std::string(UVMSIM_BINARY) + " sweep --spec " + dir_ + "/sweep.json --out " + dir_ + "/k";
  // Killed once some points are done (or at 20 s at the latest).
  const int killed =
      std::system(("(" + cmd + " >/dev/null 2>&1 & p=$!; for i in $(seq 200); do [ $(ls " + dir_ +
                   "/k/points/*/stats.json 2>/dev/null | wc -l) -ge 3 ] && break; sleep 0.1; done; "
                   "kill -9 $p; wait $p) 2>/dev/null")
                      .c_str());
  (void)killed;
  const std::string before = slurp(dir_ + "/k/results.csv");
  ASSERT_LT(std::count(before.begin(), before.end(), '\n'), 13) << "the sweep ended before it was killed";
  const Result r = sh("sweep --spec " + dir_ + "/sweep.json --out " + dir_ + "/k");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.find("12 points, 0 done before"), std::string::npos) << r.output;  // it did resume
  const std::string rows = slurp(dir_ + "/k/results.csv");
  std::set<std::string> keys;
  std::istringstream lines(rows);
  std::string line;
  std::getline(lines, line);  // header
  size_t n = 0;
  while (std::getline(lines, line)) {
    ++n;
    EXPECT_EQ(line.rfind("done,", 0), 0u) << line;
    keys.insert(line.substr(5, 16));
  }
  EXPECT_EQ(n, 12u);
  EXPECT_EQ(keys.size(), 12u);
}

// Each line of --batch-log: its start, entries, distinct pages, VA blocks, bytes, duration, uTLBs, the kernel
// most entries came from and the lowest and highest page named (dense pages: the 16 MiB allocation's 4096).
TEST_F(Cli, BatchLogNamesEachBatchsKernelAndPageRange) {
  ASSERT_EQ(sh("run --trace " + dir_ + "/t.uvmt --config " + testing::source_dir() +
               "/sim/configs/h200.json --out " + dir_ + "/o --batch-log " + dir_ + "/b.log")
                .status,
            0);
  std::istringstream log(slurp(dir_ + "/b.log"));
  std::string line;
  std::getline(log, line);
  EXPECT_EQ(line,
            "# time_ns faults unique_pages va_blocks bytes duration_ns utlbs kernel low_page high_page");
  uint64_t batches = 0, entries = 0, first_span = 0;
  while (std::getline(log, line)) {
    std::istringstream f(line);
    uint64_t t, faults, pages, blocks, bytes, dur, utlbs, kernel, low, high;
    ASSERT_TRUE(f >> t >> faults >> pages >> blocks >> bytes >> dur >> utlbs >> kernel >> low >> high)
        << line;
    EXPECT_EQ(kernel, 0u) << line;  // the touch-back is the CPU's: every GPU fault is the kernel's
    EXPECT_LE(low, high) << line;
    EXPECT_LT(high, 4096u) << line;
    EXPECT_LE(pages, high - low + 1) << line;
    if (batches++ == 0) first_span = high - low;
    entries += faults;
  }
  auto j = nlohmann::json::parse(slurp(dir_ + "/o/stats.json"));
  EXPECT_EQ(batches, j["stats"]["batches"].get<uint64_t>());
  EXPECT_EQ(entries, j["stats"]["faults_fetched"].get<uint64_t>());
  EXPECT_GT(first_span, 2048u);  // the first batch's random pages lie all over the allocation
}

// validate --batch-log writes the batches validate simulated: run's log under the same config and the
// recording's settings, and as many lines as the batches validate counts.
TEST_F(Cli, ValidateWritesTheBatchLogRunWrites) {
  const std::string trace = testing::source_dir() + "/traces/corpus/h200/runtime_conv3x3_b1_sm8.uvmt";
  ASSERT_EQ(
      sh("validate --trace " + trace + " --json " + dir_ + "/v.json --batch-log " + dir_ + "/v.log").status,
      0);
  const auto v = nlohmann::json::parse(slurp(dir_ + "/v.json"));
  std::string sets;
  for (const auto& s : v["settings_from_recording"]) sets += " --set " + s.get<std::string>();
  ASSERT_EQ(sh("run --trace " + trace + " --config " + testing::source_dir() + "/sim/configs/h200.json" +
               sets + " --out " + dir_ + "/o --batch-log " + dir_ + "/r.log")
                .status,
            0);
  const std::string log = slurp(dir_ + "/v.log");
  EXPECT_EQ(log, slurp(dir_ + "/r.log"));
  double simulated = -1;
  for (const auto& q : v["quantities"])
    if (q["key"] == "batches") simulated = q["simulated"].get<double>();
  EXPECT_EQ(double(std::count(log.begin(), log.end(), '\n') - 1), simulated);  // the header line
  EXPECT_GT(simulated, 0);
}

TEST_F(Cli, TruncatedTraceIsOneClearError) {
  std::string full = slurp(dir_ + "/t.uvmt");
  std::ofstream(dir_ + "/cut.uvmt", std::ios::binary) << full.substr(0, full.size() / 2);
  Result r = sh("run --trace " + dir_ + "/cut.uvmt --out " + dir_ + "/o");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("uvmsim: error: " + dir_ + "/cut.uvmt: offset "), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/o/stats.json"));
}

TEST_F(Cli, UnknownConfigKeyIsNamed) {
  Result r = sh("run --trace " + dir_ + "/t.uvmt --set driver.replay_nsec=3 --out " + dir_ + "/o");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("unknown config key 'driver.replay_nsec'"), std::string::npos) << r.output;
  std::ofstream(dir_ + "/bad.json") << R"({"pcie": {"htod_bytes_per_s": 0}})";
  r = sh("run --trace " + dir_ + "/t.uvmt --config " + dir_ + "/bad.json --out " + dir_ + "/o");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("bad.json: config key 'pcie.htod_bytes_per_s'"), std::string::npos) << r.output;
  std::ofstream(dir_ + "/broken.json") << R"({"pcie": )";
  r = sh("run --trace " + dir_ + "/t.uvmt --config " + dir_ + "/broken.json --out " + dir_ + "/o");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("broken.json: invalid JSON"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/o/stats.json"));
}

// A config from public specifications (sim/configs/README.md) says so in its file and in every stats.json
// made with it, a calibrated one too; the key takes true or false only.
TEST_F(Cli, EveryStatsJsonSaysWhetherItsConfigIsCalibrated) {
  for (const auto& [config, calibrated] : std::vector<std::pair<std::string, bool>>{
           {"gtx1080ti", false}, {"v100", false}, {"a100", false}, {"h100", true}, {"h200", true}}) {
    const std::string path = testing::source_dir() + "/sim/configs/" + config + ".json";
    EXPECT_EQ(nlohmann::json::parse(slurp(path))["calibrated"], calibrated) << config;
    const Result r = sh("run --trace " + dir_ + "/t.uvmt --config " + path + " --out " + dir_ + "/" + config);
    ASSERT_EQ(r.status, 0) << r.output;
    const nlohmann::json j = nlohmann::json::parse(slurp(dir_ + "/" + config + "/stats.json"));
    EXPECT_EQ(j["calibrated"], calibrated) << config;
    EXPECT_EQ(j["config"]["calibrated"], calibrated) << config;
  }
  Result r = sh("run --trace " + dir_ + "/t.uvmt --set calibrated=1 --out " + dir_ + "/o");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("config key 'calibrated': expected true or false"), std::string::npos) << r.output;
  r = sh("run --trace " + dir_ + "/t.uvmt --set calibrated=false --out " + dir_ + "/o");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(nlohmann::json::parse(slurp(dir_ + "/o/stats.json"))["calibrated"], false);
}

TEST_F(Cli, TraceInfoDumpExport) {
  Result r = sh("trace info " + dir_ + "/t.uvmt");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("GPU footprint 16777216 bytes"), std::string::npos) << r.output;
  r = sh("trace dump " + dir_ + "/t.uvmt --max-ranges 2");
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("op 1 kernel"), std::string::npos);
  EXPECT_NE(r.output.find("cta 15:"), std::string::npos);
  r = sh("trace export " + dir_ + "/t.uvmt --csv " + dir_ + "/csv");
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/csv/ranges.csv"));
}

TEST_F(Cli, GenerateRejectsNonsense) {
  Result r = sh("generate --pattern seq --bytes 12parsecs --out " + dir_ + "/x.uvmt");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("12parsecs"), std::string::npos);
  r = sh("generate --pattern zigzag --out " + dir_ + "/x.uvmt");
  EXPECT_NE(r.status, 0);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/x.uvmt"));
}

TEST_F(Cli, PoliciesAndSchemaAreListed) {
  Result r = sh("policies");
  EXPECT_EQ(r.status, 0);
  for (const char* n : {"driver_tree", "none", "driver_fifo", "lru_2mb", "batch_flush", "once", "driver"})
    EXPECT_NE(r.output.find(n), std::string::npos) << n;
  r = sh("config-schema");
  EXPECT_NE(r.output.find("driver.fault_batch_count"), std::string::npos);
}

}  // namespace
}  // namespace uvmsim
