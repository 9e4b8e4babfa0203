// The calibration promise: with sim/configs/h100.json, every timed row of the H100 table in
// reference/measurements.md within 15% and the resident rows within 0.05 ms, by one parameter set; and the
// share of fault-driven HtoD bytes moved by the prefetcher within 5 points of the counter pass.
// The measured values live only in tests/data/h100_micro.json.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "sim/cli/calibrate.h"
#include "test_util.h"

namespace uvmsim {
namespace {

TEST(Calibration, H100ConfigReproducesEveryRow) {
  auto rows = load_measurements(testing::source_dir() + "/tests/data/h100_micro.json");
  ASSERT_EQ(rows.size(), 18u);
  Config c = load_config(testing::source_dir() + "/sim/configs/h100.json", {});
  auto sim = simulate_rows(rows, c, 2);
  for (size_t i = 0; i < rows.size(); ++i) {
    double err = sim[i] - rows[i].value;
    if (rows[i].abs_tolerance > 0) {
      EXPECT_LE(std::abs(err), rows[i].abs_tolerance)
          << rows[i].name << ": simulated " << sim[i] << " " << rows[i].unit << ", measured " << rows[i].value;
    }
    if (rows[i].rel_tolerance > 0) {
      EXPECT_LE(std::abs(err) / rows[i].value, rows[i].rel_tolerance)
          << rows[i].name << ": simulated " << sim[i] << " " << rows[i].unit << ", measured " << rows[i].value;
    }
  }
}

}  // namespace
}  // namespace uvmsim

namespace uvmsim {
namespace {

// Writes `text` to `path` and loads it as measurements: the error's text, or "" if it was accepted.
std::string load_error(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  try {
    load_measurements(path);
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}

// A recorded trace in the fit: a row for its paging overhead and one for its prefetch share (both scored
// in micro_seq_64m), weighted as one cold run, simulated as `uvmsim validate` simulates them.
// A row's "weight" scales its squared log error in the fit (the zero-fill row weighs 4); a weight that is
// not a positive number is an error naming the file and the row.
TEST(Calibration, RowWeights) {
  auto rows = load_measurements(testing::source_dir() + "/tests/data/h100_micro.json");
  double total = 0;
  for (const MeasuredRow& r : rows) total += r.weight;
  EXPECT_DOUBLE_EQ(total, 21.0);  // 17 rows of weight 1, the zero-fill row 4
  const std::string path = ::testing::TempDir() + "/weight.json";
  const std::string e =
      load_error(path, R"({"rows": [{"name": "w", "bytes": "64MiB", "measure": "first_touch",
                                                       "value": 1, "weight": -1}]})");
  EXPECT_FALSE(e.empty()) << "a negative weight was accepted";
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("'w': weight"), std::string::npos) << e;
}

// A row's pattern is seq, random or strided; anything else is an error naming the file and the row.
// The check set is never fitted: calibrate refuses a trace traces/corpus/split.json lists (by content hash,
// so a copy elsewhere is refused too, given the file), naming it; the split holds out at least a third of
// the corpus's workloads, every partition of a held-out workload with it.
TEST(Calibration, RefusesATraceOfTheCheckSet) {
  const std::string src = testing::source_dir();
  const std::string listed = src + "/traces/corpus/h200/micro_random_64m_sm8.uvmt";
  testing::Result r =
      testing::sh("calibrate --measurements " + src + "/tests/data/h100_micro.json --config " + src +
                  "/sim/configs/h100.json --iterations 1 --traces " + listed);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("micro_random_64m_sm8.uvmt: in the check set"), std::string::npos) << r.output;
  const std::string copy = ::testing::TempDir() + "/elsewhere.uvmt";
  std::filesystem::copy_file(listed, copy, std::filesystem::copy_options::overwrite_existing);
  r = testing::sh("calibrate --measurements " + src + "/tests/data/h100_micro.json --config " + src +
                  "/sim/configs/h100.json --iterations 1 --split " + src +
                  "/traces/corpus/split.json --traces " + copy);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("elsewhere.uvmt: in the check set"), std::string::npos) << r.output;

  const nlohmann::json split = nlohmann::json::parse(std::ifstream(src + "/traces/corpus/split.json"));
  EXPECT_GE(3 * split["check_workloads"].size(), split["workloads"].get<size_t>());
  std::set<std::string> held;
  for (const auto& c : split["check"]) held.insert(c["trace"].get<std::string>());
  for (const char* n : {"132", "72", "32", "16", "8"})
    EXPECT_TRUE(held.count(std::string("h200/micro_random_64m_sm") + n + ".uvmt")) << n;
}

TEST(Calibration, UnknownPatternIsAnError) {
  const std::string path = ::testing::TempDir() + "/pattern.json";
  const std::string e = load_error(path, R"({"rows": [{"name": "z", "pattern": "zigzag", "bytes": "64MiB",
                                                       "measure": "first_touch", "value": 1}]})");
  EXPECT_FALSE(e.empty()) << "an unknown pattern was accepted";
  EXPECT_NE(e.find(path), std::string::npos) << e;
  EXPECT_NE(e.find("'z': pattern: 'zigzag' is not seq"), std::string::npos) << e;
}

TEST(Calibration, RecordedTraceRows) {
  const std::string path = testing::source_dir() + "/traces/corpus/micro_seq_64m.uvmt";
  const std::vector<MeasuredRow> rows = trace_rows(path);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].measure, "paging_overhead_ms");
  EXPECT_EQ(rows[1].measure, "prefetch_share_pct");
  EXPECT_NEAR(rows[0].value, 12.913, 0.001);  // observed on the H100
  for (const MeasuredRow& r : rows) EXPECT_DOUBLE_EQ(r.weight, kTraceRowWeight);
  const Config c = load_config(testing::source_dir() + "/sim/configs/h100.json", {});
  const std::vector<double> sim = simulate_rows(rows, c, 2);
  EXPECT_NEAR(sim[0], rows[0].value, 0.15 * rows[0].value);  // in the fit: within 15%
  EXPECT_NEAR(sim[1], rows[1].value, 5.0);                   // within 5 points
}

}  // namespace
}  // namespace uvmsim

namespace uvmsim {
namespace {

// sim/configs/h100_jitter.json (jitter 1 us, runs of 1, fitted with these rows; results/calibration.md)
// reproduces the one-page-per-CTA rows of tests/data/h100_micro_dense.json within their 20%. The default
// (runs of 3, fitted to the table without these rows, which another machine measured) is within 40%; the
// default before fault arrival jitter was 1.5 to 4 times too slow on them.
TEST(Calibration, JitterConfigReproducesOnePagePerCtaRows) {
  auto rows = load_measurements(testing::source_dir() + "/tests/data/h100_micro_dense.json");
  ASSERT_EQ(rows.size(), 5u);
  const Config jitter = load_config(testing::source_dir() + "/sim/configs/h100_jitter.json", {});
  const Config dflt = load_config(testing::source_dir() + "/sim/configs/h100.json", {});
  const std::vector<double> sim = simulate_rows(rows, jitter, 2);
  const std::vector<double> off = simulate_rows(rows, dflt, 2);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_LE(std::abs(sim[i] / rows[i].value - 1), rows[i].rel_tolerance) << rows[i].name << ": " << sim[i];
    EXPECT_LE(std::abs(off[i] / rows[i].value - 1), 0.4) << rows[i].name << ": " << off[i];
  }
}

}  // namespace
}  // namespace uvmsim

namespace uvmsim {
namespace {

// Root mean square of the log errors of a row set's fitted rows.
double rms_log_error(const std::vector<MeasuredRow>& rows, const std::vector<double>& sim) {
  double s = 0;
  int n = 0;
  for (size_t i = 0; i < rows.size(); ++i)
    if (rows[i].fit) {
      const double e = std::log(sim[i] / rows[i].value);
      s += e * e;
      ++n;
    }
  return std::sqrt(s / n);
}

// A config fitted to a row set alone reproduces those rows better than the reference table's fit does:
// every timed row within a factor of 1.9, the resident rows within 0.05 ms and the prefetch shares within
// 5 points, the root mean square log error at most 0.20.
void expect_fits_own_rows(const std::string& rows_path, const std::string& config_path,
                          const std::string& label, size_t row_count = 42) {
  const std::string root = testing::source_dir() + "/";
  const auto rows = load_measurements(root + rows_path);
  ASSERT_EQ(rows.size(), row_count) << label;
  const std::vector<double> own = simulate_rows(rows, load_config(root + config_path, {}), 2);
  const std::vector<double> ref = simulate_rows(rows, load_config(root + "sim/configs/h100.json", {}), 2);
  for (size_t i = 0; i < rows.size(); ++i) {
    const MeasuredRow& r = rows[i];
    if (r.unit == "%")
      EXPECT_LE(std::abs(own[i] - r.value), 5.0) << label << " " << r.name;
    else if (!r.fit)
      EXPECT_LE(std::abs(own[i] - r.value), 0.05) << label << " " << r.name;
    else
      EXPECT_LE(std::abs(std::log(own[i] / r.value)), std::log(1.9))
          << label << " " << r.name << ": simulated " << own[i] << " ms, measured " << r.value;
  }
  const double e_own = rms_log_error(rows, own), e_ref = rms_log_error(rows, ref);
  EXPECT_LT(e_own, e_ref) << label;
  EXPECT_LE(e_own, 0.20) << label;
  std::printf("%s: rms log error %.3f under its own fit, %.3f under sim/configs/h100.json\n", label.c_str(),
              e_own, e_ref);
}

// Each machine of traces/corpus/machines.json has its micro-workloads as rows and a config fitted to them
// alone (results/calibration.md); the fits' root mean square log errors are 0.175 and 0.190.
TEST(Calibration, EachMachinesConfigFitsItsOwnMicroWorkloads) {
  std::ifstream in(testing::source_dir() + "/traces/corpus/machines.json");
  ASSERT_TRUE(in) << "traces/corpus/machines.json";
  const nlohmann::json machines = nlohmann::json::parse(in).at("machines");
  ASSERT_EQ(machines.size(), 2u);
  for (const auto& m : machines) expect_fits_own_rows(m.at("rows"), m.at("config"), m.at("gpu"));
}

// The fit to two machines' mean rows (results/calibration.md, "Two machines") reproduces those rows.
TEST(Calibration, TwoMachinesConfigFitsTheirMeanRows) {
  expect_fits_own_rows("tests/data/h100_micro_two_machines.json", "sim/configs/h100_two_machines.json",
                       "two machines' mean");
}

// GPU-c85c9a1b's rows include pages shared by 2, 4 and 8 CTAs, the only rows with duplicate faults: its fit
// determines driver.duplicate_fault_ns (results/calibration.md, "Two machines").
TEST(Calibration, SharedPagesMachineConfigFitsItsRows) {
  expect_fits_own_rows("tests/data/h100_micro_c85c9a1b.json", "sim/configs/h100_c85c9a1b.json",
                       "GPU-c85c9a1b", 54);
}

// Keys no row depends on stay at their starting value: a 4 KiB zero-fill has no duplicate faults, no DtoH
// copies and no CPU faults, so a fit to it alone moves none of their costs (they drifted with the simplex
// before, and the model traces depend on duplicate faults: results/calibration.md, "Two machines").
TEST(Calibration, KeysNoRowDependsOnAreHeld) {
  const std::string dir = ::testing::TempDir();
  std::ofstream(dir + "/zf.json")
      << R"({"rows": [{"name": "zero-fill 4 KiB", "pattern": "seq", "bytes": "4KiB",
    "write": true, "measure": "first_touch", "value": 0.2, "unit": "ms", "rel_tolerance": 0.15}]})";
  CalibrateArgs a;
  a.measurements = dir + "/zf.json";
  a.config = testing::source_dir() + "/sim/configs/h100.json";
  a.out = dir + "/zf_fit.json";
  a.iterations = 6;
  ::testing::internal::CaptureStdout();
  ::testing::internal::CaptureStderr();
  ASSERT_EQ(run_calibrate(a), 0);
  ::testing::internal::GetCapturedStdout();
  const std::string err = ::testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("held at the starting value (no row depends on it): "), std::string::npos) << err;
  EXPECT_NE(err.find("driver.duplicate_fault_ns"), std::string::npos) << err;
  const Config start = load_config(a.config, {}), fitted = load_config(a.out, {});
  EXPECT_EQ(fitted.driver.duplicate_fault_ns, start.driver.duplicate_fault_ns);
  EXPECT_EQ(fitted.pcie.dtoh_bytes_per_s, start.pcie.dtoh_bytes_per_s);
  EXPECT_EQ(fitted.host.cpu_fault_ns, start.host.cpu_fault_ns);
  EXPECT_NE(to_json(fitted).dump(), to_json(start).dump());  // the keys this row depends on moved
}

}  // namespace
}  // namespace uvmsim
