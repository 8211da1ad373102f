// Traffic splits end to end: proportions over real requests, stickiness and monotone
// movement across reloads, a blue-green switch under load, overrides, failover from a
// dead canary, and WebSocket tunnels across a switch.
#include <gtest/gtest.h>
#include <signal.h>

#include <map>
#include <set>
#include <thread>

#include "support/backend_process.hpp"
#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/load.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"
#include "support/ws_client.hpp"

namespace veer::test {
namespace {

using Clock = std::chrono::steady_clock;

struct Versions {
  TestBackend blue{"blue"};
  TestBackend green{"green"};
  TestBackend canary{"canary"};

  std::string pools() const {
    return "[pools.blue]\nbackends = [\"" + blue.address() + "\"]\n[pools.green]\nbackends = [\"" +
           green.address() + "\"]\n[pools.canary]\nbackends = [\"" + canary.address() + "\"]\n";
  }
};

// A configuration whose one route targets split "rpc" with `split_keys`.
TestConfig split_config(const Versions& v, const std::string& split_keys) {
  // Appended piece by piece: GCC 12 misreads `"\n" + std::string` (-Wrestrict).
  std::string extra = "\n";
  extra += v.pools();
  extra += "[splits.rpc]\n";
  extra += split_keys;
  extra += "\n";
  return TestConfig{.backends = {v.blue.address()}, .extra = extra, .route_target = "rpc"};
}

std::unique_ptr<VeerProcess> start(const TestConfig& config) {
  auto veer = std::make_unique<VeerProcess>(config.toml());
  EXPECT_TRUE(veer->wait_ready()) << veer->log_text();
  return veer;
}

void reload(VeerProcess& veer, const TestConfig& config, int version) {
  veer.rewrite_config(config.toml());
  veer.signal(SIGHUP);
  ASSERT_TRUE(
      veer.wait_for_log("configuration version " + std::to_string(version) + " applied", 5s))
      << veer.log_text();
}

std::vector<std::string> user_header(int i) {
  return {"X-User: user-" + std::to_string(i)};
}

struct Shares {
  std::string targets;
  std::map<std::string, double> expected;  // percent
};

TEST(Splits, ProportionsHoldOverTenThousandRealRequests) {
  Versions v;
  const std::vector<Shares> cases = {
      {"{ blue = 90, green = 10 }", {{"blue", 90}, {"green", 10}}},
      {"{ blue = 50, green = 50 }", {{"blue", 50}, {"green", 50}}},
      {"{ blue = 1, green = 99 }", {{"blue", 1}, {"green", 99}}},
      {"{ blue = 50, green = 30, canary = 20 }", {{"blue", 50}, {"green", 30}, {"canary", 20}}},
  };
  TestConfig config =
      split_config(v, "targets = " + cases[0].targets + "\nsticky = \"header:X-User\"");
  auto veer = start(config);
  for (std::size_t c = 0; c < cases.size(); ++c) {
    if (c > 0) {
      config = split_config(v, "targets = " + cases[c].targets + "\nsticky = \"header:X-User\"");
      reload(*veer, config, static_cast<int>(c) + 1);
    }
    // Distinct keys, over 8 keep-alive connections spread across both workers.
    const LoadResult load = run_gets(veer->port(), 8, 10'000, 60s, {}, "/", user_header);
    ASSERT_EQ(load.ok, 10'000) << "failed: " << load.failed;
    for (const auto& [pool, percent] : cases[c].expected) {
      const double measured = 100.0 * load.share(pool);
      RecordProperty("case" + std::to_string(c) + "_" + pool + "_percent",
                     std::to_string(measured));
      EXPECT_NEAR(measured, percent, 2.0) << cases[c].targets << " " << pool;
    }
  }
}

// Each key's target over `keys` keys, each asked on a new connection.
std::map<int, std::string> targets_of_keys(std::uint16_t port, int keys) {
  std::map<int, std::string> seen;
  for (int k = 0; k < keys; ++k) {
    const auto r = fetch(port, "GET", "/", "", user_header(k));
    seen[k] = r ? r->body : "failed";
  }
  return seen;
}

TEST(Splits, KeysStickAndOnlyMoveIntoTheCanaryAsItGrows) {
  Versions v;
  auto keys_with = [&](int canary) {
    return split_config(v, "targets = { blue = " + std::to_string(100 - canary) + ", canary = " +
                               std::to_string(canary) + " }\nsticky = \"header:X-User\"");
  };
  TestConfig config = keys_with(10);
  auto veer = start(config);
  // The same key, 1,000 times over several connections: always the same target.
  std::set<std::string> targets_of_one_key;
  std::unique_ptr<Client> client;
  for (int i = 0; i < 1000; ++i) {
    if (i % 100 == 0) client = std::make_unique<Client>(veer->port());
    const auto r = client->request("GET", "/", "", user_header(4242));
    ASSERT_TRUE(r && r->status == 200);
    targets_of_one_key.insert(r->body);
  }
  EXPECT_EQ(targets_of_one_key.size(), 1u);

  std::map<int, std::string> before = targets_of_keys(veer->port(), 400);
  int version = 1;
  int moved = 0;
  for (int canary : {25, 50, 100}) {
    reload(*veer, keys_with(canary), ++version);
    const std::map<int, std::string> after = targets_of_keys(veer->port(), 400);
    for (const auto& [key, target] : after) {
      ASSERT_NE(target, "failed");
      EXPECT_FALSE(before[key] == "canary" && target == "blue")
          << "key " << key << " moved back at canary weight " << canary;
      moved += before[key] == "blue" && target == "canary";
    }
    before = after;
  }
  RecordProperty("keys_moved_to_canary", moved);
  for (const auto& [key, target] : before)
    EXPECT_EQ(target, "canary") << key;
}

TEST(Splits, BlueGreenSwitchUnderLoadLosesNothing) {
  Versions v;
  TestConfig config = split_config(v, "targets = { blue = 100, green = 0 }");
  auto veer = start(config);
  std::atomic<int> phase{0};
  PacedResult result;
  std::thread load([&] {
    result = run_paced(veer->port(), PacedLoad{.rate = 400, .threads = 8, .duration = 4s}, phase);
  });
  // Let blue take traffic, then switch by SIGHUP. Requests sent after veer reports the
  // new version are phase 2; those racing the switch are phase 1.
  const auto deadline = Clock::now() + 5s;
  while (v.blue.requests() < 300 && Clock::now() < deadline) {
    Client(veer->port()).wait_closed(10ms);  // a bounded poll
  }
  phase = 1;
  config = split_config(v, "targets = { blue = 0, green = 100 }");
  reload(*veer, config, 2);
  phase = 2;
  load.join();
  EXPECT_TRUE(result.failures.empty())
      << result.failures.size()
      << " failed, first: " << (result.failures.empty() ? "" : result.failures[0]);
  EXPECT_GT(result.sent, 1000);
  EXPECT_EQ(result.by_phase[0].count("green"), 0u);
  EXPECT_GT(result.by_phase[0]["blue"], 100);
  EXPECT_GT(result.by_phase[2]["green"], 500);
  EXPECT_EQ(result.by_phase[2].count("blue"), 0u) << "a request after the switch reached blue";
  RecordProperty("requests", result.sent);
  RecordProperty("failed", static_cast<int>(result.failures.size()));
  EXPECT_TRUE(veer->wait_for_log("split rpc: weights blue 100 -> 0, green 0 -> 100", 1s))
      << veer->log_text();
}

TEST(Splits, OverrideReachesEveryTargetAndTheTargetHeaderNamesIt) {
  Versions v;
  auto veer = start(split_config(v, R"(targets = { blue = 100, green = 0, canary = 0 }
override_header = "X-Veer-Version"
override_cookie = "veer_version"
target_header = "X-Veer-Target")"));
  for (const char* pool : {"blue", "green", "canary"}) {
    for (const std::string& line : {std::string("X-Veer-Version: ") + pool,
                                    std::string("Cookie: theme=dark; veer_version=") + pool}) {
      const auto r = fetch(veer->port(), "GET", "/", "", {line});
      ASSERT_TRUE(r.has_value()) << line;
      EXPECT_EQ(r->body, pool) << line;
      EXPECT_EQ(r->header("X-Veer-Target"), pool);
      EXPECT_EQ(r->count("X-Veer-Target"), 1u);
    }
  }
  const auto unknown = fetch(veer->port(), "GET", "/", "", {"X-Veer-Version: purple"});
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(unknown->status, 200) << "an unknown value is ignored, not an error";
  EXPECT_EQ(unknown->body, "blue");

  // Off by default.
  auto plain = start(split_config(v, "targets = { blue = 1 }"));
  const auto r = fetch(plain->port(), "GET", "/", "");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->body, "blue");
  EXPECT_EQ(r->count("X-Veer-Target"), 0u);
}

// Split "rpc" over stable (blue) and a canary pool whose one backend is dead, found
// out by `detection` (an active check, or passive ejection only).
TestConfig dead_canary_config(const Versions& v, const std::string& detection,
                              const std::string& split_keys = "") {
  const std::uint16_t dead = free_port();  // nothing listens there
  std::string extra = "\n[pools.stable]\nbackends = [\"";
  extra += v.blue.address();
  extra += "\"]\n[pools.canary]\nbackends = [\"127.0.0.1:" + std::to_string(dead) + "\"]\n";
  extra += detection;
  extra += "\n[splits.rpc]\ntargets = { stable = 50, canary = 50 }\nsticky = \"none\"\n";
  extra += split_keys;
  return TestConfig{.backends = {v.blue.address()}, .extra = extra, .route_target = "rpc"};
}

// GETs and POSTs alternately on keep-alive connections; returns the failures.
std::vector<std::string> mixed_requests(std::uint16_t port, int count, int* ok) {
  std::vector<std::string> failures;
  auto client = std::make_unique<Client>(port);
  for (int i = 0; i < count; ++i) {
    const bool post = i % 2 == 1;
    const auto r = client->request(post ? "POST" : "GET", "/", post ? "{\"id\":1}" : "");
    if (r && r->status == 200 && r->body == "blue") {
      ++*ok;
    } else {
      failures.push_back(r ? std::to_string(r->status) + " " + r->body : "no response");
      client = std::make_unique<Client>(port);
    }
  }
  return failures;
}

class DeadCanary : public testing::TestWithParam<const char*> {};

TEST_P(DeadCanary, SendsEverythingToStableWithoutFailures) {
  Versions v;
  auto veer = start(dead_canary_config(v, GetParam()));
  // From the first moment: before the canary is found out, its refused connects fail
  // over to stable (outside the retry budget); after, nothing is sent to it at all.
  int ok = 0;
  const std::vector<std::string> failures = mixed_requests(veer->port(), 600, &ok);
  EXPECT_EQ(ok, 600) << failures.size()
                     << " failed, first: " << (failures.empty() ? "" : failures[0]);
  RecordProperty("failed", static_cast<int>(failures.size()));
  EXPECT_TRUE(veer->wait_for_log(
      "split rpc: pool canary has no routable backend; its share goes to pool stable", 5s))
      << veer->log_text();
}

INSTANTIATE_TEST_SUITE_P(
    Splits, DeadCanary,
    testing::Values("health = { type = \"tcp\", interval = \"200ms\", timeout = \"100ms\", "
                    "rise = 1, fall = 1 }",
                    "outlier = { consecutive_failures = 2, base_ejection = \"10s\" }"));

TEST(Splits, WithFailoverOffADeadTargetsShareIsA503ThatSaysWhy) {
  Versions v;
  auto veer = start(dead_canary_config(
      v,
      "health = { type = \"tcp\", interval = \"200ms\", timeout = \"100ms\", rise = 1, fall = 1 }",
      "failover = false"));
  ASSERT_TRUE(veer->wait_for_log("-> down", 5s)) << veer->log_text();
  int refused = 0;
  for (int i = 0; i < 100; ++i) {
    const auto r = fetch(veer->port(), "GET", "/", "");
    ASSERT_TRUE(r.has_value());
    if (r->status == 503) {
      ++refused;
      EXPECT_NE(r->body.find("no backend available in pool canary (split rpc has failover off)"),
                std::string::npos)
          << r->body;
    } else {
      EXPECT_EQ(r->body, "blue");
    }
  }
  EXPECT_GT(refused, 25);
  EXPECT_LT(refused, 75);
}

TEST(Splits, TunnelsStayOnTheirPoolAcrossASwitchUnlessDrainingIsAsked) {
  Versions v;
  TestConfig config = split_config(v, "targets = { blue = 100, green = 0 }");
  auto veer = start(config);
  WsClient before(veer->port());
  ASSERT_EQ(before.echo("hello"), "hello");
  EXPECT_EQ(v.blue.open_websockets(), 1);
  reload(*veer, split_config(v, "targets = { blue = 0, green = 100 }"), 2);
  EXPECT_EQ(before.echo("still here"), "still here") << "left alone by default";
  WsClient after(veer->port());
  ASSERT_EQ(after.echo("new"), "new");
  EXPECT_EQ(v.green.open_websockets(), 1) << "a new tunnel goes to green";
  EXPECT_EQ(v.blue.open_websockets(), 1);

  // With drain_tunnels_after, tunnels on the emptied target close after the grace.
  reload(*veer,
         split_config(v, "targets = { blue = 100, green = 0 }\ndrain_tunnels_after = \"300ms\""),
         3);
  ASSERT_EQ(after.echo("within grace"), "within grace");
  const auto switched = Clock::now();
  EXPECT_TRUE(after.ends()) << "the green tunnel is closed after the grace period";
  const auto waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - switched);
  EXPECT_GE(waited.count(), 200);
  RecordProperty("tunnel_closed_after_ms", static_cast<int>(waited.count()));
  EXPECT_EQ(before.echo("blue stays"), "blue stays");
  EXPECT_TRUE(veer->wait_for_log("split rpc: closed 1 WebSocket tunnels to pool green", 2s))
      << veer->log_text();
}

}  // namespace
}  // namespace veer::test
