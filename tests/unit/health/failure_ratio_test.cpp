// Passive ejection by failure ratio (Envoy's failure_percentage, health/outlier.hpp):
// windows closed lazily by the exchange past their end, and a model-based test of both
// rules together against a plain reference model.
#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <random>

#include "health/outlier.hpp"
#include "health/reasons.hpp"
#include "unit/health/fixture.hpp"

namespace veer::health {
namespace {

using unit::Clock;
using unit::Pool;

using namespace std::chrono_literals;

bool record(Pool& pool, std::size_t backend, Outcome outcome, Clock::time_point now) {
  return record_outcome(outcome, pool.backends[backend], pool.stats, &pool.config,
                        pool.backends.size(), BackendName{"rpc", "127.0.0.1:1"}, now);
}

// Only the ratio ejects: 3 % of at least 100 in 30 s.
void use_ratio(Pool& pool) {
  pool.config.consecutive_failures = 1000;
  pool.config.failure_percent = 3;
  pool.config.failure_min_requests = 100;
  pool.config.failure_window = 30s;
}

// `exchanges` exchanges within the window starting at `start`, every `every`-th failed.
void traffic(Pool& pool, int exchanges, int every, Outcome failure, Clock::time_point start) {
  for (int i = 0; i < exchanges; ++i) {
    const bool failed = every > 0 && i % every == every - 1;
    ASSERT_FALSE(record(pool, 0, failed ? failure : Outcome::success, start + i * 10ms));
  }
}

TEST(FailureRatio, RatioDecidesOnlyAtTheWindowsEnd) {
  Pool pool;
  use_ratio(pool);
  const Clock::time_point t0 = Clock::now();
  traffic(pool, 150, 20, Outcome::rpc_error, t0);  // 7 of 150: 4.7 %
  EXPECT_TRUE(pool.backends[0].routable()) << "the window is still open";
  EXPECT_TRUE(record(pool, 0, Outcome::success, t0 + 30s)) << "the first exchange past the end";
  const std::vector<ReasonNote> notes = reasons_of(pool.backends[0]);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].cause.rfind("7 of 150 exchanges failed (4.7 % > 3 %) in 30s: JSON-RPC "
                                 "server errors; ejected for 30s",
                                 0),
            0u)
      << notes[0].cause;
  EXPECT_EQ(pool.stats.ejected.load(), 1u);
}

TEST(FailureRatio, AtOrBelowThePercentOrTooFewExchangesStays) {
  Pool pool;
  use_ratio(pool);
  Clock::time_point t = Clock::now();
  traffic(pool, 100, 34, Outcome::server_error, t);  // 2 of 100: 2 %
  t += 30s;
  traffic(pool, 100, 33, Outcome::server_error, t);  // 3 of 100: exactly 3 %, not more
  t += 30s;
  traffic(pool, 99, 2, Outcome::server_error, t);  // 49 of 99: under failure_min_requests
  EXPECT_FALSE(record(pool, 0, Outcome::success, t + 30s));
  EXPECT_TRUE(pool.backends[0].routable());
}

TEST(FailureRatio, WindowsDoNotCarryOver) {
  Pool pool;
  use_ratio(pool);
  pool.config.failure_min_requests = 10;
  Clock::time_point t = Clock::now();
  traffic(pool, 9, 3, Outcome::timeout, t);  // 3 failures, too few exchanges
  t += 30s;
  traffic(pool, 9, 0, Outcome::timeout, t);  // the next window: no failure
  EXPECT_FALSE(record(pool, 0, Outcome::success, t + 30s));
  EXPECT_TRUE(pool.backends[0].routable());
}

TEST(FailureRatio, ZeroPercentTurnsTheRuleOff) {
  Pool pool;
  use_ratio(pool);
  pool.config.failure_percent = 0;
  pool.config.failure_min_requests = 1;
  const Clock::time_point t = Clock::now();
  traffic(pool, 50, 2, Outcome::server_error, t);
  EXPECT_FALSE(record(pool, 0, Outcome::server_error, t + 1h));
  EXPECT_TRUE(pool.backends[0].routable());
}

TEST(FailureRatio, ObeysMaxEjectedPercent) {
  Pool pool;
  use_ratio(pool);
  pool.config.failure_min_requests = 1;
  pool.config.max_ejected_percent = 25;  // one of four
  const Clock::time_point t = Clock::now();
  for (std::size_t b = 0; b < 2; ++b)
    EXPECT_FALSE(record(pool, b, Outcome::reset, t));
  EXPECT_TRUE(record(pool, 0, Outcome::success, t + 30s));
  EXPECT_FALSE(record(pool, 1, Outcome::success, t + 30s)) << "no slot left";
  EXPECT_TRUE(pool.backends[1].routable());
}

TEST(FailureRatio, RecordSuccessLeavesTheWindowAlone) {
  Pool pool;
  use_ratio(pool);
  pool.config.failure_min_requests = 10;
  pool.config.failure_percent = 50;
  const Clock::time_point t = Clock::now();
  EXPECT_FALSE(record(pool, 0, Outcome::bad_response, t));
  EXPECT_FALSE(record(pool, 0, Outcome::bad_response, t + 1ms));
  const std::uint64_t counts = pool.backends[0].window_counts.load();
  for (int i = 0; i < 1000; ++i)
    record_success(pool.backends[0]);  // the fast path of pools without the ratio
  EXPECT_EQ(pool.backends[0].window_counts.load(), counts);
  EXPECT_EQ(pool.backends[0].consecutive_failures.load(), 0u) << "it still ends the run";
}

// Adds `exchanges` exchanges of which `failures` failed to backend 0's open window, as
// that many record_outcome calls would (one add each), without making them.
void preload(Pool& pool, std::uint64_t exchanges, std::uint64_t failures) {
  pool.backends[0].window_counts.fetch_add(exchanges * kWindowExchange +
                                           failures * (kWindowFailure - kWindowExchange));
}

TEST(FailureRatio, CountsDoNotWrapAtHighVolume) {
  Pool pool;
  use_ratio(pool);
  Clock::time_point t = Clock::now();
  // 20 M failures of 20 M: past the old 24-bit failure field (16.7 M).
  ASSERT_FALSE(record(pool, 0, Outcome::success, t));
  preload(pool, 20'000'000, 20'000'000);
  EXPECT_TRUE(record(pool, 0, Outcome::success, t + 30s));
  ASSERT_FALSE(reasons_of(pool.backends[0]).empty());
  EXPECT_EQ(reasons_of(pool.backends[0]).back().cause.rfind("20000000 of 20000001 exchanges", 0),
            0u)
      << reasons_of(pool.backends[0]).back().cause;
  ASSERT_TRUE(end_ejection(pool.backends[0], pool.stats, {"rpc", "a"}, "test"));
  // 4 G exchanges (near the 32-bit field's end), 2 % failed: no carry, no ejection ...
  t += 60s;
  ASSERT_FALSE(record(pool, 0, Outcome::success, t));
  preload(pool, 4'000'000'000, 80'000'000);
  EXPECT_FALSE(record(pool, 0, Outcome::success, t + 30s));
  EXPECT_TRUE(pool.backends[0].routable());
  // ... and 4 G with 5 % failed ejects, naming the exact counts.
  preload(pool, 3'999'999'999, 200'000'000);
  EXPECT_TRUE(record(pool, 0, Outcome::success, t + 60s));
  EXPECT_EQ(reasons_of(pool.backends[0]).back().cause.rfind("200000000 of 4000000000 exchanges", 0),
            0u)
      << reasons_of(pool.backends[0]).back().cause;
}

TEST(FailureRatio, EveryEjectionAndReturnStartsAFreshWindow) {
  Pool pool;
  use_ratio(pool);
  pool.config.consecutive_failures = 10;
  pool.config.failure_min_requests = 10;
  pool.config.failure_percent = 50;
  core::BackendStats& stats = pool.backends[0];
  Clock::time_point t = Clock::now();
  // Ten failures in a row: the consecutive rule ejects, and the window (10 of 10 failed)
  // goes with it.
  for (int i = 0; i < 9; ++i)
    ASSERT_FALSE(record(pool, 0, Outcome::timeout, t + i * 1ms));
  ASSERT_TRUE(record(pool, 0, Outcome::timeout, t + 9ms));
  EXPECT_EQ(stats.window_counts.load(), 0u);
  EXPECT_EQ(stats.window_start.load(), 0);
  // Late answers of requests sent before the ejection fail meanwhile ...
  for (int i = 0; i < 20; ++i)
    EXPECT_FALSE(record(pool, 0, Outcome::reset, t + 1s + i * 1ms));
  // ... and the return forgets them: the first exchange after it closes nothing.
  ASSERT_TRUE(end_ejection(stats, pool.stats, {"rpc", "a"}, "ejection over"));
  EXPECT_EQ(stats.window_start.load(), 0);
  t += 40s;
  EXPECT_FALSE(record(pool, 0, Outcome::success, t)) << "judged on fresh traffic only";
  traffic(pool, 20, 4, Outcome::timeout, t + 1ms);  // 5 of 21 failed: under 50 %
  EXPECT_FALSE(record(pool, 0, Outcome::success, t + 31s));
  EXPECT_TRUE(pool.backends[0].routable());
  // The ratio's own ejection resets the window too: 20 of 31 failed, never 10 in a row.
  for (int i = 0; i < 30; ++i) {
    const Outcome outcome = i % 3 == 2 ? Outcome::success : Outcome::timeout;
    ASSERT_FALSE(record(pool, 0, outcome, t + 32s + i * 1ms));
  }
  EXPECT_TRUE(record(pool, 0, Outcome::success, t + 62s));
  EXPECT_EQ(reasons_of(stats).back().cause.rfind("20 of 31 exchanges failed", 0), 0u)
      << reasons_of(stats).back().cause;
  EXPECT_EQ(stats.window_counts.load(), 0u);
  EXPECT_EQ(stats.window_start.load(), 0);
}

// The reference: per backend a window (start, exchanges, failures) closed by the first
// exchange at or past start + window, a run of consecutive failures, and the pool's cap.
struct Model {
  struct Backend {
    bool started = false;
    Clock::time_point start{};
    std::uint64_t exchanges = 0;
    std::uint64_t failures = 0;
    std::uint32_t consecutive = 0;
    bool ejected = false;
  };
  conf::OutlierConfig config;
  std::array<Backend, 4> backends{};
  std::uint32_t ejected = 0;

  bool try_eject(Backend& b) {
    const std::uint32_t allowed = std::max<std::uint32_t>(1, 4 * config.max_ejected_percent / 100);
    if (b.ejected || ejected >= allowed) return false;
    b.ejected = true;
    ++ejected;
    b.consecutive = 0;
    forget_window(b);
    return true;
  }

  // Every ejection and every return: the next exchange starts a new window.
  static void forget_window(Backend& b) {
    b.started = false;
    b.exchanges = b.failures = 0;
  }

  bool record(std::size_t index, bool failed, Clock::time_point now) {
    Backend& b = backends[index];
    if (config.failure_percent > 0) {
      if (!b.started) {
        b.started = true;
        b.start = now;
        b.exchanges = b.failures = 0;  // what was counted with the rule off is dropped
      }
      bool closes = now - b.start >= config.failure_window;
      const std::uint64_t exchanges = b.exchanges;
      const std::uint64_t failures = b.failures;
      if (closes) {
        b.start = now;
        b.exchanges = b.failures = 0;
      }
      ++b.exchanges;
      b.failures += failed ? 1 : 0;
      if (closes && exchanges >= config.failure_min_requests &&
          failures * 100 > config.failure_percent * exchanges && try_eject(b)) {
        return true;
      }
    }
    if (!failed) {
      b.consecutive = 0;
      return false;
    }
    return ++b.consecutive >= config.consecutive_failures && try_eject(b);
  }
};

TEST(FailureRatio, ModelBasedAgainstAReferenceOfWindows) {
  std::mt19937_64 random(20261207);
  for (int run = 0; run < 40; ++run) {
    Pool pool;
    Model model;
    model.config.consecutive_failures = 1 + static_cast<std::uint32_t>(random() % 12);
    model.config.failure_percent =
        static_cast<std::uint32_t>(random() % 4 == 0 ? 0 : random() % 60);
    model.config.failure_min_requests = 1 + static_cast<std::uint32_t>(random() % 30);
    model.config.failure_window = std::chrono::milliseconds(10 + random() % 200);
    model.config.max_ejected_percent = static_cast<std::uint32_t>(random() % 101);
    pool.config = model.config;
    // Each backend fails with its own probability, some rarely, some often.
    const std::array<double, 4> failing{0.01, 0.05 + 0.1 * (run % 3), 0.3, 0.7};
    Clock::time_point now = Clock::now();
    for (int step = 0; step < 3000; ++step) {
      now += std::chrono::milliseconds(random() % 8 == 0 ? random() % 300 : random() % 5);
      const std::size_t b = random() % 4;
      if (random() % 50 == 0) {  // an ejection ends
        const bool was = model.backends[b].ejected;
        ASSERT_EQ(end_ejection(pool.backends[b], pool.stats, {"rpc", "b"}, "test"), was);
        if (was) {
          model.backends[b].ejected = false;
          --model.ejected;
          Model::forget_window(model.backends[b]);
        }
        continue;
      }
      const bool failed = std::uniform_real_distribution<double>(0, 1)(random) < failing[b];
      const Outcome outcome = failed ? static_cast<Outcome>(1 + random() % 7) : Outcome::success;
      ASSERT_EQ(record(pool, b, outcome, now), model.record(b, failed, now))
          << "run " << run << " step " << step << " backend " << b;
      ASSERT_EQ(pool.stats.ejected.load(), model.ejected) << "run " << run << " step " << step;
      for (std::size_t i = 0; i < 4; ++i) {
        ASSERT_EQ(pool.backends[i].has(core::Reason::ejected), model.backends[i].ejected)
            << "run " << run << " step " << step << " backend " << i;
      }
    }
  }
}

}  // namespace
}  // namespace veer::health
