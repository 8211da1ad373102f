// The five strategies end to end, through veer with two workers: the properties that
// depend on real connections, real concurrency or real latency.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <random>

#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/load.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"
#include "support/ws_client.hpp"

namespace veer::test {
namespace {

using Clock = std::chrono::steady_clock;

struct ThreeBackends {
  TestBackend a{"a"}, b{"b"}, c{"c"};
  std::vector<TestBackend*> all() { return {&a, &b, &c}; }
  std::vector<std::string> addresses() { return {a.address(), b.address(), c.address()}; }
};

std::unique_ptr<VeerProcess> start(TestConfig config) {
  auto veer = std::make_unique<VeerProcess>(config.toml());
  EXPECT_TRUE(veer->wait_ready()) << veer->log_text();
  return veer;
}

TEST(RoundRobin, GlobalSplitStaysEvenAcrossTwoWorkers) {
  ThreeBackends pool;
  auto veer = start(TestConfig{.backends = pool.addresses(), .workers = 2});
  // Eight connections, spread by the kernel over both workers' listeners. An ASan build
  // runs about four times slower: fewer requests, the same tolerance.
  constexpr int kRequests = kSanitizerBuild ? 20000 : 100000;
  const LoadResult load = run_gets(veer->port(), 8, kRequests, 60s);
  ASSERT_EQ(load.ok, kRequests) << "failed: " << load.failed;
  for (const char* name : {"a", "b", "c"}) {
    RecordProperty(std::string("share_per_mille_") + name,
                   static_cast<int>(load.share(name) * 1000));
    EXPECT_NEAR(load.share(name), 1.0 / 3, 0.02) << name;
  }
}

// Open WebSocket tunnels per backend, as the backends count them.
std::vector<int> open_per_backend(ThreeBackends& pool) {
  std::vector<int> counts;
  for (TestBackend* b : pool.all())
    counts.push_back(b->open_websockets());
  return counts;
}

int spread(const std::vector<int>& counts) {
  return *std::max_element(counts.begin(), counts.end()) -
         *std::min_element(counts.begin(), counts.end());
}

// Waits (polling, bounded) until the backends have seen `total` tunnels open.
bool settle(ThreeBackends& pool, int total, std::uint16_t port) {
  const auto deadline = Clock::now() + 5s;
  while (Clock::now() < deadline) {
    const auto counts = open_per_backend(pool);
    if (counts[0] + counts[1] + counts[2] == total) return true;
    Client(port).wait_closed(5ms);
  }
  return false;
}

TEST(LeastConnections, LongLivedTunnelsStayBalancedWhileSomeClose) {
  ThreeBackends pool;
  auto veer = start(
      TestConfig{.backends = pool.addresses(), .workers = 2, .strategy = "least_connections"});
  std::vector<std::unique_ptr<WsClient>> tunnels;
  std::mt19937 random(2024);
  int worst = 0;
  for (int wave = 0; wave < 6; ++wave) {
    // Some subscribers leave...
    std::shuffle(tunnels.begin(), tunnels.end(), random);
    tunnels.resize(tunnels.size() * 2 / 3);
    ASSERT_TRUE(settle(pool, static_cast<int>(tunnels.size()), veer->port()));
    // ...and more arrive.
    for (int i = 0; i < 24; ++i)
      tunnels.push_back(std::make_unique<WsClient>(veer->port()));
    ASSERT_TRUE(settle(pool, static_cast<int>(tunnels.size()), veer->port()));
    worst = std::max(worst, spread(open_per_backend(pool)));
  }
  EXPECT_GT(tunnels.size(), 40u);
  EXPECT_LE(worst, 1 + 2) << "1 + workers";
}

TEST(LeastConnections, AReloadKeepsTheLiveCounts) {
  ThreeBackends pool;
  TestConfig config{.backends = {pool.a.address(), pool.b.address(),
                                 "{ address = \"" + pool.c.address() + "\", weight = 0 }"},
                    .workers = 2,
                    .strategy = "least_connections"};
  auto veer = start(config);
  std::vector<std::unique_ptr<WsClient>> tunnels;
  for (int i = 0; i < 12; ++i)
    tunnels.push_back(std::make_unique<WsClient>(veer->port()));
  ASSERT_TRUE(settle(pool, 12, veer->port()));
  EXPECT_EQ(pool.c.open_websockets(), 0) << "weight 0 takes no traffic";
  // The reload brings c in; a and b keep their 6 tunnels each in their counters, so
  // the next 12 go to c first.
  config.backends[2] = pool.c.address();
  veer->rewrite_config(config.toml());
  veer->signal(SIGHUP);
  ASSERT_TRUE(veer->wait_for_log("configuration version 2 applied", 5s)) << veer->log_text();
  for (int i = 0; i < 12; ++i)
    tunnels.push_back(std::make_unique<WsClient>(veer->port()));
  ASSERT_TRUE(settle(pool, 24, veer->port()));
  EXPECT_LE(spread(open_per_backend(pool)), 3)
      << pool.a.open_websockets() << " " << pool.b.open_websockets() << " "
      << pool.c.open_websockets();
}

TEST(IpHash, AHeaderKeyAlwaysReachesTheSameBackend) {
  ThreeBackends pool;
  auto veer = start(TestConfig{.backends = pool.addresses(),
                               .workers = 2,
                               .strategy = "ip_hash",
                               .extra = "hash_key = \"header:X-Api-Key\"\n"});
  std::map<std::string, std::string> owner;
  std::map<std::string, int> per_backend;
  for (int key = 0; key < 150; ++key) {
    const std::string header = "X-Api-Key: key-" + std::to_string(key);
    for (int attempt = 0; attempt < 3; ++attempt) {  // new connections: any worker
      const auto r = fetch(veer->port(), "GET", "/", "", {header});
      ASSERT_TRUE(r && r->status == 200);
      if (attempt == 0) {
        owner[header] = r->body;
        ++per_backend[r->body];
      } else {
        ASSERT_EQ(r->body, owner[header]) << header;
      }
    }
  }
  for (const char* name : {"a", "b", "c"})
    EXPECT_GE(per_backend[name], 25) << name;
}

TEST(IpHash, CookieKeysAndTheClientAddressFallback) {
  ThreeBackends pool;
  auto veer = start(TestConfig{.backends = pool.addresses(),
                               .workers = 2,
                               .strategy = "ip_hash",
                               .extra = "hash_key = \"cookie:session\"\n"});
  std::set<std::string> backends;
  for (int user = 0; user < 60; ++user) {
    const std::string cookie = "Cookie: theme=dark; session=user-" + std::to_string(user);
    const auto first = fetch(veer->port(), "GET", "/", "", {cookie});
    const auto second = fetch(veer->port(), "GET", "/", "", {cookie});
    ASSERT_TRUE(first && second);
    EXPECT_EQ(first->body, second->body);
    backends.insert(first->body);
  }
  EXPECT_EQ(backends.size(), 3u);
  // Without the cookie every request hashes the client address: one backend.
  std::set<std::string> fallback;
  for (int i = 0; i < 20; ++i)
    fallback.insert(fetch(veer->port(), "GET", "/")->body);
  EXPECT_EQ(fallback.size(), 1u);
}

TEST(LeastResponseTime, AvoidsASlowBackendAndForgivesItWhenFast) {
  ThreeBackends pool;
  pool.c.set_handler(
      [](const BackendRequest&) { return BackendReply{.body = "c", .delay = 50ms}; });
  auto veer = start(
      TestConfig{.backends = pool.addresses(), .workers = 2, .strategy = "least_response_time"});
  const LoadResult slow_phase = run_gets(veer->port(), 16, 20000, 60s);
  ASSERT_EQ(slow_phase.ok, 20000);
  const int slow_requests = slow_phase.by_body.count("c") ? slow_phase.by_body.at("c") : 0;
  RecordProperty("slow_backend_requests_of_20000", slow_requests);
  EXPECT_LT(slow_phase.share("c"), 0.10) << "the 50 ms backend got " << slow_requests;

  pool.c.set_handler([](const BackendRequest&) { return BackendReply{.body = "c"}; });
  const auto recovered_from = Clock::now();
  double share = 0;
  while (Clock::now() - recovered_from < 10s) {
    share = run_gets(veer->port(), 16, 1000000, 500ms).share("c");
    if (share > 0.20) break;
  }
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - recovered_from);
  RecordProperty("recovery_ms", static_cast<int>(took.count()));
  EXPECT_GT(share, 0.20) << "c's share half a second before giving up";
  EXPECT_LE(took, 10s);
}

TEST(Strategies, AStrategyChangeOnReloadAppliesToNewRequests) {
  ThreeBackends pool;
  TestConfig config{.backends = pool.addresses(), .workers = 1};
  auto veer = start(config);
  Client client(veer->port());
  std::set<std::string> round_robin;
  for (int i = 0; i < 6; ++i)
    round_robin.insert(client.request("GET", "/", "", {"X-Api-Key: k"})->body);
  EXPECT_EQ(round_robin.size(), 3u);
  config.strategy = "ip_hash";
  config.extra = "hash_key = \"header:X-Api-Key\"\n";
  veer->rewrite_config(config.toml());
  veer->signal(SIGHUP);
  ASSERT_TRUE(veer->wait_for_log("configuration version 2 applied", 5s)) << veer->log_text();
  std::set<std::string> hashed;
  for (int i = 0; i < 6; ++i)
    hashed.insert(client.request("GET", "/", "", {"X-Api-Key: k"})->body);
  EXPECT_EQ(hashed.size(), 1u) << "the same connection, now hashed";
}

TEST(Strategies, APoolWithNothingRoutableAnswers503) {
  TestBackend a("a");
  auto veer = start(TestConfig{.backends = {"{ address = \"" + a.address() + "\", weight = 0 }"}});
  const auto r = fetch(veer->port(), "GET", "/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(r->body.find("no backend available in pool main"), std::string::npos) << r->body;
  EXPECT_EQ(a.requests(), 0);
}

}  // namespace
}  // namespace veer::test
