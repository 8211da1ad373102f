// Least response time: latency estimates and requests in flight, on a fake clock.
#include "strategies/least_response_time.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "unit/strategies/pool.hpp"

namespace veer::strategies {
namespace {

using unit::count_picks;
using unit::Pool;

TEST(LeastResponseTime, FollowsLatencyAndInFlight) {
  Pool pool({1, 1, 1});
  static std::chrono::steady_clock::time_point fake_now{std::chrono::seconds(100)};
  const auto clock = [] { return fake_now; };
  LeastResponseTime s(pool.views, 5, clock);
  const double decay = core::kLatencyDecayNs;
  pool.stats[0].latency.record(std::chrono::milliseconds(1), fake_now, decay);
  pool.stats[1].latency.record(std::chrono::milliseconds(1), fake_now, decay);
  pool.stats[2].latency.record(std::chrono::milliseconds(50), fake_now, decay);
  const auto counts = count_picks(s, pool, 3000);
  EXPECT_EQ(counts[2], 0) << "the slow backend loses every comparison";
  EXPECT_NEAR(counts[0], 1500, 150);
  // Load counts too: many requests in flight on backend 0 make it the costly one.
  pool.stats[0].in_flight = 100;
  const auto loaded = count_picks(s, pool, 3000);
  EXPECT_LT(loaded[0], loaded[1] / 10);
}

TEST(LeastResponseTime, AnUnsampledBackendIsTriedAndAnIdleSlowOneDecays) {
  Pool pool({1, 1});
  static std::chrono::steady_clock::time_point fake_now{std::chrono::seconds(100)};
  const auto clock = [] { return fake_now; };
  LeastResponseTime s(pool.views, 9, clock);
  pool.stats[0].latency.record(std::chrono::milliseconds(2), fake_now, core::kLatencyDecayNs);
  // Backend 1 has no sample: it is compared on in-flight alone, so it is tried.
  pool.stats[0].in_flight = 1;
  EXPECT_EQ(s.pick({}, pool.candidates()), 1u);
  // A slow backend left alone drifts back toward zero and is tried again.
  pool.stats[0].in_flight = 0;
  pool.stats[1].latency.record(std::chrono::milliseconds(50), fake_now, core::kLatencyDecayNs);
  EXPECT_EQ(s.pick({}, pool.candidates()), 0u);
  fake_now += std::chrono::seconds(10);  // backend 0 keeps being sampled at 2 ms
  pool.stats[0].latency.record(std::chrono::milliseconds(2), fake_now, core::kLatencyDecayNs);
  EXPECT_LT(pool.stats[1].latency.estimate_ns(fake_now, core::kLatencyDecayNs), 2e6);
  EXPECT_EQ(s.pick({}, pool.candidates()), 1u);
}

}  // namespace
}  // namespace veer::strategies
