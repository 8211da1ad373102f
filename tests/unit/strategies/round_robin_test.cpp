// Round robin: an even cycle, workers starting apart, and the cursor kept over a reload.
#include "strategies/round_robin.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "unit/strategies/pool.hpp"

namespace veer::strategies {
namespace {

using unit::count_picks;
using unit::Pool;

TEST(RoundRobin, CyclesEvenlyAndWorkersStartApart) {
  Pool pool({1, 1, 1});
  auto w0 = pool.make("round_robin", 0);
  auto w1 = pool.make("round_robin", 1);
  EXPECT_EQ(count_picks(*w0, pool, 300), (std::vector<int>{100, 100, 100}));
  EXPECT_NE(w0->pick({}, pool.candidates()), w1->pick({}, pool.candidates()))
      << "two workers do not begin on the same backend";
}

TEST(RoundRobin, ReloadKeepsTheCursor) {
  Pool pool({1, 1, 1});
  auto before = pool.make("round_robin", 0);
  EXPECT_EQ(before->pick({}, pool.candidates()), 0u);
  auto after = pool.make("round_robin", 7, before.get());
  EXPECT_EQ(after->pick({}, pool.candidates()), 1u);
}

}  // namespace
}  // namespace veer::strategies
