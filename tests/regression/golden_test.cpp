// Golden stats.json for the micro-workloads under sim/configs/h100.json: any change to the model's
// behaviour shows up here. Regenerate deliberately with UVMSIM_UPDATE_GOLDEN=1 and review the diff.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "test_util.h"

namespace uvmsim {
namespace {

struct Case {
  const char* name;
  bool random;
  uint64_t bytes;
  bool host_init, touch_back, prefetch, write;
  double fraction;
};

const Case kCases[] = {
    {"seq_64mib", false, 64 << 20, true, false, false, false, 0},
    {"random_64mib", true, 64 << 20, true, false, false, false, 0},
    {"seq_64mib_touch_back", false, 64 << 20, true, true, false, false, 0},
    {"seq_64mib_prefetch", false, 64 << 20, true, false, true, false, 0},
    {"seq_64mib_zero_fill", false, 64 << 20, false, false, false, true, 0},
    {"seq_256mib_half_memory", false, 256 << 20, true, false, false, false, 0.5},
    {"random_256mib_half_memory", true, 256 << 20, true, true, false, false, 0.5},
    {"random_64mib_75pct_memory", true, 64 << 20, true, true, false, false, 0.75},
};

class Golden : public ::testing::TestWithParam<Case> {};

TEST_P(Golden, StatsMatch) {
  const Case& c = GetParam();
  Workload w = testing::micro(c.random, c.bytes, c.host_init, c.touch_back, c.prefetch, c.write);
  Config cfg = load_config(testing::source_dir() + "/sim/configs/h100.json", {});
  if (c.fraction > 0) cfg.gpu.memory_fraction = c.fraction;
  std::string got = result_json(w, cfg, simulate(w, cfg, true).stats).dump(1) + "\n";
  std::string path = testing::source_dir() + "/tests/regression/golden/" + c.name + ".json";
  if (std::getenv("UVMSIM_UPDATE_GOLDEN")) {
    std::ofstream(path) << got;
    GTEST_SKIP() << "golden file written: " << path;
  }
  std::ifstream f(path);
  ASSERT_TRUE(f.good()) << "missing golden file " << path << " (run with UVMSIM_UPDATE_GOLDEN=1)";
  std::stringstream want;
  want << f.rdbuf();
  EXPECT_EQ(got, want.str()) << "stats differ from " << path;
}

INSTANTIATE_TEST_SUITE_P(Micro, Golden, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<Case>& i) { return std::string(i.param.name); });

}  // namespace
}  // namespace uvmsim
