// Active check requests and verdicts, passive ejection and the retry budget: the logic
// of health/ and runtime/retry_budget.hpp without sockets.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "health/evaluate.hpp"
#include "health/outlier.hpp"
#include "health/reasons.hpp"
#include "health/rise_fall.hpp"
#include "runtime/retry_budget.hpp"

namespace veer::health {
namespace {

using namespace std::chrono_literals;
using Clock = core::BackendStats::Clock;

conf::HealthConfig http_check() {
  conf::HealthConfig config;
  config.path = "/health";
  return config;
}

conf::HealthConfig jsonrpc_check() {
  conf::HealthConfig config;
  config.type = conf::HealthConfig::Type::jsonrpc;
  return config;
}

TEST(HealthCheck, HttpRequestCarriesMethodPathHostAndHeaders) {
  conf::HealthConfig config = http_check();
  config.http_method = "HEAD";
  config.headers = {{"X-Probe", "veer"}};
  const std::string request = check_request(config, "127.0.0.1:9001");
  EXPECT_EQ(request.rfind("HEAD /health HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n", 0), 0u) << request;
  EXPECT_NE(request.find("\r\nX-Probe: veer\r\n"), std::string::npos);
  EXPECT_NE(request.find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(request.substr(request.size() - 4), "\r\n\r\n") << "no body";
  config.host = "rpc.internal";
  EXPECT_NE(check_request(config, "127.0.0.1:9001").find("Host: rpc.internal\r\n"),
            std::string::npos);
}

TEST(HealthCheck, JsonRpcRequestPostsTheMethod) {
  const std::string request = check_request(jsonrpc_check(), "127.0.0.1:8545");
  const std::string body = R"({"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]})";
  EXPECT_EQ(request.rfind("POST / HTTP/1.1\r\n", 0), 0u);
  EXPECT_NE(request.find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(request.find("Content-Length: " + std::to_string(body.size()) + "\r\n"),
            std::string::npos);
  EXPECT_EQ(request.substr(request.size() - body.size()), body);
}

TEST(HealthCheck, HttpVerdicts) {
  conf::HealthConfig config = http_check();
  EXPECT_TRUE(evaluate_answer(config, "HTTP/1.1 204 No Content\r\n\r\n").ok);
  CheckResult result =
      evaluate_answer(config, "HTTP/1.1 503 Unavailable\r\nContent-Length: 0\r\n\r\n");
  EXPECT_FALSE(result.ok);
  EXPECT_EQ(result.cause, "status 503, expected 200-299");
  EXPECT_EQ(evaluate_answer(config, "").cause, "no answer");
  EXPECT_EQ(evaluate_answer(config, "HTTP/1.1 200 OK\r\nContent-Le").cause, "incomplete answer");
  EXPECT_FALSE(evaluate_answer(config, "SMTP ready\r\n\r\n").ok);

  config.expect_min = 200;
  config.expect_max = 399;
  config.body = "\"status\":\"ok\"";
  EXPECT_TRUE(
      evaluate_answer(config, "HTTP/1.1 302 Found\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}")
          .ok);
  result = evaluate_answer(config,
                           "HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n{\"status\":\"broken\"}");
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.cause.find("body does not contain"), std::string::npos);
  EXPECT_TRUE(evaluate_answer(config,
                              "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "6\r\n{\"stat\r\n9\r\nus\":\"ok\"}\r\n0\r\n\r\n")
                  .ok)
      << "chunked bodies are decoded before the substring search";
}

TEST(HealthCheck, JsonRpcVerdictsAndBlockNumbers) {
  const conf::HealthConfig config = jsonrpc_check();
  const auto answer = [](std::string_view body) {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + std::string(body);
  };
  CheckResult result =
      evaluate_answer(config, answer(R"({"jsonrpc":"2.0","id":1,"result":"0x1b4"})"));
  EXPECT_TRUE(result.ok);
  ASSERT_TRUE(result.block.has_value());
  EXPECT_EQ(*result.block, 0x1b4u);

  result = evaluate_answer(
      config, answer(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"syncing"}})"));
  EXPECT_FALSE(result.ok);
  EXPECT_NE(result.cause.find("JSON-RPC error"), std::string::npos);
  EXPECT_FALSE(evaluate_answer(config, answer(R"({"jsonrpc":"2.0","id":1,"result":null})")).ok);
  EXPECT_FALSE(evaluate_answer(config, answer(R"({"result":"latest"})")).ok);
  EXPECT_FALSE(evaluate_answer(config, answer(R"({"result":"0x"})")).ok);
  EXPECT_FALSE(evaluate_answer(config, answer("not json")).ok);
  EXPECT_FALSE(evaluate_answer(config, answer("[1,2]")).ok);
  EXPECT_FALSE(evaluate_answer(config, "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\n\r\n").ok);

  conf::HealthConfig other = config;
  other.rpc_method = "net_version";
  result = evaluate_answer(other, answer(R"({"jsonrpc":"2.0","id":1,"result":"1"})"));
  EXPECT_TRUE(result.ok) << "other methods need a result, not a block number";
  EXPECT_FALSE(result.block.has_value());
}

struct Pool {
  conf::OutlierConfig config;
  core::PoolStats stats;
  std::vector<core::BackendStats> backends{4};
};

bool fail(Pool& pool, std::size_t backend, Outcome outcome = Outcome::connect_failed,
          Clock::time_point now = Clock::now()) {
  return record_outcome(outcome, pool.backends[backend], pool.stats, &pool.config,
                        pool.backends.size(), BackendName{"rpc", "127.0.0.1:1"}, now);
}

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

TEST(Transitions, ReasonsAreIndependentAndTheStrongestIsShown) {
  core::BackendStats stats;
  const BackendName who{"rpc", "127.0.0.1:1"};
  EXPECT_STREQ(core::state_name(stats.reasons.load()), "up");
  EXPECT_TRUE(change_reason(stats, core::Reason::ejected, true, who, "test"));
  EXPECT_TRUE(change_reason(stats, core::Reason::down, true, who, "test"));
  EXPECT_STREQ(core::state_name(stats.reasons.load()), "down");
  EXPECT_TRUE(change_reason(stats, core::Reason::draining, true, who, "test"));
  EXPECT_STREQ(core::state_name(stats.reasons.load()), "draining");
  EXPECT_FALSE(change_reason(stats, core::Reason::draining, true, who, "test")) << "already so";
  EXPECT_TRUE(change_reason(stats, core::Reason::down, false, who, "checks pass"));
  EXPECT_FALSE(stats.routable()) << "checks passing never lift a drain or an ejection";
  EXPECT_EQ(stats.routable_since.load(), 0);
  EXPECT_TRUE(change_reason(stats, core::Reason::draining, false, who, "test"));
  EXPECT_TRUE(change_reason(stats, core::Reason::ejected, false, who, "test"));
  EXPECT_TRUE(stats.routable());
  EXPECT_GT(stats.routable_since.load(), 0) << "stamped for slow start";
}

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
  change_noted(stats, core::Reason::ejected, true, "2 consecutive timeouts; ejected for 30s", kNoon + 5s);
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
  for (const core::Reason reason : {core::Reason::down, core::Reason::ejected, core::Reason::draining, core::Reason::disabled}) {
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
  ASSERT_TRUE(change_reason(stats, core::Reason::disabled, true, who, "set down through the admin API"));
  const SystemClock::time_point after = SystemClock::now();
  ASSERT_EQ(reasons_of(stats).size(), 1u);
  const ReasonNote note = reasons_of(stats)[0];
  EXPECT_EQ(note.reason, "disabled");
  EXPECT_EQ(note.cause, "set down through the admin API");
  EXPECT_GE(note.since, before);
  EXPECT_LE(note.since, after);
  EXPECT_TRUE(change_reason(stats, core::Reason::disabled, false, who, "set up through the admin API"));
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
    return record_check(CheckResult{ok, std::move(cause), std::nullopt}, config, streak, stats,
                        pool, who, now);
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
  const CheckResult pass{true, "status 200", std::nullopt};
  record_check(pass, config, streak, pool.backends[0], pool.stats, {"rpc", "a"}, now + 29s);
  EXPECT_TRUE(pool.backends[0].has(core::Reason::ejected));
  record_check(pass, config, streak, pool.backends[0], pool.stats, {"rpc", "a"}, now + 30s);
  EXPECT_TRUE(reasons_of(pool.backends[0]).empty());
  EXPECT_EQ(pool.stats.ejected.load(), 0u);
}

}  // namespace
}  // namespace veer::health

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
