// Why a backend is out of rotation, as the admin API lists it: each reason with its
// cause and time, kept consistent under concurrent changes (health/reasons.hpp).
#include "health/reasons.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "health/rise_fall.hpp"
#include "health/transitions.hpp"
#include "unit/health/fixture.hpp"

namespace veer::health {
namespace {

using unit::Clock;
using unit::fail;
using unit::http_check;
using unit::Pool;

using namespace std::chrono_literals;

// The reasons as the API lists them: {name, cause, since} (and until for ejected).
std::vector<std::string> shown(const core::BackendStats& stats) {
  std::vector<std::string> out;
  for (const ReasonNote& note : reasons_of(stats))
    out.push_back(note.reason + ": " + note.cause);
  return out;
}

using SystemClock = std::chrono::system_clock;
const SystemClock::time_point kNoon{std::chrono::hours(24 * 20'000 + 12)};

TEST(Reasons, EachSetReasonKeepsTheCauseAndTimeItWasSetWith) {
  core::BackendStats stats;
  EXPECT_TRUE(reasons_of(stats).empty()) << "routable: nothing to explain";
  change_noted(stats, core::Reason::disabled, true, "set down through the admin API", kNoon);
  change_noted(stats, core::Reason::ejected, true, "2 consecutive timeouts; ejected for 30s",
               kNoon + 5s);
  change_noted(stats, core::Reason::down, true, "block lag 214 > 8", kNoon + 9s);
  const std::vector<ReasonNote> notes = reasons_of(stats);
  ASSERT_EQ(notes.size(), 3u);
  // Always in the order down, ejected, draining, disabled, whatever order they came in.
  EXPECT_EQ(notes[0].reason, "down");
  EXPECT_EQ(notes[0].cause, "block lag 214 > 8");
  EXPECT_EQ(notes[0].since, kNoon + 9s);
  EXPECT_FALSE(notes[0].until.has_value());
  EXPECT_EQ(notes[1].reason, "ejected");
  EXPECT_EQ(notes[1].cause, "2 consecutive timeouts; ejected for 30s");
  EXPECT_EQ(notes[1].since, kNoon + 5s);
  EXPECT_EQ(notes[2].reason, "disabled");
  EXPECT_EQ(notes[2].since, kNoon);
  EXPECT_EQ(utc_text(notes[2].since), "2024-10-04T12:00:00Z");
}

TEST(Reasons, SettingAgainKeepsTheFirstCauseAndClearingForgetsIt) {
  core::BackendStats stats;
  change_noted(stats, core::Reason::draining, true, "drained through the admin API", kNoon);
  change_noted(stats, core::Reason::draining, true, "removed from the configuration", kNoon + 1s);
  ASSERT_EQ(reasons_of(stats).size(), 1u);
  EXPECT_EQ(reasons_of(stats)[0].cause, "drained through the admin API") << "already so";
  EXPECT_EQ(reasons_of(stats)[0].since, kNoon);
  change_noted(stats, core::Reason::down, true, "connect: Connection refused", kNoon + 2s);
  change_noted(stats, core::Reason::draining, false, "back in the configuration", kNoon + 3s);
  EXPECT_EQ(shown(stats), (std::vector<std::string>{"down: connect: Connection refused"}));
  change_noted(stats, core::Reason::draining, true, "removed from the configuration", kNoon + 4s);
  EXPECT_EQ(shown(stats), (std::vector<std::string>{"down: connect: Connection refused",
                                                    "draining: removed from the configuration"}))
      << "set again after a clear: the new cause and time";
  EXPECT_EQ(reasons_of(stats)[1].since, kNoon + 4s);
  change_noted(stats, core::Reason::down, false, "checks pass", kNoon + 5s);
  change_noted(stats, core::Reason::draining, false, "back", kNoon + 6s);
  EXPECT_TRUE(reasons_of(stats).empty());
  EXPECT_TRUE(stats.routable());
}

TEST(Reasons, ANoteAlwaysDescribesTheBitItBelongsTo) {
  // Each reason toggled by its own thread (as checks, workers and the admin thread do),
  // each set with a cause naming it, while the admin thread lists them: every reason
  // listed carries its cause (a bit seen before its note would list an empty one).
  core::BackendStats stats;
  std::atomic<bool> go{false};
  std::vector<std::thread> setters;
  for (const core::Reason reason : {core::Reason::down, core::Reason::ejected,
                                    core::Reason::draining, core::Reason::disabled}) {
    setters.emplace_back([&stats, &go, reason] {
      while (!go.load()) {
      }
      for (int i = 0; i < 20'000; ++i)
        change_noted(stats, reason, i % 2 == 0, reason_name(reason), kNoon);
    });
  }
  go.store(true);
  std::size_t listed = 0;
  for (int i = 0; i < 20'000; ++i) {
    for (const ReasonNote& note : reasons_of(stats, Clock::now(), kNoon)) {
      ASSERT_EQ(note.cause, note.reason);
      ++listed;
    }
  }
  for (std::thread& t : setters)
    t.join();
  EXPECT_TRUE(reasons_of(stats).empty()) << "each thread ended with a clear";
  RecordProperty("reasons_listed", static_cast<int>(listed));
}

TEST(Reasons, ChangeReasonNotesTheCauseItLogs) {
  core::BackendStats stats;
  const BackendName who{"rpc", "127.0.0.1:1"};
  const SystemClock::time_point before = SystemClock::now();
  ASSERT_TRUE(
      change_reason(stats, core::Reason::disabled, true, who, "set down through the admin API"));
  const SystemClock::time_point after = SystemClock::now();
  ASSERT_EQ(reasons_of(stats).size(), 1u);
  const ReasonNote note = reasons_of(stats)[0];
  EXPECT_EQ(note.reason, "disabled");
  EXPECT_EQ(note.cause, "set down through the admin API");
  EXPECT_GE(note.since, before);
  EXPECT_LE(note.since, after);
  EXPECT_TRUE(
      change_reason(stats, core::Reason::disabled, false, who, "set up through the admin API"));
  EXPECT_FALSE(change_reason(stats, core::Reason::disabled, false, who, "again")) << "already so";
  EXPECT_TRUE(reasons_of(stats).empty());
  stats.set(core::Reason::draining);  // bypassing change_reason: shown, without a cause
  EXPECT_EQ(shown(stats), (std::vector<std::string>{"draining: "}));
  stats.set(core::Reason::ejected);  // and without record_outcome: no ejection time to show
  ASSERT_EQ(reasons_of(stats).size(), 2u);
  EXPECT_FALSE(reasons_of(stats)[0].until.has_value());
}

TEST(Reasons, TheDownCauseIsTheLastFailedChecksWhileItStaysDown) {
  core::BackendStats stats;
  core::PoolStats pool;
  conf::HealthConfig config = http_check();
  config.fall = 2;
  config.rise = 2;
  CheckStreak streak;
  const BackendName who{"rpc", "127.0.0.1:1"};
  const Clock::time_point now = Clock::now();
  const auto check = [&](bool ok, std::string cause) {
    return record_check(CheckResult{ok, std::move(cause), std::nullopt, std::nullopt}, config,
                        streak, stats, pool, who, now);
  };
  EXPECT_TRUE(check(false, "connect: Connection refused")) << "confirming";
  EXPECT_TRUE(reasons_of(stats).empty()) << "one failure is not fall = 2";
  EXPECT_FALSE(check(false, "connect: Connection refused"));
  EXPECT_EQ(shown(stats), (std::vector<std::string>{"down: connect: Connection refused"}))
      << "the check's cause, without the log line's count";
  const SystemClock::time_point since = reasons_of(stats)[0].since;
  check(false, "timed out after 1s");
  check(false, "block lag 214 > 8");
  EXPECT_EQ(shown(stats), (std::vector<std::string>{"down: block lag 214 > 8"}));
  EXPECT_EQ(reasons_of(stats)[0].since, since) << "still down since the transition";
  EXPECT_TRUE(check(true, "status 200")) << "one pass is not rise = 2";
  EXPECT_EQ(shown(stats), (std::vector<std::string>{"down: block lag 214 > 8"}))
      << "a pass does not replace the last failure's cause";
  EXPECT_FALSE(check(true, "status 200"));
  EXPECT_TRUE(reasons_of(stats).empty());
  EXPECT_EQ(stats.checks_failed.load(), 4u);
  EXPECT_EQ(stats.checks_passed.load(), 2u);
}

TEST(Reasons, AnEjectionShowsItsCauseAndUntilWhenOnTheSystemClock) {
  Pool pool;
  pool.config.consecutive_failures = 2;
  pool.config.base_ejection = 30s;
  const Clock::time_point now = Clock::now();
  EXPECT_FALSE(fail(pool, 0, Outcome::timeout, now));
  EXPECT_TRUE(fail(pool, 0, Outcome::timeout, now));
  // Read 10 s later: 20 s of the ejection are left.
  const std::vector<ReasonNote> notes = reasons_of(pool.backends[0], now + 10s, kNoon);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].reason, "ejected");
  EXPECT_EQ(notes[0].cause, "2 consecutive timeouts; ejected for 30s");
  ASSERT_TRUE(notes[0].until.has_value());
  EXPECT_EQ(*notes[0].until, kNoon + 20s);
  EXPECT_EQ(utc_text(*notes[0].until), "2024-10-04T12:00:20Z");

  // With active checks, an ejected backend returns with its first passing check once
  // its time is up, not before.
  CheckStreak streak;
  const conf::HealthConfig config = http_check();
  const CheckResult pass{true, "status 200", std::nullopt, std::nullopt};
  record_check(pass, config, streak, pool.backends[0], pool.stats, {"rpc", "a"}, now + 29s);
  EXPECT_TRUE(pool.backends[0].has(core::Reason::ejected));
  record_check(pass, config, streak, pool.backends[0], pool.stats, {"rpc", "a"}, now + 30s);
  EXPECT_TRUE(reasons_of(pool.backends[0]).empty());
  EXPECT_EQ(pool.stats.ejected.load(), 0u);
}

}  // namespace
}  // namespace veer::health
