#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "sim/config.h"
#include "test_util.h"

namespace uvmsim {
namespace {

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, UnknownKeyIsNamed) {
  Config c;
  std::string e = error_of([&] { apply_json(c, nlohmann::json::parse(R"({"driver": {"fault_batch_cnt": 3}})"), "x.json"); });
  EXPECT_NE(e.find("x.json"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown config key 'driver.fault_batch_cnt'"), std::string::npos) << e;
  e = error_of([&] { apply_override(c, "gpu.nonsense=1"); });
  EXPECT_NE(e.find("unknown config key 'gpu.nonsense'"), std::string::npos) << e;
  e = error_of([&] { apply_json(c, nlohmann::json::parse(R"({"bogus": 1})"), "x.json"); });
  EXPECT_NE(e.find("'bogus'"), std::string::npos) << e;
}

TEST(Config, BadValuesAreNamed) {
  Config c;
  std::string e = error_of([&] { apply_override(c, "pcie.htod_bytes_per_s=-5"); });
  EXPECT_NE(e.find("'pcie.htod_bytes_per_s'"), std::string::npos) << e;
  EXPECT_NE(e.find("outside"), std::string::npos) << e;
  e = error_of([&] { apply_override(c, "driver.fault_batch_count=2.5"); });
  EXPECT_NE(e.find("expected an integer"), std::string::npos) << e;
  e = error_of([&] { apply_override(c, "gpu.sm_count=many"); });
  EXPECT_NE(e.find("expected a number"), std::string::npos) << e;
  e = error_of([&] { apply_json(c, nlohmann::json::parse(R"({"gpu": {"name": 3}})"), "y.json"); });
  EXPECT_NE(e.find("'gpu.name': expected a string"), std::string::npos) << e;
}

// A time slice shorter than a context switch cannot work (processes would spend their turns switching):
// 2081 typed for 2081 us is refused, naming the key; 0 (MPS) and the shortest workable turn are fine.
TEST(Config, ATimeSliceShorterThanAContextSwitchIsRefused) {
  try {
    load_config("", {"gpu.timeslice_ns=2081"});
    ADD_FAILURE() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'gpu.timeslice_ns'"), std::string::npos) << e.what();
  }
  EXPECT_NO_THROW(load_config("", {"gpu.timeslice_ns=0"}));
  EXPECT_NO_THROW(load_config("", {"gpu.timeslice_ns=162000"}));
  Config c;
  c.gpu.timeslice_ns = 1000;
  trace::Trace t = testing::base_trace(2 << 20);
  EXPECT_THROW(Simulator(Workload::build(t, "t"), c), ConfigError);  // configs built in code too
}

TEST(Config, PrecedenceDefaultsThenFileThenSet) {
  std::string path = ::testing::TempDir() + "/c.json";
  std::ofstream(path) << R"({"driver": {"fault_batch_count": 128, "replay_ns": 7}})";
  Config c = load_config(path, {"driver.fault_batch_count=64"});
  EXPECT_EQ(c.driver.fault_batch_count, 64);
  EXPECT_EQ(c.driver.replay_ns, 7);
  EXPECT_EQ(c.gpu.sm_count, 132);
}

TEST(Config, ResolvedJsonRoundTrips) {
  Config c;
  apply_override(c, "gpu.memory_fraction=0.5");
  apply_override(c, "policies.eviction=lru_2mb");
  Config d;
  apply_json(d, to_json(c), "resolved");
  EXPECT_EQ(to_json(c), to_json(d));
}

TEST(Config, UnknownPolicyIsAnError) {
  Config c;
  apply_override(c, "policies.prefetch=magic");
  trace::Trace t = testing::base_trace(1 << 20);
  testing::add_kernel(t, {{0}});
  Workload w = Workload::build(t, "t");
  try {
    Simulator s(w, c);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("policies.prefetch"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("magic"), std::string::npos);
  }
  Config d;
  apply_override(d, "policy_params.driver_fifo.depth=3");
  EXPECT_THROW(Simulator(w, d), ConfigError);
}

TEST(Config, CheckedInH100ConfigLoads) {
  Config c = load_config(testing::source_dir() + "/sim/configs/h100.json", {});
  EXPECT_EQ(c.gpu.sm_count, 132);
  EXPECT_EQ(c.gpu.memory_bytes, int64_t{81559} << 20);
  EXPECT_EQ(c.driver.fault_batch_count, 256);
  EXPECT_EQ(c.policies.replay, "batch_flush");
}

}  // namespace
}  // namespace uvmsim

namespace uvmsim {
namespace {

// The built-in defaults are the H100 calibration: running without --config gives the calibrated model.
TEST(Config, DefaultsEqualTheCalibratedH100Config) {
  Config c = load_config(testing::source_dir() + "/sim/configs/h100.json", {});
  Config d;
  d.gpu.name = c.gpu.name;
  EXPECT_EQ(to_json(d).dump(1), to_json(c).dump(1));
}

}  // namespace
}  // namespace uvmsim
