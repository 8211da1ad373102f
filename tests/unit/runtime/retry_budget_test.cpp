// The per-worker retry budget: a share of recent requests plus a reserve
// (runtime/retry_budget.hpp).
#include "runtime/retry_budget.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace veer::runtime {
namespace {

TEST(RetryBudget, RetriesStayWithinThePercentageOfRecentRequests) {
  RetryBudget budget;
  budget.configure(20, 0);
  const RetryBudget::Clock::time_point start{std::chrono::hours(1000)};
  int allowed = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto now = start + std::chrono::milliseconds(i);
    budget.record_request(now);
    allowed += budget.try_spend(now) ? 1 : 0;  // every request wants a retry
  }
  EXPECT_EQ(allowed, 200);
}

TEST(RetryBudget, TheReserveLetsQuietPoolsRetry) {
  RetryBudget budget;
  budget.configure(20, 3);
  const RetryBudget::Clock::time_point start{std::chrono::hours(1000)};
  EXPECT_TRUE(budget.try_spend(start));
  EXPECT_TRUE(budget.try_spend(start));
  EXPECT_TRUE(budget.try_spend(start));
  EXPECT_FALSE(budget.try_spend(start)) << "reserve spent, no requests to earn more";
  EXPECT_FALSE(budget.try_spend(start + std::chrono::seconds(9)));
  EXPECT_TRUE(budget.try_spend(start + std::chrono::seconds(10))) << "the window moved on";
}

TEST(RetryBudget, OldRequestsStopCounting) {
  RetryBudget budget;
  budget.configure(50, 0);
  const RetryBudget::Clock::time_point start{std::chrono::hours(1000)};
  for (int i = 0; i < 100; ++i)
    budget.record_request(start);
  EXPECT_TRUE(budget.try_spend(start + std::chrono::seconds(9)));
  EXPECT_FALSE(budget.try_spend(start + std::chrono::seconds(11)))
      << "the requests of 11 s ago are out of the window";
}

}  // namespace
}  // namespace veer::runtime
