// A lane's virtual clock (sim/gpu/lane.h): the CTAs of one kernel on one SM cover reference time at the
// lane's speed, and a change of speed moves when each comes due without touching its entry.
#include "sim/gpu/lane.h"

#include <gtest/gtest.h>

namespace uvmsim {
namespace {

TEST(Lane, ASpeedChangeMovesEveryCtaByTheComputeItHasLeft) {
  Lane l;
  l.reset(0, 0);
  l.rebase(0, 1.0);
  l.insert({1000, 7, 0});  // 1000 ns of reference time from t = 0
  l.insert({400, 9, 1});
  l.find_head(0);
  EXPECT_EQ(l.head().slot, 1u);
  EXPECT_EQ(l.head_due(), 400);
  // At t = 200 the SM gets busier: half speed. Slot 1 has 200 ns left (400 at the new speed), slot 0 has 800
  // (1600): exact processor sharing, whatever order the entries were made in.
  l.rebase(200, 0.5);
  l.find_head(200);
  EXPECT_EQ(l.head_due(), 600);
  EXPECT_EQ(l.due(1000), 1800);
  // The first is done at 600; at 1000 the SM frees up again (speed 2): the clock reads 600, so 400 ns of
  // reference are left, which take 200.
  l.remove(1);
  l.rebase(1000, 2.0);
  l.find_head(1000);
  EXPECT_EQ(l.head().slot, 0u);
  EXPECT_EQ(l.head_due(), 1200);
}

TEST(Lane, CtasDueInTheSameNanosecondComeInKeyOrder) {
  Lane l;
  l.reset(0, 0);
  l.rebase(0, 3.0);
  l.insert({3.0, 5, 0});  // due at 1 ns
  l.insert({2.5, 8, 1});  // the clock passes it within the same ns: due at 1 ns too
  l.insert({3.5, 1, 2});  // due at 2 ns
  l.find_head(0);
  EXPECT_EQ(l.head().slot, 0u);  // key 5 before key 8, though its reading is later
  EXPECT_EQ(l.head_due(), 1);
  // Overdue entries are due now.
  l.find_head(10);
  EXPECT_EQ(l.head().slot, 2u);
  EXPECT_EQ(l.head_due(), 10);
}

TEST(Lane, AReadingPassedBeforeTheLastRebaseIsPlacedInTheSpeedBeforeIt) {
  Lane l;
  l.reset(0, 0);
  l.rebase(0, 1.0);
  l.rebase(100, 4.0);  // clock reads 100 at t = 100
  EXPECT_EQ(l.due(60), 60);
  EXPECT_EQ(l.due(100), 100);
  EXPECT_EQ(l.due(140), 110);
}

}  // namespace
}  // namespace uvmsim
