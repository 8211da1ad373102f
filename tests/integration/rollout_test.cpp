// Progressive rollouts end to end (issue 17's acceptance): a real veer (2 workers, the
// epoll engine), a stable and a canary pool of test backends on 127.0.0.1, and a paced
// load of sticky keys (~200 req/s). Each scenario starts a rollout (through the API, or
// `[rollouts.r1]` in the file), polls GET /api/v1/rollouts/r1 until the rollout settles,
// and checks what the clients saw: promoted with no failure but the backends' own,
// rolled back within the acceptance's time for a failing or slow canary, held as
// inconclusive at low traffic, keys that stay on their version across steps and across
// a kill -9, a JSON-RPC canary judged by its error objects, and the decisions in the
// audit log, the process log and /metrics. Times are recorded (RecordProperty) and
// printed for docs/RELEASES.md.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/admin_client.hpp"
#include "support/config_builder.hpp"
#include "support/fake_rpc_node.hpp"
#include "support/http_client.hpp"
#include "support/paced_load.hpp"
#include "support/poll.hpp"
#include "support/pool_backend.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// --- Configuration

struct LatencyGuard {
  double quantile = 0.99;
  double tolerance_ms = 25;
  double alpha = 0.05;
};

struct RolloutSpec {
  std::vector<double> steps;
  std::string min_step = "2s";
  std::string max_step = "60s";
  std::optional<double> error_tolerance = 0.01;
  double error_alpha = 0.05;
  std::optional<LatencyGuard> latency;

  std::string steps_text() const {
    std::string out = "[";
    for (std::size_t i = 0; i < steps.size(); ++i) {
      out += i ? ", " : "";
      std::ostringstream number;
      number << steps[i];
      out += number.str();
    }
    return out + "]";
  }

  // The guards as JSON and as a TOML inline table: the same text but for `:` and `=`.
  std::string guards(const char* assign) const {
    std::string out = "{";
    const std::string sep = assign;
    if (error_tolerance) {
      out += "\"error_ratio\"" + sep + "{\"tolerance\"" + sep + std::to_string(*error_tolerance) +
             ", \"alpha\"" + sep + std::to_string(error_alpha) + "}";
    }
    if (latency) {
      out += error_tolerance ? ", " : "";
      out += "\"latency\"" + sep + "{\"quantile\"" + sep + std::to_string(latency->quantile) +
             ", \"tolerance_ms\"" + sep + std::to_string(latency->tolerance_ms) + ", \"alpha\"" +
             sep + std::to_string(latency->alpha) + "}";
    }
    return out + "}";
  }

  std::string json_body(const std::string& name) const {
    return "{\"name\": \"" + name +
           "\", \"split\": \"rpc\", \"stable\": \"stable\", \"canary\": \"canary\", \"steps\": " +
           steps_text() + ", \"min_step\": \"" + min_step + "\", \"max_step\": \"" + max_step +
           "\", \"guards\": " + guards(": ") + "}";
  }

  std::string toml_table(const std::string& name) const {
    // TOML's inline tables take bare or quoted keys: the JSON text with `=` works.
    return "[rollouts." + name +
           "]\nsplit = \"rpc\"\nstable = \"stable\"\ncanary = \"canary\"\nsteps = " + steps_text() +
           "\nmin_step = \"" + min_step + "\"\nmax_step = \"" + max_step +
           "\"\nguards = " + guards(" = ") + "\n";
  }
};

// A route on split "rpc" over pools "stable" and "canary" (everything on stable), sticky
// by X-User, on the epoll engine; `more` is appended (a [rollouts.r1] table).
TestConfig rollout_config(const std::string& stable, const std::string& canary,
                          const std::string& more = "", const std::string& route_keys = "",
                          const std::string& targets = "stable = 100, canary = 0") {
  std::string extra = "\n[pools.stable]\nbackends = [\"";
  extra += stable;
  extra += "\"]\n[pools.canary]\nbackends = [\"";
  extra += canary;
  extra += "\"]\n[splits.rpc]\ntargets = { " + targets + " }\n";
  extra += "sticky = \"header:X-User\"\ntarget_header = \"X-Veer-Target\"\n";
  extra += more;
  return TestConfig{.backends = {stable},
                    .io_engine = "epoll",
                    .extra = extra,
                    .route_target = "rpc",
                    .route_keys = route_keys};
}

// --- The API

json::value parse_json(const std::string& text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value(nullptr) : v;
}

std::string text_of(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

double number_of(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_number() ? v->to_number<double>() : -1;
}

// evidence.TARGET.requests (-1 when absent).
double evidence_requests(const json::object& rollout, const char* target) {
  const json::value* evidence = rollout.if_contains("evidence");
  if (!evidence || !evidence->is_object()) return -1;
  const json::value* t = evidence->as_object().if_contains(target);
  return t && t->is_object() ? number_of(t->as_object(), "requests") : -1;
}

struct Veer {
  Admin admin;
  std::string dir;
  std::string audit_path;
  std::string state_path;

  std::uint16_t port() const { return admin.veer->port(); }

  std::optional<json::object> rollout(const std::string& name = "r1") {
    const auto r = admin.call("GET", "/api/v1/rollouts/" + name);
    if (!r || r->status != 200) return std::nullopt;
    json::value v = parse_json(r->body);
    if (!v.is_object()) return std::nullopt;
    return v.as_object();
  }

  std::optional<Response> start(const RolloutSpec& spec, const std::string& name = "r1") {
    return admin.call("POST", "/api/v1/rollouts", spec.json_body(name));
  }

  std::string metrics() {
    const auto r = admin.call("GET", "/metrics");
    return r ? r->body : "";
  }

  std::vector<std::string> audit_lines() const {
    std::vector<std::string> lines;
    std::ifstream in(audit_path);
    for (std::string line; std::getline(in, line);)
      lines.push_back(line);
    return lines;
  }
};

// veer with an admin listener (its audit log in the test's directory), and a state file
// when `with_state`. The same `dir` starts it again on the same files.
Veer start_veer(const TestConfig& config, bool with_state = false, std::string dir = "") {
  Veer veer;
  veer.dir = dir.empty() ? make_temp_dir() : dir;
  veer.audit_path = veer.dir + "/audit.jsonl";
  veer.state_path = with_state ? veer.dir + "/state.json" : "";
  veer.admin =
      start_with_admin(config, veer.state_path, "audit_log = \"" + veer.audit_path + "\"\n");
  return veer;
}

// Polls the rollout (at most every 50 ms) until `done` holds, keeping what it saw.
struct Watch {
  Veer& veer;
  Clock::time_point start = Clock::now();
  json::object last;
  std::set<std::string> states;
  double max_step = 0;
  double seconds = 0;  // since `start`, when `done` first held

  bool until(const std::function<bool(const json::object&)>& done,
             std::chrono::milliseconds timeout) {
    Clock::time_point asked{};
    return poll_until(
        [&] {
          if (Clock::now() - asked < 50ms) return false;  // not a wait: a poll's rate
          asked = Clock::now();
          const auto r = veer.rollout();
          if (!r) return false;
          last = *r;
          states.insert(text_of(last, "state"));
          max_step = std::max(max_step, number_of(last, "step"));
          if (!done(last)) return false;
          seconds = seconds_since(start);
          return true;
        },
        timeout);
  }

  bool until_state(const std::set<std::string>& wanted, std::chrono::milliseconds timeout) {
    return until([&](const json::object& r) { return wanted.contains(text_of(r, "state")); },
                 timeout);
  }

  std::string state() const { return text_of(last, "state"); }
  std::string dump() const { return json::serialize(last); }
};

int count_of(const std::map<std::string, int>& counts, const std::string& pool) {
  const auto it = counts.find(pool);
  return it == counts.end() ? 0 : it->second;
}

const std::set<std::string> kSettled = {"promoted", "rolled_back", "aborted", "inconclusive"};

void record_seconds(const std::string& what, double seconds) {
  testing::Test::RecordProperty(what, std::to_string(seconds));
  std::printf("[ rollout ] %s: %.1f s\n", what.c_str(), seconds);
}

// The history's events with their times, for the figures in docs/RELEASES.md.
void print_history(const json::object& rollout) {
  const json::value* history = rollout.if_contains("history");
  if (!history || !history->is_array()) return;
  for (const json::value& e : history->as_array()) {
    const json::object& event = e.as_object();
    std::printf("[ rollout ]   %s %s: %s\n", text_of(event, "time").c_str(),
                text_of(event, "event").c_str(), text_of(event, "detail").c_str());
  }
}

// Every non-200 the clients saw was a backend's own 500, and every 500 a backend sent
// reached a client.
void expect_only_backend_failures(const LoadSummary& seen,
                                  const std::map<std::string, int>& sent_by_pool) {
  EXPECT_EQ(seen.no_response, 0);
  EXPECT_TRUE(seen.unexplained.empty())
      << seen.unexplained.size() << " unexplained, first: " << seen.unexplained.front();
  for (const auto& [status, n] : seen.statuses)
    EXPECT_TRUE(status == 200 || status == 500) << status << " x " << n;
  for (const auto& [pool, n] : sent_by_pool) {
    EXPECT_EQ(count_of(seen.status_500_by_pool, pool), n) << pool;
  }
}

// --- The load itself (no rollout): paced, keys followed, stoppable, failures counted.

TEST(Rollouts, PacedLoadKeepsItsRateAndFollowsEachKey) {
  PoolBackend stable("stable", {.error_share = 0.02}, 1);
  PoolBackend canary("canary", {}, 2);
  Veer veer = start_veer(
      rollout_config(stable.address(), canary.address(), "", "", "stable = 50, canary = 50"));
  ASSERT_NE(veer.admin.port, 0);
  const auto start = Clock::now();
  KeyedLoad load(veer.port(), {.rate = 200, .duration = 10s, .max_requests = 600, .keys = 100});
  ASSERT_TRUE(poll_until([&] { return !load.running(); }, 10s));
  const double seconds = seconds_since(start);
  EXPECT_GT(seconds, 2.5) << "paced: 600 requests at 200/s take 3 s";
  EXPECT_LT(seconds, 5.0);
  const LoadSummary seen = load.summary();
  EXPECT_EQ(seen.sent, 600);
  expect_only_backend_failures(seen, {{"stable", stable.errors_sent()}, {"canary", 0}});
  std::set<std::string> pools_of_keys;
  for (const auto& [key, observed] : by_key(load.observations())) {
    EXPECT_EQ(observed.size(), 6u) << key;
    std::set<std::string> pools;
    for (const Observation& o : observed)
      pools.insert(o.pool);
    EXPECT_EQ(pools.size(), 1u) << "key u" << key << " is sticky";
    pools_of_keys.insert(*pools.begin());
  }
  EXPECT_EQ(pools_of_keys, (std::set<std::string>{"canary", "stable"}));
  const std::map<int, std::string> swept = sweep_keys(veer.port(), 100, {});
  for (const auto& [key, observed] : by_key(load.observations()))
    EXPECT_EQ(swept.at(key), observed.front().pool) << key;

  // Stopped from another thread, long before its duration.
  KeyedLoad endless(veer.port(), {.rate = 200, .duration = 60s});
  ASSERT_TRUE(poll_until([&] { return endless.sent() >= 100; }, 5s));
  const auto stopping = Clock::now();
  std::thread stopper([&] { endless.stop(); });
  stopper.join();
  EXPECT_FALSE(endless.running());
  EXPECT_LT(seconds_since(stopping), 1.0);
}

TEST(Rollouts, JsonRpcLoadNamesThePoolOfEveryAnswerErrorsToo) {
  FakeRpcNode stable("stable");
  FakeRpcNode canary("canary", {.index = 1});
  ASSERT_TRUE(canary.control(R"({"error_rate": 0.5, "error_code": -32603, "seed": 7})"));
  Veer veer = start_veer(rollout_config(stable.address(), canary.address(), "", "  jsonrpc = true",
                                        "stable = 50, canary = 50"));
  ASSERT_NE(veer.admin.port, 0);
  KeyedLoad load(veer.port(), {.kind = LoadKind::jsonrpc,
                               .rate = 200,
                               .duration = 10s,
                               .max_requests = 200,
                               .pool_header = "X-Veer-Target",
                               // Never sent again after a server error (a read would be
                               // retried on stable, and the client would see no error).
                               .rpc_method = "eth_newBlockFilter"});
  ASSERT_TRUE(poll_until([&] { return !load.running(); }, 10s));
  const LoadSummary seen = load.summary();
  EXPECT_EQ(seen.sent, 200);
  EXPECT_EQ(seen.no_response, 0);
  EXPECT_EQ(seen.statuses.size(), 1u) << "HTTP 200 throughout";
  EXPECT_GT(count_of(seen.ok_by_pool, "stable"), 0);
  EXPECT_GT(count_of(seen.rpc_errors_by_pool, "canary"), 0);
  EXPECT_EQ(count_of(seen.rpc_errors_by_pool, "stable"), 0);
  for (const Observation& o : load.observations())
    EXPECT_TRUE(o.pool == "stable" || o.pool == "canary") << o.pool;
}

// --- Healthy: promoted with no failure but the backends' own.

TEST(Rollouts, HealthyCanaryIsPromotedWithinTwoMinutes) {
  PoolBackend stable("stable", {.error_share = 0.001}, 11);
  PoolBackend canary("canary", {.error_share = 0.001}, 12);
  Veer veer = start_veer(rollout_config(stable.address(), canary.address()));
  ASSERT_NE(veer.admin.port, 0);
  KeyedLoad load(veer.port(), {.rate = 200, .duration = 150s});
  RolloutSpec spec{.steps = {1, 5, 25, 50, 100},
                   .min_step = "2s",
                   .max_step = "100s",
                   .error_tolerance = 0.10,
                   .latency = LatencyGuard{.quantile = 0.90, .tolerance_ms = 50}};
  Watch watch{veer};
  const auto created = veer.start(spec);
  ASSERT_TRUE(created.has_value());
  ASSERT_EQ(created->status, 201) << created->body;
  EXPECT_TRUE(watch.until_state(kSettled, 120s)) << watch.dump();
  load.stop();
  ASSERT_EQ(watch.state(), "promoted") << watch.dump();
  record_seconds("healthy_promoted_after_s", watch.seconds);
  print_history(watch.last);
  EXPECT_EQ(number_of(watch.last, "weight"), 100);
  // The 50 % step's pass promotes (a step of 100 % has no stable traffic to compare
  // with), and the rollout ends at its last step.
  EXPECT_EQ(number_of(watch.last, "step"), 5);
  EXPECT_NE(watch.dump().find("\"event\":\"promoted\""), std::string::npos) << watch.dump();
  EXPECT_EQ(text_of(watch.last, "source"), "api");
  EXPECT_FALSE(watch.states.contains("rolled_back"));

  const LoadSummary seen = load.summary();
  expect_only_backend_failures(
      seen, {{"stable", stable.errors_sent()}, {"canary", canary.errors_sent()}});
  EXPECT_GT(count_of(seen.ok_by_pool, "canary"), 0);
  testing::Test::RecordProperty("requests", seen.sent);
  testing::Test::RecordProperty("backend_500s", stable.errors_sent() + canary.errors_sent());
  EXPECT_EQ(sample(veer.metrics(), R"(veer_rollout_state{rollout="r1",state="promoted"})"), 1);
}

// --- Failing canaries: rolled back within the acceptance's time.

struct FailingCase {
  const char* name;
  PoolBehaviour canary;
  double stable_errors;
  RolloutSpec spec;
  std::chrono::seconds bound;
  const char* guard;  // the guard that must decide
};

void PrintTo(const FailingCase& c, std::ostream* os) {
  *os << c.name;
}

class FailingCanary : public testing::TestWithParam<FailingCase> {};

TEST_P(FailingCanary, IsRolledBackInTime) {
  const FailingCase& c = GetParam();
  PoolBackend stable("stable", {.error_share = c.stable_errors}, 21);
  PoolBackend canary("canary", c.canary, 22);
  Veer veer = start_veer(rollout_config(stable.address(), canary.address()));
  ASSERT_NE(veer.admin.port, 0);
  KeyedLoad load(veer.port(), {.rate = 200, .duration = c.bound + 20s});
  Watch watch{veer};
  const auto created = veer.start(c.spec);
  ASSERT_TRUE(created.has_value());
  ASSERT_EQ(created->status, 201) << created->body;
  EXPECT_TRUE(watch.until_state(kSettled, c.bound)) << watch.dump();
  const double seconds = watch.seconds;
  ASSERT_EQ(watch.state(), "rolled_back") << watch.dump();
  record_seconds(std::string(c.name) + "_rolled_back_after_s", seconds);
  EXPECT_EQ(number_of(watch.last, "weight"), 0);
  EXPECT_NE(text_of(watch.last, "reason").find(c.guard), std::string::npos)
      << "the reason names the guard that decided: " << watch.dump();

  // After the rollback every request goes to stable: wait for 200 more to be sent.
  const int sent_at_rollback = load.sent();
  const auto rolled_back_at = Clock::now();
  EXPECT_TRUE(poll_until([&] { return load.sent() >= sent_at_rollback + 200; }, 10s));
  load.stop();
  int canary_after = 0;
  for (const Observation& o : load.observations())
    canary_after += o.sent > rolled_back_at && o.pool == "canary";
  EXPECT_EQ(canary_after, 0);
  expect_only_backend_failures(
      load.summary(), {{"stable", stable.errors_sent()}, {"canary", canary.errors_sent()}});
}

INSTANTIATE_TEST_SUITE_P(
    Rollouts, FailingCanary,
    testing::Values(
        FailingCase{"errors_5pct",
                    {.error_share = 0.05},
                    0.001,
                    {.steps = {10, 25, 50, 100}, .min_step = "5s", .error_tolerance = 0.001},
                    10s,
                    "error"},
        FailingCase{
            "errors_1pct",
            {.error_share = 0.01},
            0.001,
            {.steps = {25, 50, 100}, .min_step = "5s", .max_step = "90s", .error_tolerance = 0.001},
            60s,
            "error"},
        FailingCase{"slower_100ms",
                    {.delay = 100ms},
                    0,
                    {.steps = {10, 25, 50, 100},
                     .min_step = "5s",
                     .error_tolerance = 0.01,
                     .latency = LatencyGuard{.quantile = 0.99, .tolerance_ms = 25}},
                    30s,
                    "latency"}),
    [](const auto& info) { return std::string(info.param.name); });

// --- Decisions: audit lines, log lines and metrics with their figures.

TEST(Rollouts, DecisionsAreAuditedLoggedAndCounted) {
  PoolBackend stable("stable", {.error_share = 0.001}, 31);
  PoolBackend canary("canary", {.error_share = 0.05}, 32);
  Veer veer = start_veer(rollout_config(stable.address(), canary.address()));
  ASSERT_NE(veer.admin.port, 0);
  KeyedLoad load(veer.port(), {.rate = 200, .duration = 40s});
  Watch watch{veer};
  const auto created =
      veer.start({.steps = {10, 25, 50, 100}, .min_step = "5s", .error_tolerance = 0.001});
  ASSERT_TRUE(created && created->status == 201);
  ASSERT_TRUE(watch.until_state(kSettled, 20s)) << watch.dump();
  load.stop();
  ASSERT_EQ(watch.state(), "rolled_back") << watch.dump();

  // The history's decision, as JSON, with the figures.
  const json::value* history = watch.last.if_contains("history");
  ASSERT_TRUE(history && history->is_array()) << watch.dump();
  std::set<std::string> events;
  for (const json::value& e : history->as_array())
    events.insert(text_of(e.as_object(), "event"));
  EXPECT_TRUE(events.contains("started")) << watch.dump();
  EXPECT_TRUE(events.contains("failed")) << watch.dump();

  // Audit: JSON lines; the start and the rollback each have one naming the rollout.
  int audit_start = 0, audit_failed = 0;
  for (const std::string& line : veer.audit_lines()) {
    const json::value v = parse_json(line);
    EXPECT_TRUE(v.is_object()) << "not a JSON line: " << line;
    if (line.find("r1") == std::string::npos) continue;
    audit_start += line.find("started") != std::string::npos;
    audit_failed +=
        line.find("failed") != std::string::npos || line.find("rolled_back") != std::string::npos;
  }
  EXPECT_GE(audit_start, 1);
  EXPECT_GE(audit_failed, 1) << "audit log:\n"
                             << [&] {
                                  std::string all;
                                  for (const std::string& l : veer.audit_lines())
                                    all += l + "\n";
                                  return all;
                                }();

  // Log: a line naming the rollout and its decision, with the figures (n per target).
  EXPECT_TRUE(veer.admin.veer->wait_for_line(
      [](const std::string& line) {
        return line.find("rollout r1") != std::string::npos &&
               line.find("failed") != std::string::npos &&
               line.find_first_of("0123456789") != std::string::npos;
      },
      2s))
      << veer.admin.veer->log_text();

  const std::string metrics = veer.metrics();
  EXPECT_EQ(sample(metrics, R"(veer_rollout_state{rollout="r1",state="rolled_back"})"), 1);
  EXPECT_EQ(sample(metrics, R"(veer_rollout_state{rollout="r1",state="running"})"), 0);
  EXPECT_EQ(sample(metrics, R"(veer_rollout_weight_percent{rollout="r1"})"), 0);
  EXPECT_GE(
      sample(metrics, R"(veer_rollout_decisions_total{rollout="r1",event="failed"})").value_or(0),
      1);
  EXPECT_GT(sample(metrics, R"(veer_rollout_requests{rollout="r1",target="canary"})").value_or(-1),
            -1);
  EXPECT_NE(metrics.find("veer_rollout_guard_bound{rollout=\"r1\""), std::string::npos);
  EXPECT_NE(metrics.find("veer_rollout_step{rollout=\"r1\"}"), std::string::npos);
  EXPECT_NE(metrics.find("veer_split_target_answers_total{split=\"rpc\",pool=\"canary\""),
            std::string::npos);
}

// --- Low traffic: held as inconclusive at the first step, never promoted nor failed.

TEST(Rollouts, LowTrafficHoldsAsInconclusiveFromTheConfigFile) {
  PoolBackend stable("stable", {.error_share = 0.001}, 41);
  PoolBackend canary("canary", {.error_share = 0.001}, 42);
  const RolloutSpec spec{.steps = {10, 25, 50, 100}, .min_step = "5s", .max_step = "20s"};
  const auto before_start = Clock::now();
  Veer veer = start_veer(rollout_config(stable.address(), canary.address(), spec.toml_table("r1")));
  ASSERT_NE(veer.admin.port, 0);
  Watch held{veer, before_start};
  KeyedLoad load(veer.port(), {.rate = 1, .connections = 1, .duration = 60s});
  ASSERT_TRUE(
      held.until([](const json::object& r) { return text_of(r, "state") != "running"; }, 40s))
      << held.dump();
  EXPECT_EQ(held.state(), "inconclusive") << held.dump();
  record_seconds("low_traffic_inconclusive_after_s", held.seconds);
  EXPECT_GE(held.seconds, 20.0) << "not before the step's max_step";
  EXPECT_EQ(number_of(held.last, "step"), 1);
  EXPECT_EQ(number_of(held.last, "weight"), 10);
  EXPECT_EQ(held.max_step, 1);
  EXPECT_EQ(text_of(held.last, "source"), "config");
  EXPECT_FALSE(text_of(held.last, "reason").empty()) << held.dump();
  EXPECT_EQ(held.states, (std::set<std::string>{"running", "inconclusive"}));

  // It holds while traffic goes on: 3 more requests, and still inconclusive at step 1.
  const int sent = load.sent();
  EXPECT_TRUE(held.until(
      [&](const json::object& r) {
        EXPECT_EQ(text_of(r, "state"), "inconclusive");
        return load.sent() >= sent + 3;
      },
      10s));
  EXPECT_EQ(held.max_step, 1);
  EXPECT_EQ(sample(veer.metrics(), R"(veer_rollout_state{rollout="r1",state="inconclusive"})"), 1);

  // An operator ends it: abort takes the canary to 0 %; repeating it changes nothing
  // (the API's mutations are idempotent), and a finished rollout cannot be resumed.
  const auto aborted = veer.admin.call("POST", "/api/v1/rollouts/r1/abort");
  ASSERT_TRUE(aborted.has_value());
  EXPECT_EQ(aborted->status, 200) << aborted->body;
  const json::value after = parse_json(aborted->body);
  ASSERT_TRUE(after.is_object()) << aborted->body;
  EXPECT_EQ(text_of(after.as_object(), "state"), "aborted");
  EXPECT_EQ(number_of(after.as_object(), "weight"), 0);
  const auto again = veer.admin.call("POST", "/api/v1/rollouts/r1/abort");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 200) << again->body;
  EXPECT_EQ(text_of(parse_json(again->body).as_object(), "state"), "aborted");
  const auto resume = veer.admin.call("POST", "/api/v1/rollouts/r1/resume");
  ASSERT_TRUE(resume.has_value());
  EXPECT_EQ(resume->status, 409) << resume->body;
  load.stop();
}

// --- Operators around a running rollout: the split is the rollout's until it ends.

TEST(Rollouts, TheSplitIsTheRolloutsUntilItEnds) {
  PoolBackend stable("stable", {}, 41);
  PoolBackend canary("canary", {}, 42);
  Veer veer = start_veer(rollout_config(stable.address(), canary.address()));
  ASSERT_NE(veer.admin.port, 0);
  const auto created = veer.start({.steps = {10, 50, 100}, .min_step = "60s", .max_step = "10m"});
  ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "");
  const auto weight = [&](const char* pool) {
    return sample(veer.metrics(),
                  std::string(R"(veer_split_weight{split="rpc",pool=")") + pool + R"("})");
  };
  EXPECT_EQ(weight("canary"), 1000);
  EXPECT_EQ(weight("stable"), 9000);

  // A weight change on the steered split is refused; dropping every runtime change keeps
  // the rollout's weights (no snapshot routes it by the file's).
  const auto put =
      veer.admin.call("PUT", "/api/v1/splits/rpc", R"({"targets": {"stable": 0, "canary": 100}})");
  ASSERT_TRUE(put.has_value());
  EXPECT_EQ(put->status, 409) << put->body;
  EXPECT_NE(put->body.find("r1"), std::string::npos) << put->body;
  const auto reset = veer.admin.call("DELETE", "/api/v1/overrides");
  ASSERT_TRUE(reset.has_value());
  EXPECT_EQ(reset->status, 200) << reset->body;
  EXPECT_EQ(weight("canary"), 1000);
  const auto rollout = veer.rollout();
  ASSERT_TRUE(rollout.has_value());
  EXPECT_EQ(text_of(*rollout, "state"), "running");

  // Pause and resume hold the weight; promote gives the canary everything.
  for (const char* action : {"pause", "resume"}) {
    const auto r = veer.admin.call("POST", std::string("/api/v1/rollouts/r1/") + action);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(weight("canary"), 1000) << action;
  }
  const auto promoted = veer.admin.call("POST", "/api/v1/rollouts/r1/promote");
  ASSERT_TRUE(promoted.has_value());
  EXPECT_EQ(promoted->status, 200) << promoted->body;
  EXPECT_EQ(text_of(parse_json(promoted->body).as_object(), "state"), "promoted");
  EXPECT_EQ(weight("canary"), 10000);
  EXPECT_EQ(weight("stable"), 0);

  // Finished, forgotten: the split is the operators' again.
  const auto deleted = veer.admin.call("DELETE", "/api/v1/rollouts/r1");
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(deleted->status, 200) << deleted->body;
  const auto gone = veer.admin.call("GET", "/api/v1/rollouts/r1");
  ASSERT_TRUE(gone.has_value());
  EXPECT_EQ(gone->status, 404);
  const auto free =
      veer.admin.call("PUT", "/api/v1/splits/rpc", R"({"targets": {"stable": 100, "canary": 0}})");
  ASSERT_TRUE(free.has_value());
  EXPECT_EQ(free->status, 200) << free->body;
  EXPECT_EQ(weight("canary"), 0);
}

// --- Stickiness: a key on the canary stays there until the rollback, then all on stable.

TEST(Rollouts, KeysStayOnTheCanaryAcrossStepsUntilTheRollback) {
  PoolBackend stable("stable", {}, 51);
  PoolBackend canary("canary", {}, 52);
  Veer veer = start_veer(rollout_config(stable.address(), canary.address()));
  ASSERT_NE(veer.admin.port, 0);
  constexpr int kKeys = 300;  // each key comes back every 1.5 s at 200 req/s
  KeyedLoad load(veer.port(), {.rate = 200, .duration = 120s, .keys = kKeys});
  Watch watch{veer};
  const auto created = veer.start(
      {.steps = {10, 25, 50, 100}, .min_step = "3s", .max_step = "60s", .error_tolerance = 0.10});
  ASSERT_TRUE(created && created->status == 201);
  ASSERT_TRUE(watch.until(
      [](const json::object& r) {
        return number_of(r, "step") >= 3 || kSettled.contains(text_of(r, "state"));
      },
      60s))
      << watch.dump();
  ASSERT_EQ(watch.state(), "running") << watch.dump();
  ASSERT_EQ(number_of(watch.last, "step"), 3) << watch.dump();
  // Half the canary's answers fail from now on: it is rolled back.
  const auto failing_from = Clock::now();
  canary.set({.error_share = 0.5});
  ASSERT_TRUE(watch.until_state(kSettled, 30s)) << watch.dump();
  ASSERT_EQ(watch.state(), "rolled_back") << watch.dump();
  const auto rolled_back_seen = Clock::now();
  // Every key once more after the rollback.
  const int sent = load.sent();
  EXPECT_TRUE(poll_until([&] { return load.sent() >= sent + 2 * kKeys; }, 10s));
  load.stop();

  int reached_canary = 0, moved_in_later = 0;
  for (const auto& [key, seen] : by_key(load.observations())) {
    bool on_canary = false;
    bool first_on_stable = !seen.empty() && seen.front().pool == "stable";
    for (const Observation& o : seen) {
      if (o.pool.empty()) continue;
      if (o.sent > rolled_back_seen) {
        EXPECT_EQ(o.pool, "stable") << "key u" << key << " after the rollback";
        continue;
      }
      if (o.sent < failing_from) {
        EXPECT_FALSE(on_canary && o.pool == "stable") << "key u" << key << " left the canary";
      }
      if (o.pool == "canary" && !on_canary) {
        on_canary = true;
        ++reached_canary;
        moved_in_later += first_on_stable;
      }
    }
  }
  testing::Test::RecordProperty("keys_reached_canary", reached_canary);
  testing::Test::RecordProperty("keys_moved_in_at_a_later_step", moved_in_later);
  EXPECT_GT(reached_canary, kKeys / 4) << "at 50 % about half the keys are on the canary";
  EXPECT_GT(moved_in_later, 0) << "growing the canary moves keys onto it";
}

// --- kill -9 mid-rollout: it resumes at the same step, and keys keep their version.

// The persisted evidence of rollout `name` in a state file: TARGET.requests of the first
// object under the rollout's entry that has one (-1 when the file has none).
double persisted_requests(const json::value& node, const char* target, bool inside = false) {
  if (node.is_array()) {
    for (const json::value& v : node.as_array()) {
      const double n = persisted_requests(v, target, inside);
      if (n >= 0) return n;
    }
    return -1;
  }
  if (!node.is_object()) return -1;
  const json::object& o = node.as_object();
  if (inside) {
    if (const json::value* t = o.if_contains(target); t && t->is_object()) {
      const double n = number_of(t->as_object(), "requests");
      if (n >= 0) return n;
    }
  }
  for (const auto& [key, value] : o) {
    const bool enters = inside || key == "r1" || text_of(o, "name") == "r1";
    const double n = persisted_requests(value, target, enters);
    if (n >= 0) return n;
  }
  return -1;
}

// rollouts.r1.progress.step (0-based) of a state file; -1 when absent.
double persisted_step(const json::value& state) {
  const json::value* step = nullptr;
  boost::system::error_code ec;
  step = state.find_pointer("/rollouts/r1/progress/step", ec);
  return step && step->is_number() ? step->to_number<double>() : -1;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(Rollouts, KillNineResumesAtTheSameStepAndKeysKeepTheirVersion) {
  PoolBackend stable("stable", {}, 61);
  PoolBackend canary("canary", {}, 62);
  const TestConfig config = rollout_config(stable.address(), canary.address());
  Veer veer = start_veer(config, /*with_state=*/true);
  ASSERT_NE(veer.admin.port, 0);
  constexpr int kKeys = 300;
  const KeyedLoadOptions how{.rate = 200, .duration = 60s, .keys = kKeys};
  auto load = std::make_unique<KeyedLoad>(veer.port(), how);
  Watch watch{veer};
  const auto created = veer.start(
      {.steps = {10, 50, 100}, .min_step = "8s", .max_step = "60s", .error_tolerance = 0.05});
  ASSERT_TRUE(created && created->status == 201);
  ASSERT_TRUE(watch.until(
      [](const json::object& r) {
        return number_of(r, "step") >= 2 || kSettled.contains(text_of(r, "state"));
      },
      40s))
      << watch.dump();
  ASSERT_EQ(watch.state(), "running") << watch.dump();
  ASSERT_EQ(number_of(watch.last, "step"), 2);
  // Step 2 lasts at least min_step (8 s); veer saves a running rollout's evidence within
  // half a second (app/rollout_driver.hpp, kRolloutSave): kill once the file holds some.
  EXPECT_TRUE(poll_until(
      [&] {
        const json::value saved = parse_json(read_text(veer.state_path));
        return saved.is_object() && persisted_step(saved) == 1 &&
               persisted_requests(saved, "canary") > 0;
      },
      6s))
      << read_text(veer.state_path);
  load.reset();  // stops it
  const std::map<int, std::string> keys_before = sweep_keys(veer.port(), kKeys, how);
  const auto before = veer.rollout();
  ASSERT_TRUE(before.has_value());
  ASSERT_EQ(number_of(*before, "step"), 2) << "min_step (8 s) holds it there for the kill";

  veer.admin.veer->signal(SIGKILL);
  ASSERT_TRUE(veer.admin.veer->wait_exit(5s).has_value());
  const json::value persisted = parse_json(read_text(veer.state_path));
  ASSERT_TRUE(persisted.is_object()) << read_text(veer.state_path);
  const double persisted_canary = persisted_requests(persisted, "canary");
  const double persisted_stable = persisted_requests(persisted, "stable");
  EXPECT_GT(persisted_canary, 0) << "the state file carries the step's evidence: "
                                 << read_text(veer.state_path);

  Veer again = start_veer(config, /*with_state=*/true, veer.dir);
  ASSERT_NE(again.admin.port, 0);
  const auto resumed = again.rollout();
  ASSERT_TRUE(resumed.has_value());
  EXPECT_EQ(text_of(*resumed, "state"), "running") << json::serialize(*resumed);
  EXPECT_EQ(number_of(*resumed, "step"), 2);
  EXPECT_EQ(number_of(*resumed, "weight"), 50);
  EXPECT_GE(evidence_requests(*resumed, "canary"), persisted_canary);
  EXPECT_GE(evidence_requests(*resumed, "stable"), persisted_stable);
  const std::map<int, std::string> keys_after = sweep_keys(again.port(), kKeys, how);
  const auto still = again.rollout();
  ASSERT_TRUE(still.has_value());
  int on_canary = 0;
  for (const auto& [key, pool] : keys_before) {
    ASSERT_FALSE(pool.empty()) << key;
    on_canary += pool == "canary";
    // At the same step the same version; a step further only stable keys may move.
    if (number_of(*still, "step") == 2 || pool == "canary") {
      EXPECT_EQ(keys_after.at(key), pool) << "key u" << key;
    }
  }
  EXPECT_GT(on_canary, kKeys / 4);
  testing::Test::RecordProperty("keys_on_canary_at_kill", on_canary);

  // And it goes on from there to the end.
  KeyedLoad more(again.port(), how);
  Watch after{again};
  EXPECT_TRUE(after.until_state(kSettled, 40s)) << after.dump();
  EXPECT_EQ(after.state(), "promoted") << after.dump();
}

// --- JSON-RPC: a canary whose answers carry error objects is rolled back.

// `method`: a read (retried on stable after the canary's server error, so the client
// never sees it: the judge must count the canary's failed try), or a call never sent
// again (the client sees the error object too).
class JsonRpcCanary : public testing::TestWithParam<const char*> {};

TEST_P(JsonRpcCanary, WithErrorObjectsIsRolledBack) {
  const std::string method = GetParam();
  FakeRpcNode stable("stable");
  FakeRpcNode canary("canary", {.index = 1});
  ASSERT_TRUE(canary.control(R"({"error_rate": 0.05, "error_code": -32603, "seed": 7})"));
  Veer veer =
      start_veer(rollout_config(stable.address(), canary.address(), "", "  jsonrpc = true"));
  ASSERT_NE(veer.admin.port, 0);
  KeyedLoad load(veer.port(), {.kind = LoadKind::jsonrpc,
                               .rate = 200,
                               .duration = 40s,
                               .pool_header = "X-Veer-Target",
                               .rpc_method = method});
  Watch watch{veer};
  const auto created = veer.start({.steps = {10, 25, 50, 100}, .min_step = "5s"});
  ASSERT_TRUE(created && created->status == 201) << (created ? created->body : "");
  EXPECT_TRUE(watch.until_state(kSettled, 20s)) << watch.dump();
  load.stop();
  ASSERT_EQ(watch.state(), "rolled_back") << watch.dump();
  record_seconds("jsonrpc_" + method + "_rolled_back_after_s", watch.seconds);
  const LoadSummary seen = load.summary();
  EXPECT_EQ(seen.no_response, 0);
  EXPECT_EQ(seen.statuses.size(), 1u) << "HTTP 200 throughout";
  testing::Test::RecordProperty("client_rpc_errors", seen.sent - seen.ok);
  EXPECT_GT(canary.calls(method), 0u);
}

INSTANTIATE_TEST_SUITE_P(Rollouts, JsonRpcCanary,
                         testing::Values("web3_clientVersion", "eth_newBlockFilter"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace veer::test
