#include "sim/config/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

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
  apply_override(c, "policies.eviction.name=lru_2mb");
  apply_override(c, "policies.prefetch.params.threshold=60");
  Config d;
  apply_json(d, to_json(c), "resolved");
  EXPECT_EQ(to_json(c), to_json(d));
}

TEST(Config, UnknownPolicyIsAnError) {
  Config c;
  apply_override(c, "policies.prefetch.name=magic");
  trace::Trace t = testing::base_trace(1 << 20);
  testing::add_kernel(t, {{0}});
  Workload w = Workload::build(t, "t");
  try {
    Simulator s(w, c);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("policies.prefetch.name"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("magic"), std::string::npos);
  }
  Config d;
  apply_override(d, "policies.eviction.params.depth=3");
  EXPECT_THROW(Simulator(w, d), ConfigError);
}

std::string config_error(const std::string& json_text, const std::vector<std::string>& sets = {}) {
  std::string path = ::testing::TempDir() + "/policy.json";
  std::ofstream(path) << json_text;
  try {
    load_config(path, sets);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

// policies.<kind>.name and policies.<kind>.params.<key>, checked against the policy's declaration; the
// spelling before the registry by kind is an error naming the new key.
TEST(Config, PoliciesByKindWithCheckedParameters) {
  EXPECT_EQ(
      config_error(R"({"policies": {"prefetch": {"name": "driver_tree", "params": {"threshold": 60}}}})"),
      "");
  EXPECT_NE(config_error(R"({"policies": {"prefetch": {"params": {"threshold": 0}}}})")
                .find("'policies.prefetch.params.threshold': value 0 outside [1, 100]"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"policies": {"prefetch": {"params": {"threshold": 50.5}}}})")
                .find("expected an integer"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"policies": {"prefetch": {"name": "none", "params": {"threshold": 50}}}})")
                .find("'policies.prefetch.params.threshold': the policy has no such parameter"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"policies": {"eviction": "lru_2mb"}})")
                .find("config key 'policies.eviction' is now 'policies.eviction.name'"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"policy_params": {}})").find("is now 'policies.<kind>.params.<key>'"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"driver": {"prefetch_threshold": 51}})")
                .find("'driver.prefetch_threshold' is now 'policies.prefetch.params.threshold'"),
            std::string::npos);
  EXPECT_NE(config_error(R"({"policies": {"colour": {"name": "red"}}})")
                .find("unknown config key 'policies.colour'"),
            std::string::npos);
  EXPECT_NE(config_error("{}", {"policies.eviction=lru_2mb"}).find("is now 'policies.eviction.name'"),
            std::string::npos);
  EXPECT_NE(config_error("{}", {"policy_params.driver_fifo.depth=3"}).find("policies.<kind>.params.<key>"),
            std::string::npos);
  EXPECT_NE(config_error("{}", {"policies.tlp.name=none"}).find("'policies.tlp.name': unknown policy 'none'"),
            std::string::npos);
  // `none` is a prefetch and a thrashing policy: each kind has its own parameters, so they never collide.
  EXPECT_EQ(config_error("{}", {"policies.prefetch.name=none", "policies.thrashing.name=none"}), "");
  // Choosing another policy drops the parameters given for the one before.
  Config c = load_config("", {"policies.prefetch.params.threshold=60", "policies.prefetch.name=none"});
  EXPECT_TRUE(c.policy_params("prefetch").empty());
  EXPECT_EQ(to_json(c)["policies"]["prefetch"], nlohmann::json::parse(R"({"name": "none", "params": {}})"));
  EXPECT_EQ(to_json(Config{})["policies"]["prefetch"]["params"]["threshold"], 51);
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
