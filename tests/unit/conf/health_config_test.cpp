// A reload keeps a backend's health probe, and its rise and fall counts, only when its
// check settings compare equal (health/checker.cpp): every field must take part.
#include <gtest/gtest.h>

#include <chrono>

#include "conf/config.hpp"

namespace veer::conf {
namespace {

TEST(HealthConfigEquality, EveryFieldCounts) {
  const HealthConfig base;
  EXPECT_EQ(base, HealthConfig{});
  const auto differs = [&](auto change) {
    HealthConfig other = base;
    change(other);
    return !(other == base);
  };
  EXPECT_TRUE(differs([](HealthConfig& h) { h.type = HealthConfig::Type::tcp; }));
  EXPECT_TRUE(differs([](HealthConfig& h) { h.path = "/health"; }));
  EXPECT_TRUE(differs([](HealthConfig& h) { h.http_method = "HEAD"; }));
  EXPECT_TRUE(differs([](HealthConfig& h) { h.rpc_method = "net_version"; }));
  EXPECT_TRUE(differs([](HealthConfig& h) { h.expect_min = 204; }));
  EXPECT_TRUE(differs([](HealthConfig& h) { h.expect_max = 399; }));
  EXPECT_TRUE(differs([](HealthConfig& h) { h.body = "ok"; }));
  EXPECT_TRUE(differs([](HealthConfig& h) { h.headers.emplace_back("X-A", "1"); }));
  EXPECT_TRUE(differs([](HealthConfig& h) { h.host = "example.org"; }));
  EXPECT_TRUE(differs([](HealthConfig& h) { h.interval = std::chrono::seconds(1); }));
  EXPECT_TRUE(differs([](HealthConfig& h) { h.timeout = std::chrono::seconds(1); }));
  EXPECT_TRUE(differs([](HealthConfig& h) { h.jitter = std::chrono::seconds(1); }));
  EXPECT_TRUE(differs([](HealthConfig& h) { h.rise = 5; }));
  EXPECT_TRUE(differs([](HealthConfig& h) { h.fall = 5; }));
  EXPECT_TRUE(differs([](HealthConfig& h) { h.max_lag_blocks = 10; }));
}

}  // namespace
}  // namespace veer::conf
