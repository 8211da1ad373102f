// The "did you mean" of an unknown key (conf/key_suggest.hpp).
#include "conf/key_suggest.hpp"

#include <gtest/gtest.h>

#include <array>
#include <optional>
#include <string_view>

namespace veer::conf {
namespace {

TEST(KeySuggest, ClosestKeyNeedsOneCandidateWithinTheLimit) {
  constexpr std::array<std::string_view, 5> kKnown{"workers", "io_engine", "access_log",
                                                   "state_file", "log"};
  EXPECT_EQ(closest_key("worker", kKnown), "workers");
  EXPECT_EQ(closest_key("wokrers", kKnown), "workers");  // a swap is one edit
  EXPECT_EQ(closest_key("WORKERS", kKnown), "workers");  // case alone
  EXPECT_EQ(closest_key("acess_lgo", kKnown), "access_log");
  EXPECT_EQ(closest_key("logs", kKnown), "log");
  EXPECT_EQ(closest_key("colour", kKnown), std::nullopt);
  EXPECT_EQ(closest_key("wrkr", kKnown), std::nullopt);  // 3 edits
  EXPECT_EQ(closest_key("lg", kKnown), "log");
  EXPECT_EQ(closest_key("dog", kKnown), "log");
  EXPECT_EQ(closest_key("dg", kKnown), std::nullopt);  // short keys get one edit only
  // Two keys equally close: no guess.
  constexpr std::array<std::string_view, 3> kTwins{"rise", "rose", "rise"};
  EXPECT_EQ(closest_key("rase", kTwins), std::nullopt);
  EXPECT_EQ(closest_key("risk", kTwins), "rise");  // the duplicate counts once
  EXPECT_EQ(closest_key("anything", {}), std::nullopt);
}

}  // namespace
}  // namespace veer::conf
