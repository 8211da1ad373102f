// Least connections: the fewest open connections win, ties are broken at random, and
// concurrent workers keep the counts close under churn.
#include "strategies/least_connections.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "core/random.hpp"
#include "unit/strategies/pool.hpp"

namespace veer::strategies {
namespace {

using unit::count_picks;
using unit::Pool;

TEST(LeastConnections, PicksTheFewestAndBreaksTiesAtRandom) {
  Pool pool({1, 1, 1, 1});
  auto s = pool.make("least_connections", 42);
  pool.stats[0].active_connections = 5;
  pool.stats[1].active_connections = 2;
  pool.stats[2].active_connections = 9;
  pool.stats[3].active_connections = 2;
  const auto counts = count_picks(*s, pool, 10000);
  EXPECT_EQ(counts[0] + counts[2], 0);
  EXPECT_GT(counts[1], 4500) << "ties split about evenly, not always the first";
  EXPECT_GT(counts[3], 4500);
}

TEST(LeastConnections, CountsStayWithinOnePlusWorkersUnderChurn) {
  // Long-lived connections (WebSocket subscriptions) keep arriving while some close:
  // each round up to kWorkers random connections end, then every worker picks for a
  // new one at the same instant (all picks happen before any count is updated).
  Pool pool({1, 1, 1, 1, 1});
  constexpr int kWorkers = 2;
  std::vector<std::unique_ptr<Strategy>> workers;
  for (int w = 0; w < kWorkers; ++w)
    workers.push_back(pool.make("least_connections", 100 + w));
  core::Random random(7);
  std::vector<std::uint32_t> open;  // backend of each open connection
  std::int64_t worst = 0;
  for (int round = 0; round < 20000; ++round) {
    for (int closing = static_cast<int>(random.below(kWorkers + 1)); closing > 0 && !open.empty();
         --closing) {
      const std::size_t i = random.below(static_cast<std::uint32_t>(open.size()));
      --pool.stats[open[i]].active_connections;
      open[i] = open.back();
      open.pop_back();
    }
    std::vector<std::uint32_t> picks;
    for (auto& w : workers)
      picks.push_back(w->pick({}, pool.candidates()));
    for (std::uint32_t b : picks) {
      ++pool.stats[b].active_connections;
      open.push_back(b);
    }
    std::int64_t low = INT64_MAX, high = INT64_MIN;
    for (auto& st : pool.stats) {
      low = std::min(low, st.active_connections.load());
      high = std::max(high, st.active_connections.load());
    }
    worst = std::max(worst, high - low);
  }
  EXPECT_GT(open.size(), 1000u) << "connections accumulated: the test exercised real load";
  EXPECT_LE(worst, 1 + kWorkers);
}

}  // namespace
}  // namespace veer::strategies
