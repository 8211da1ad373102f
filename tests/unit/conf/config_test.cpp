// Loading a configuration file: defaults, every section, and the errors with their
// positions (conf/load.hpp).
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
  EXPECT_EQ(c.server.log, "stderr");
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
  EXPECT_TRUE(has_error(r, 2, "server.workerz: unknown key (did you mean \"workers\"?)"))
      << errors_of(r);
  EXPECT_TRUE(has_error(r, 4, "timeouts.client_headr: unknown key")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 7, "listeners.public.adress: unknown key")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 10, "routes[0].path: unknown key")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 12, "wieght: unknown key")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 13, "typo: unknown key")) << errors_of(r);
  EXPECT_EQ(r.errors.size(), 6u) << errors_of(r);
  EXPECT_EQ(r.errors[0].to_string(),
            "test.toml:2:1: server.workerz: unknown key (did you mean \"workers\"?)");
}

TEST(Config, UnknownKeysSuggestTheOneCloseKnownKey) {
  const LoadResult r = load(R"([server]
worker = 2
Access_Log = "off"
colour = "blue"
[listeners.public]
address = "127.0.0.1:8545"
  [[listeners.public.routes]]
  target = "x"
[pools.x]
strategyy = "round_robin"
backends = [{ address = "127.0.0.1:19001", wieght = 2 }]
health = { type = "tcp", intervl = "1s" }
[admn]
)");
  EXPECT_FALSE(r.ok());
  for (const char* expected : {
           "test.toml:2:1: server.worker: unknown key (did you mean \"workers\"?)",
           "test.toml:3:1: server.Access_Log: unknown key (did you mean \"access_log\"?)",
           "test.toml:4:1: server.colour: unknown key\n",
           "test.toml:10:1: pools.x.strategyy: unknown key (did you mean \"strategy\"?)",
           "pools.x.backends[0].wieght: unknown key (did you mean \"weight\"?)",
           "pools.x.health.intervl: unknown key (did you mean \"interval\"?)",
           "test.toml:13:2: admn: unknown key (did you mean \"admin\"?)",
       }) {
    EXPECT_NE(errors_of(r).find(expected), std::string::npos) << "missing: " << expected << "\n"
                                                              << errors_of(r);
  }
}

// toml++ 3.3.0 has undefined behaviour on these (tomlplusplus #295): refused before it runs.
TEST(Config, NonAsciiInAKeyIsRefusedWithItsPosition) {
  LoadResult r = load("[pööls]\n");
  ASSERT_EQ(r.errors.size(), 1u) << errors_of(r);
  EXPECT_EQ(r.errors[0].to_string(), "test.toml:1:3: non-ASCII character in a key");

  r = load("[server]\nwörkers = 1\n");
  ASSERT_EQ(r.errors.size(), 1u) << errors_of(r);
  EXPECT_EQ(r.errors[0].to_string(), "test.toml:2:2: non-ASCII character in a key");

  // Columns count characters, as toml++ does: "é" takes one column, like "e".
  r = load("a = \"é\" ; ü = 1\n");
  ASSERT_EQ(r.errors.size(), 1u) << errors_of(r);
  EXPECT_EQ(r.errors[0].column, 11u) << errors_of(r);

  r = load("[server]\nstate_file = café\n");
  ASSERT_EQ(r.errors.size(), 1u) << errors_of(r);
  EXPECT_EQ(r.errors[0].to_string(),
            "test.toml:2:17: non-ASCII character outside a string (text values need quotes)");
}

TEST(Config, NonAsciiAfterMultiLineStringsIsFoundOnItsLine) {
  const std::string text = R"([server]
state_file = """a "quoted" path, it's 'odd'
with ""two"" quotes and \""" escaped ü"""
access_log = '''it's "x" ''ö'''''
)";
  const LoadResult r = load(text + "wörkers = 1\n");
  ASSERT_EQ(r.errors.size(), 1u) << errors_of(r);
  EXPECT_EQ(r.errors[0].to_string(), "test.toml:5:2: non-ASCII character in a key");
  // toml++ reads the strings the same way: without the bad key the file parses.
  const LoadResult strings_only = load(text + kMinimal);
  ASSERT_TRUE(strings_only.ok()) << errors_of(strings_only);
  EXPECT_EQ(strings_only.config->server.access_log, "it's \"x\" ''ö''");
}

TEST(Config, NonAsciiInStringsAndCommentsPassesThrough) {
  const LoadResult r = load("\xEF\xBB\xBF# Konfiguration für München ✓\n" + std::string(R"(
[server]
state_file = "/var/lib/veer/zustände.json"  # ä
access_log = '/var/log/vëer.log'
log = """/var/log/prozeß.log"""
"schlüssel" = 1
)") + kMinimal);
  EXPECT_EQ(errors_of(r), "test.toml:7:1: server.schlüssel: unknown key\n");
  const LoadResult valid =
      load("# für\n[server]\nstate_file = \"zustände.json\" # ä\n" + std::string(kMinimal));
  ASSERT_TRUE(valid.ok()) << errors_of(valid);
  EXPECT_EQ(valid.config->server.state_file, "zustände.json");
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
  EXPECT_TRUE(has_error(r, 7, "no pool or split named \"nope\"")) << errors_of(r);
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

// The minimal file with more keys for its pool (and possibly more tables after).
std::string pool_with(const std::string& keys) {
  return kMinimal + keys;
}

TEST(Config, HealthOutlierAndRetriesLoad) {
  const LoadResult r = load(pool_with(R"(
health = { type = "http", path = "/health", method = "HEAD", expect = "200-399", body = "ok", headers = { "X-Probe" = "veer" }, host = "rpc.internal", interval = "2s", timeout = "500ms", jitter = "100ms", rise = 3, fall = 4 }
outlier = { consecutive_failures = 7, base_ejection = "10s", max_ejection = "1m", max_ejected_percent = 30 }
retries = { attempts = 3, budget_percent = 10, budget_min = 4 }
slow_start = "30s"
panic_threshold = 25
)"));
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const PoolConfig& pool = r.config->pools[0];
  ASSERT_TRUE(pool.health.has_value());
  EXPECT_EQ(pool.health->type, HealthConfig::Type::http);
  EXPECT_EQ(pool.health->path, "/health");
  EXPECT_EQ(pool.health->http_method, "HEAD");
  EXPECT_EQ(pool.health->expect_min, 200);
  EXPECT_EQ(pool.health->expect_max, 399);
  EXPECT_EQ(pool.health->body, "ok");
  ASSERT_EQ(pool.health->headers.size(), 1u);
  EXPECT_EQ(pool.health->headers[0].first, "X-Probe");
  EXPECT_EQ(pool.health->host, "rpc.internal");
  EXPECT_EQ(pool.health->interval, 2s);
  EXPECT_EQ(pool.health->timeout, 500ms);
  EXPECT_EQ(pool.health->jitter, 100ms);
  EXPECT_EQ(pool.health->rise, 3u);
  EXPECT_EQ(pool.health->fall, 4u);
  ASSERT_TRUE(pool.outlier.has_value());
  EXPECT_EQ(pool.outlier->consecutive_failures, 7u);
  EXPECT_EQ(pool.outlier->base_ejection, 10s);
  EXPECT_EQ(pool.outlier->max_ejection, 60s);
  EXPECT_EQ(pool.outlier->max_ejected_percent, 30u);
  EXPECT_EQ(pool.retries.attempts, 3u);
  EXPECT_EQ(pool.retries.budget_percent, 10u);
  EXPECT_EQ(pool.retries.budget_min, 4u);
  EXPECT_EQ(pool.slow_start, 30s);
  EXPECT_EQ(pool.panic_threshold, 25u);
}

TEST(Config, ResilienceDefaults) {
  LoadResult r = load(pool_with(""));
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const PoolConfig& plain = r.config->pools[0];
  EXPECT_FALSE(plain.health.has_value()) << "no table, no active checks";
  EXPECT_FALSE(plain.outlier.has_value());
  EXPECT_EQ(plain.retries.attempts, 2u);
  EXPECT_EQ(plain.retries.budget_percent, 20u);
  EXPECT_EQ(plain.slow_start, 0s);
  EXPECT_EQ(plain.panic_threshold, 50u);

  r = load(pool_with("health = { type = \"jsonrpc\", max_lag_blocks = 8 }\noutlier = {}\n"));
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const PoolConfig& rpc = r.config->pools[0];
  EXPECT_EQ(rpc.health->type, HealthConfig::Type::jsonrpc);
  EXPECT_EQ(rpc.health->rpc_method, "eth_blockNumber");
  EXPECT_EQ(rpc.health->path, "/");
  EXPECT_EQ(rpc.health->max_lag_blocks, 8u);
  EXPECT_EQ(rpc.health->interval, 5s);
  EXPECT_EQ(rpc.health->timeout, 2s);
  EXPECT_EQ(rpc.health->rise, 2u);
  EXPECT_EQ(rpc.health->fall, 3u);
  EXPECT_EQ(rpc.outlier->consecutive_failures, 5u);
  EXPECT_EQ(rpc.outlier->base_ejection, 30s);
  EXPECT_EQ(rpc.outlier->max_ejected_percent, 50u);
}

TEST(Config, BadHealthKeysAreRefusedWithTheirPosition) {
  const LoadResult r = load(pool_with(R"(health = { type = "smtp" }
outlier = { max_ejected_percent = 150, base_ejection = "1m", max_ejection = "10s" }
retries = { attempts = 50, budget = 3 }
[pools.tcp]
backends = ["127.0.0.1:19002"]
health = { type = "tcp", path = "/health", expect = "abc" }
[pools.web]
backends = ["127.0.0.1:19003"]
health = { expect = "500-200", path = "health", max_lag_blocks = 3, rise = 0 }
[pools.rpc2]
backends = ["127.0.0.1:19004"]
health = { type = "jsonrpc", expect = 200, headers = { "Bad Name" = "x" } }
slow_start = "soon"
panic_threshold = 101
)"));
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(has_error(r, 9, "\"smtp\" is not http, tcp or jsonrpc")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 10, "max_ejected_percent")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 10, "max_ejection must be at least base_ejection")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 11, "attempts")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 11, "budget")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 14, "path: applies to http and jsonrpc checks only")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 14, "expect: applies to http checks only")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 17, "expected a status (200) or a range")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 17, "path: must start with \"/\"")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 17, "max_lag_blocks: applies to jsonrpc checks only")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 17, "rise")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 20, "expect: applies to http checks only")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 20, "headers.Bad Name")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 21, "slow_start")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 22, "panic_threshold")) << errors_of(r);
}

TEST(Config, HealthTablesMustBeTables) {
  const LoadResult r = load(pool_with("health = \"yes\"\noutlier = 5\nretries = []\n"));
  EXPECT_TRUE(has_error(r, 9, "health: expected a table such as { type")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 10, "outlier: expected a table")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 11, "retries: expected a table")) << errors_of(r);
}

TEST(Config, MissingSectionsAreExplained) {
  LoadResult r = load("");
  EXPECT_TRUE(has_error(r, 1, "at least one [listeners.NAME]")) << errors_of(r);
  r = load("[listeners.a]\n[[listeners.a.routes]]\n");
  EXPECT_TRUE(has_error(r, 1, "missing key \"address\"")) << errors_of(r);
  EXPECT_TRUE(has_error(r, 2, "missing key \"target\"")) << errors_of(r);
}

TEST(Config, AdminNeedsTokensOffLoopbackAndRefusesShortOnes) {
  const LoadResult open = load(std::string(kMinimal) + "[admin]\naddress = \"0.0.0.0:9901\"\n");
  EXPECT_TRUE(has_error(open, 9, "is not loopback, so tokens")) << errors_of(open);
  const LoadResult short_token =
      load(std::string(kMinimal) + "[admin]\ntokens = [ { name = \"ci\", token = \"abc\" } ]\n");
  EXPECT_TRUE(has_error(short_token, 10, "at least 16 characters")) << errors_of(short_token);
  const LoadResult good =
      load(std::string(kMinimal) +
           "[admin]\naddress = \"0.0.0.0:9901\"\n"
           "tokens = [ { name = \"scaler\", token = \"0123456789abcdef\" } ]\n");
  ASSERT_TRUE(good.ok()) << errors_of(good);
  EXPECT_TRUE(good.config->admin.enabled);
  ASSERT_EQ(good.config->admin.tokens.size(), 1u);
  EXPECT_EQ(good.config->admin.tokens[0].name, "scaler");
  EXPECT_FALSE(load(kMinimal).config->admin.enabled) << "no [admin] table: no admin listener";
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

TEST(Config, NonAsciiAfterALineEndingBackslashIsExplained) {
  const LoadResult r = load("[server]\nstate_file = \"\"\"/var/lib/\\\n  état.json\"\"\"\n");
  ASSERT_EQ(r.errors.size(), 1u) << errors_of(r);
  EXPECT_EQ(r.errors[0].to_string(),
            "test.toml:3:3: non-ASCII character first after a line-ending backslash: the TOML "
            "parser cannot read it there; write it as \\uXXXX or move it");
}

TEST(Config, ServerLogIsStderrOrAFile) {
  LoadResult r = load("[server]\nlog = \"/var/log/veer/veer.log\"\n" + std::string(kMinimal));
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_EQ(r.config->server.log, "/var/log/veer/veer.log");
  r = load("[server]\nlog = \"\"\n" + std::string(kMinimal));
  EXPECT_TRUE(has_error(r, 2, "server.log: use \"stderr\" or a file path")) << errors_of(r);
  r = load("[server]\nlog = 2\n" + std::string(kMinimal));
  EXPECT_TRUE(has_error(r, 2, "server.log: expected a string")) << errors_of(r);
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
