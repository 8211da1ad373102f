// The latency estimate the load-aware strategies read (core/backend_stats.hpp).
#include "core/backend_stats.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

namespace veer::core {
namespace {

TEST(PeakEwma, PeaksAtOnceAndDecaysWithTime) {
  core::PeakEwma ewma;
  const auto t0 = std::chrono::steady_clock::time_point(std::chrono::seconds(1));
  const double decay = 2e9;
  EXPECT_LT(ewma.estimate_ns(t0, decay), 0) << "never sampled";
  ewma.record(std::chrono::milliseconds(10), t0, decay);
  ewma.record(std::chrono::milliseconds(40), t0 + std::chrono::milliseconds(1), decay);
  EXPECT_NEAR(ewma.estimate_ns(t0 + std::chrono::milliseconds(1), decay), 40e6, 1e3)
      << "a peak is believed at once";
  EXPECT_NEAR(ewma.estimate_ns(t0 + std::chrono::milliseconds(2001), decay), 40e6 / std::exp(1.0),
              1e4)
      << "one time constant later it has decayed by e";
}

}  // namespace
}  // namespace veer::core
