#include "conf/load.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <string>

namespace veer::conf {
namespace {

using namespace std::chrono_literals;

LoadResult load(const std::string& text) {
  return load_config_string(text, "test.toml");
}

// Every error as "test.toml:LINE:COLUMN: message", joined, for readable failures.
std::string errors_of(const LoadResult& r) {
  std::string all;
  for (const auto& e : r.errors)
    all += e.to_string() + "\n";
  return all;
}

bool has_error(const LoadResult& r, int line, std::string_view fragment) {
  for (const auto& e : r.errors) {
    if (static_cast<int>(e.line) == line && e.message.find(fragment) != std::string::npos) {
      return true;
    }
  }
  return false;
}

const char* kMinimal = R"(
[listeners.public]
address = "127.0.0.1:8545"
  [[listeners.public.routes]]
  target = "rpc"

[pools.rpc]
backends = ["127.0.0.1:19001"]
)";

TEST(Config, MinimalFileIsValidAndDefaulted) {
  const LoadResult r = load(kMinimal);
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.server.workers, 0u);
  EXPECT_EQ(c.server.io_engine, IoEngine::automatic);
  EXPECT_EQ(c.server.access_log, "stdout");
  EXPECT_EQ(c.timeouts.client_header, 10s);
  EXPECT_EQ(c.timeouts.upstream_response, 30s);
  EXPECT_EQ(c.timeouts.tunnel_idle, 1h);
  EXPECT_EQ(c.limits.max_header_bytes, 65536u);
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].host_port.port, 8545);
  ASSERT_EQ(c.pools.size(), 1u);
  EXPECT_EQ(c.pools[0].strategy, "round_robin");
  ASSERT_EQ(c.pools[0].backends.size(), 1u);
  EXPECT_EQ(c.pools[0].backends[0].weight, 1u);
  EXPECT_EQ(c.pools[0].backends[0].resolved.to_string(), "127.0.0.1:19001");
}

TEST(Config, FullFileLoadsEverySection) {
  const LoadResult r = load(R"(
[server]
workers = 2
io_engine = "epoll"
access_log = "off"
state_file = ""

[timeouts]
client_header = "5s"
client_idle = "30s"
upstream_connect = "250ms"
upstream_response = "1m30s"
tunnel_idle = "2h"
drain = "0s"

[limits]
max_header_bytes = 8192
max_body_bytes = 1048576
max_connections = 5000

[listeners.public]
address = "0.0.0.0:8545"
  [[listeners.public.routes]]
  path_prefix = "/ws"
  host = "RPC.example.com"
  target = "ws"
  [[listeners.public.routes]]
  path_prefix = "/"
  target = "rpc"

[listeners.ipv6]
address = "[::1]:8546"
  [[listeners.ipv6.routes]]
  target = "ws"

[pools.ws]
strategy = "round_robin"
backends = ["127.0.0.1:19011", "127.0.0.1:19012"]

[pools.rpc]
backends = [
  { address = "127.0.0.1:19001", weight = 1 },
  { address = "127.0.0.1:19002", weight = 3 },
  { address = "127.0.0.1:19009", backup = true },
  { address = "localhost:19010", weight = 0 },
]
)");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.server.workers, 2u);
  EXPECT_EQ(c.server.io_engine, IoEngine::epoll);
  EXPECT_EQ(c.timeouts.upstream_connect, 250ms);
  EXPECT_EQ(c.timeouts.upstream_response, 90s);
  EXPECT_EQ(c.timeouts.drain, 0s);
  EXPECT_EQ(c.limits.max_connections, 5000u);
  ASSERT_EQ(c.listeners.size(), 2u);
  const auto listener = [&](std::string_view name) {
    for (const auto& l : c.listeners) {
      if (l.name == name) return &l;
    }
    return static_cast<const ListenerConfig*>(nullptr);
  };
  ASSERT_NE(listener("public"), nullptr);
  ASSERT_EQ(listener("public")->routes.size(), 2u);
  EXPECT_EQ(listener("public")->routes[0].host, "rpc.example.com") << "hosts compare lower-case";
  EXPECT_EQ(listener("public")->routes[0].path_prefix, "/ws") << "routes keep file order";
  EXPECT_EQ(listener("ipv6")->host_port.host, "::1");
  const PoolConfig* rpc = c.find_pool("rpc");
  ASSERT_NE(rpc, nullptr);
  ASSERT_EQ(rpc->backends.size(), 4u);
  EXPECT_EQ(rpc->backends[1].weight, 3u);
  EXPECT_TRUE(rpc->backends[2].backup);
  EXPECT_EQ(rpc->backends[3].weight, 0u);
  EXPECT_TRUE(r.warnings.empty());
}

TEST(Config, UnknownKeysAreErrorsWithPositions) {
  const LoadResult r = load(R"([server]
workerz = 2
[timeouts]
client_headr = "1s"
[listeners.public]
address = "127.0.0.1:8545"
adress = "x"
  [[listeners.public.routes]]
  target = "rpc"
  path = "/"
[pools.rpc]
backends = [{ address = "127.0.0.1:19001", wieght = 2 }]
[typo]
)");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has_error(r, 2, "server.workerz: unknown key")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 4, "timeouts.client_headr: unknown key")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 7, "listeners.public.adress: unknown key")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 10, "routes[0].path: unknown key")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 12, "wieght: unknown key")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 13, "typo: unknown key")) << errors_of(r);
  EXPECT_EQ(r.errors.size(), 6u) << errors_of(r);
  EXPECT_EQ(r.errors[0].to_string(), "test.toml:2:1: server.workerz: unknown key");
}

TEST(Config, SemanticErrorsAreAllReported) {
  const LoadResult r = load(R"([timeouts]
client_idle = "10 seconds"
upstream_connect = "0ms"
[listeners.public]
address = "127.0.0.1:70000"
  [[listeners.public.routes]]
  target = "nope"
[listeners.other]
address = "127.0.0.1:8000"
  [[listeners.other.routes]]
  target = "rpc"
[listeners.same]
address = "127.0.0.1:8000"
  [[listeners.same.routes]]
  target = "rpc"
[pools.rpc]
strategy = "fastest"
backends = [
  "127.0.0.1:19001",
  "127.0.0.1:19001",
  { address = "127.0.0.1:19002", weight = -1 },
  "127.0.0.1:0",
  "127.0.0.1",
  "::1:80",
]
)");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has_error(r, 2, "bad duration \"10 seconds\"")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 3, "must be at least 1ms")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 5, "out of range")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 7, "no pool named \"nope\"")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 13, "already used by listener \"other\"")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 17, "unknown strategy \"fastest\" (available: round_robin"))
      << errors_of(r);
  EXPECT_TRUE(has_error(r, 20, "duplicate address 127.0.0.1:19001 (first at line 19)"))
      << errors_of(r);
  EXPECT_TRUE(has_error(r, 21, "weight: must be >= 0")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 22, "port 0 is not a backend port")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 23, "expected \"host:port\"")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 24, "IPv6 addresses need brackets")) << errors_of(r);
}

TEST(Config, TypeErrorsNameTheKey) {
  const LoadResult r = load(R"([server]
workers = "two"
io_engine = "kqueue"
[limits]
max_header_bytes = 10
[listeners.public]
address = 8545
routes = []
[pools.rpc]
backends = "127.0.0.1:1"
hash_key = "client_ip"
)");
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has_error(r, 2, "server.workers: expected an integer")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 3, "not one of auto, io_uring, epoll")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 5, "10 is out of range (1024-1048576)")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 7, "address: expected \"host:port\"")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 8, "routes: expected at least one")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 10, "backends: expected an array")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 11, "hash_key applies to ip_hash only")) << errors_of(r);
}

TEST(Config, SyntaxErrorsHaveAPosition) {
  const LoadResult r = load("[server]\nworkers = = 2\n");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].line, 2u);
  EXPECT_GT(r.errors[0].column, 1u);
}

TEST(Config, MissingSectionsAreExplained) {
  LoadResult r = load("");
  EXPECT_TRUE(has_error(r, 1, "at least one [listeners.NAME]")) << errors_of(r);
  r = load("[listeners.a]\n[[listeners.a.routes]]\n");
  EXPECT_TRUE(has_error(r, 1, "missing key \"address\"")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 2, "missing key \"target\"")) << errors_of(r);
}

TEST(Config, FeaturesOfLaterReleasesAreRefusedClearly) {
  const LoadResult r = load(std::string(kMinimal) + R"(
[admin]
address = "127.0.0.1:9901"
)");
  EXPECT_TRUE(has_error(r, 10, "admin: the admin API is not available")) << errors_of(r);
}

TEST(Config, UnusedAndEmptyPoolsWarn) {
  const LoadResult r = load(std::string(kMinimal) + "[pools.spare]\nbackends = []\n");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_NE(r.warnings[0].message.find("no route uses this pool"), std::string::npos);
  EXPECT_NE(r.warnings[1].message.find("get 503"), std::string::npos);
}

TEST(Config, UnresolvableBackendIsAnError) {
  const LoadResult r = load(R"(
[listeners.public]
address = "127.0.0.1:8545"
  [[listeners.public.routes]]
  target = "rpc"
[pools.rpc]
backends = ["no-such-host.invalid:80"]
)");
  EXPECT_TRUE(has_error(r, 7, "cannot resolve host \"no-such-host.invalid\"")) << errors_of(r);
}

TEST(Config, LoadsFromAFileAndNamesIt) {
  const std::string path = ::testing::TempDir() + "/veer-config-test.toml";
  std::ofstream(path) << "[server]\nbogus = 1\n";
  const LoadResult r = load_config_file(path);
  ASSERT_FALSE(r.errors.empty());
  EXPECT_EQ(r.errors[0].file, path);
  const LoadResult missing = load_config_file(path + ".missing");
  ASSERT_EQ(missing.errors.size(), 1u);
  EXPECT_NE(missing.errors[0].message.find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace veer::conf
