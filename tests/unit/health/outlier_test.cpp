// Passive ejection: consecutive failures, growing ejection times, the cap on how much
// of a pool may be out (health/outlier.hpp).
#include "health/outlier.hpp"

#include <gtest/gtest.h>

#include <chrono>

#include "health/reasons.hpp"
#include "unit/health/fixture.hpp"

namespace veer::health {
namespace {

using unit::Clock;
using unit::fail;
using unit::Pool;

using namespace std::chrono_literals;

TEST(Outlier, ConsecutiveFailuresEjectAndSuccessResets) {
  Pool pool;
  pool.config.consecutive_failures = 3;
  EXPECT_FALSE(fail(pool, 0));
  EXPECT_FALSE(fail(pool, 0, Outcome::reset));
  record_outcome(Outcome::success, pool.backends[0], pool.stats, &pool.config, 4, {}, Clock::now());
  EXPECT_FALSE(fail(pool, 0, Outcome::timeout));
  EXPECT_FALSE(fail(pool, 0, Outcome::server_error)) << "the success started the count again";
  EXPECT_TRUE(fail(pool, 0, Outcome::bad_response));
  EXPECT_TRUE(pool.backends[0].has(core::Reason::ejected));
  EXPECT_EQ(pool.stats.ejected.load(), 1u);
  EXPECT_FALSE(fail(pool, 0)) << "already ejected";
}

TEST(Outlier, TlsFailuresEjectAndTheCauseSaysTls) {
  Pool pool;
  pool.config.consecutive_failures = 2;
  EXPECT_FALSE(fail(pool, 0, Outcome::tls_failed));
  EXPECT_TRUE(fail(pool, 0, Outcome::tls_failed));
  const std::vector<ReasonNote> notes = reasons_of(pool.backends[0]);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].reason, "ejected");
  EXPECT_EQ(notes[0].cause.rfind("2 consecutive TLS failures; ejected for ", 0), 0u)
      << notes[0].cause;
}

TEST(Outlier, EjectionTimeGrowsWithEachEjectionUpToTheCap) {
  Pool pool;
  pool.config.consecutive_failures = 1;
  pool.config.base_ejection = 10s;
  pool.config.max_ejection = 25s;
  const Clock::time_point now = Clock::now();
  const auto ejected_for = [&] {
    return Clock::duration(pool.backends[0].ejected_until.load()) - now.time_since_epoch();
  };
  for (const auto expected : {10s, 20s, 25s, 25s}) {
    ASSERT_TRUE(fail(pool, 0, Outcome::connect_failed, now));
    EXPECT_EQ(ejected_for(), expected);
    EXPECT_TRUE(end_ejection(pool.backends[0], pool.stats, {"rpc", "127.0.0.1:1"}, "test"));
    EXPECT_EQ(pool.stats.ejected.load(), 0u);
    EXPECT_TRUE(pool.backends[0].routable());
  }
}

TEST(Outlier, NeverMoreThanMaxEjectedPercentButAlwaysOne) {
  Pool pool;
  pool.config.consecutive_failures = 1;
  pool.config.max_ejected_percent = 50;  // 2 of 4
  EXPECT_TRUE(fail(pool, 0));
  EXPECT_TRUE(fail(pool, 1));
  EXPECT_FALSE(fail(pool, 2)) << "a third would exceed 50%";
  EXPECT_TRUE(pool.backends[2].routable());
  ASSERT_TRUE(end_ejection(pool.backends[0], pool.stats, {"rpc", "a"}, "test"));
  EXPECT_TRUE(fail(pool, 2)) << "a slot came free";

  Pool tiny;
  tiny.config.consecutive_failures = 1;
  tiny.config.max_ejected_percent = 10;
  EXPECT_TRUE(fail(tiny, 0)) << "10% of 4 rounds down, but one may always go";
  EXPECT_FALSE(fail(tiny, 1));
  EXPECT_EQ(max_ejected(tiny.config, 100), 10u);
}

TEST(Outlier, WithoutConfigurationNothingIsEjected) {
  Pool pool;
  for (int i = 0; i < 100; ++i) {
    EXPECT_FALSE(record_outcome(Outcome::connect_failed, pool.backends[0], pool.stats, nullptr, 4,
                                {}, Clock::now()));
  }
  EXPECT_TRUE(pool.backends[0].routable());
}

}  // namespace
}  // namespace veer::health
