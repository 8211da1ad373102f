#include "conf/duration.hpp"

#include <gtest/gtest.h>

namespace veer::conf {
namespace {

using namespace std::chrono_literals;

TEST(Duration, ParsesUnitsAndCombinations) {
  EXPECT_EQ(parse_duration("250ms"), Duration{250});
  EXPECT_EQ(parse_duration("2s"), Duration{2000});
  EXPECT_EQ(parse_duration("5m"), Duration{300000});
  EXPECT_EQ(parse_duration("1h"), Duration{3600000});
  EXPECT_EQ(parse_duration("1m30s"), Duration{90000});
  EXPECT_EQ(parse_duration("0s"), Duration{0});
}

TEST(Duration, RefusesMalformedText) {
  for (const char* bad : {"", "2", "s", "2 s", "2sec", "-1s", "1.5s", "2S", "1d", "99999999999h"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
}

TEST(Duration, FormatsTheShortestExactSpelling) {
  EXPECT_EQ(format_duration(Duration{3600000}), "1h");
  EXPECT_EQ(format_duration(Duration{90000}), "90s");
  EXPECT_EQ(format_duration(Duration{120000}), "2m");
  EXPECT_EQ(format_duration(Duration{250}), "250ms");
  EXPECT_EQ(format_duration(Duration{0}), "0s");
}

}  // namespace
}  // namespace veer::conf
