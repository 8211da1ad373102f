// A backend's reasons to be out of rotation change independently; the strongest is its
// state (health/transitions.hpp).
#include "health/transitions.hpp"

#include <gtest/gtest.h>

namespace veer::health {
namespace {

TEST(Transitions, ReasonsAreIndependentAndTheStrongestIsShown) {
  core::BackendStats stats;
  const BackendName who{"rpc", "127.0.0.1:1"};
  EXPECT_STREQ(core::state_name(stats.reasons.load()), "up");
  EXPECT_TRUE(change_reason(stats, core::Reason::ejected, true, who, "test"));
  EXPECT_TRUE(change_reason(stats, core::Reason::down, true, who, "test"));
  EXPECT_STREQ(core::state_name(stats.reasons.load()), "down");
  EXPECT_TRUE(change_reason(stats, core::Reason::draining, true, who, "test"));
  EXPECT_STREQ(core::state_name(stats.reasons.load()), "draining");
  EXPECT_FALSE(change_reason(stats, core::Reason::draining, true, who, "test")) << "already so";
  EXPECT_TRUE(change_reason(stats, core::Reason::down, false, who, "checks pass"));
  EXPECT_FALSE(stats.routable()) << "checks passing never lift a drain or an ejection";
  EXPECT_EQ(stats.routable_since.load(), 0);
  EXPECT_TRUE(change_reason(stats, core::Reason::draining, false, who, "test"));
  EXPECT_TRUE(change_reason(stats, core::Reason::ejected, false, who, "test"));
  EXPECT_TRUE(stats.routable());
  EXPECT_GT(stats.routable_since.load(), 0) << "stamped for slow start";
}

}  // namespace
}  // namespace veer::health
