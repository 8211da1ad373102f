// Smooth weighted round robin: the cycle's shape, the shares, and scores kept over a
// reload that changes one weight.
#include "strategies/weighted.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "unit/strategies/pool.hpp"

namespace veer::strategies {
namespace {

using unit::count_picks;
using unit::Pool;

TEST(Weighted, SmoothCycleForFiveOneOne) {
  Pool pool({5, 1, 1});
  auto s = pool.make("weighted");
  std::string cycle;
  for (int i = 0; i < 7; ++i)
    cycle += static_cast<char>('a' + s->pick({}, pool.candidates()));
  EXPECT_EQ(cycle, "aabacaa");
  // Where two cycles meet, the heavy backend runs at most 4 times in a row.
  int run = 0, longest = 0;
  for (int i = 0; i < 700; ++i) {
    run = s->pick({}, pool.candidates()) == 0 ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  EXPECT_EQ(longest, 4);
}

TEST(Weighted, SharesFollowWeightsWithinOnePercent) {
  Pool pool({5, 3, 2, 7});
  auto s = pool.make("weighted");
  const auto counts = count_picks(*s, pool, 100000);
  const double total = 17;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    EXPECT_NEAR(counts[i] / 100000.0, pool.views[i].weight / total, 0.01) << i;
  }
}

TEST(Weighted, ChangingOneWeightKeepsTheOthersScores) {
  Pool pool({5, 1, 1});
  auto before = pool.make("weighted");
  for (int i = 0; i < 3; ++i)
    before->pick({}, pool.candidates());  // a a b: scores (1,-4,3)
  pool.views[2].weight = 4;               // the next snapshot moves c's weight only
  auto after = pool.make("weighted", 1, before.get());
  // Continuing with c at 4: scores (6,-3,7) -> c.
  EXPECT_EQ(after->pick({}, pool.candidates()), 2u);
  // A fresh strategy would have started from zero scores and picked a.
  auto fresh = pool.make("weighted");
  EXPECT_EQ(fresh->pick({}, pool.candidates()), 0u);
}

}  // namespace
}  // namespace veer::strategies
