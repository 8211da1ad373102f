// The JSON-RPC head-tracking keys of `health` (chain_id, stall_timeout) and the failure
// ratio keys of `outlier` (failure_percent, failure_min_requests, failure_window).
#include <gtest/gtest.h>

#include <string>

#include "conf/load.hpp"

namespace veer::conf {
namespace {

using namespace std::chrono_literals;

const char* kPool = R"(
[listeners.public]
address = "127.0.0.1:8545"
  [[listeners.public.routes]]
  target = "rpc"

[pools.rpc]
backends = ["127.0.0.1:19001"]
)";

LoadResult load_pool(const std::string& keys) {
  return load_config_string(kPool + keys, "test.toml");
}

std::string errors_of(const LoadResult& r) {
  std::string all;
  for (const auto& e : r.errors)
    all += e.to_string() + "\n";
  return all;
}

TEST(JsonRpcHealthConfig, DefaultsWhenAbsent) {
  const LoadResult r = load_pool("health = { type = \"jsonrpc\" }\noutlier = {}\n");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const PoolConfig& pool = r.config->pools[0];
  EXPECT_FALSE(pool.health->chain_id.has_value()) << "none: the pool's majority";
  EXPECT_EQ(pool.health->stall_timeout, 60s);
  EXPECT_EQ(pool.outlier->failure_percent, 3u);
  EXPECT_EQ(pool.outlier->failure_min_requests, 100u);
  EXPECT_EQ(pool.outlier->failure_window, 30s);
}

TEST(JsonRpcHealthConfig, KeysLoad) {
  const LoadResult r = load_pool(
      "health = { type = \"jsonrpc\", chain_id = 137, stall_timeout = \"90s\" }\n"
      "outlier = { failure_percent = 5, failure_min_requests = 20, failure_window = \"10s\" }\n");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const PoolConfig& pool = r.config->pools[0];
  ASSERT_TRUE(pool.health->chain_id.has_value());
  EXPECT_EQ(*pool.health->chain_id, 137u);
  EXPECT_EQ(pool.health->stall_timeout, 90s);
  EXPECT_EQ(pool.outlier->failure_percent, 5u);
  EXPECT_EQ(pool.outlier->failure_min_requests, 20u);
  EXPECT_EQ(pool.outlier->failure_window, 10s);
}

TEST(JsonRpcHealthConfig, ZeroTurnsStallAndRatioOff) {
  const LoadResult r = load_pool(
      "health = { type = \"jsonrpc\", stall_timeout = \"0s\" }\noutlier = { failure_percent = 0 "
      "}\n");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_EQ(r.config->pools[0].health->stall_timeout, 0s);
  EXPECT_EQ(r.config->pools[0].outlier->failure_percent, 0u);
}

TEST(JsonRpcHealthConfig, HeadKeysAreRefusedOnOtherCheckTypes) {
  for (const char* type : {"http", "tcp"}) {
    const LoadResult r = load_pool(std::string("health = { type = \"") + type +
                                   "\", chain_id = 1, stall_timeout = \"30s\" }\n");
    EXPECT_FALSE(r.ok()) << type;
    const std::string errors = errors_of(r);
    EXPECT_NE(errors.find("health.chain_id: applies to jsonrpc checks only"), std::string::npos)
        << errors;
    EXPECT_NE(errors.find("health.stall_timeout: applies to jsonrpc checks only"),
              std::string::npos)
        << errors;
  }
}

TEST(JsonRpcHealthConfig, OutOfRangeValuesAreRefusedByName) {
  const LoadResult r = load_pool(
      "health = { type = \"jsonrpc\", chain_id = 0, stall_timeout = \"soon\" }\n"
      "outlier = { failure_percent = 101, failure_min_requests = 0, failure_window = \"0s\" }\n");
  EXPECT_FALSE(r.ok());
  const std::string errors = errors_of(r);
  for (const char* key : {"health.chain_id", "health.stall_timeout", "outlier.failure_percent",
                          "outlier.failure_min_requests", "outlier.failure_window"}) {
    EXPECT_NE(errors.find(std::string("pools.rpc.") + key), std::string::npos) << key << "\n"
                                                                               << errors;
  }
  EXPECT_EQ(r.errors.size(), 5u) << errors;
}

TEST(JsonRpcHealthConfig, ChainAndStallChangesRestartTheProbe) {
  const HealthConfig base;
  HealthConfig other = base;
  other.chain_id = 1;
  EXPECT_FALSE(other == base);
  other = base;
  other.stall_timeout = 5s;
  EXPECT_FALSE(other == base);
}

}  // namespace
}  // namespace veer::conf
