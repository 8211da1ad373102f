// The failure ratio's default (conf::resolve_outlier_defaults): failure_percent = 3 on
// the pools that serve JSON-RPC (a jsonrpc health check, or reached by a jsonrpc route:
// its target, a method route or archive, directly or through a split), 0 elsewhere, so
// an existing plain HTTP [outlier] table keeps its behaviour; a value given always wins.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "conf/load.hpp"

namespace veer::conf {
namespace {

// One listener whose one route has `route` as its extra keys and targets `target`; pools
// a, b, c and d, each with an outlier table (`outlier` for pool a, {} for the others);
// split ab over a and b.
LoadResult load(const std::string& target, const std::string& route,
                const std::string& pool_a = "outlier = {}\n") {
  const std::string text =
      "[listeners.public]\naddress = \"127.0.0.1:8545\"\n"
      "  [[listeners.public.routes]]\n  target = \"" +
      target + "\"\n" + route + "\n[pools.a]\nbackends = [\"127.0.0.1:19001\"]\n" + pool_a +
      "[pools.b]\nbackends = [\"127.0.0.1:19002\"]\noutlier = {}\n"
      "[pools.c]\nbackends = [\"127.0.0.1:19003\"]\noutlier = {}\n"
      "[pools.d]\nbackends = [\"127.0.0.1:19004\"]\noutlier = {}\n"
      "[splits.ab]\ntargets = { a = 1, b = 1 }\n";
  return load_config_string(text, "t.toml");
}

std::string errors_of(const LoadResult& r) {
  std::string all;
  for (const auto& e : r.errors)
    all += e.to_string() + "\n";
  return all;
}

// Each pool's resolved failure_percent.
std::map<std::string, std::uint32_t> percents(const LoadResult& r) {
  std::map<std::string, std::uint32_t> out;
  for (const PoolConfig& pool : r.config->pools)
    out[pool.name] = pool.outlier->failure_percent;
  return out;
}

using Percents = std::map<std::string, std::uint32_t>;

TEST(OutlierDefault, PlainHttpPoolsHaveTheRatioOff) {
  const LoadResult r = load("a", "");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_EQ(percents(r), (Percents{{"a", 0}, {"b", 0}, {"c", 0}, {"d", 0}}));
  EXPECT_FALSE(r.config->pools[0].outlier->failure_percent_set);
  EXPECT_EQ(r.config->pools[0].outlier->consecutive_failures, 5u) << "the rest unchanged";
}

TEST(OutlierDefault, AJsonRpcHealthCheckTurnsItOn) {
  const LoadResult r = load("a", "", "health = { type = \"jsonrpc\" }\noutlier = {}\n");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_EQ(percents(r), (Percents{{"a", 3}, {"b", 0}, {"c", 0}, {"d", 0}}));
  const LoadResult http = load("a", "", "health = { type = \"http\" }\noutlier = {}\n");
  ASSERT_TRUE(http.ok()) << errors_of(http);
  EXPECT_EQ(percents(http).at("a"), 0u) << "an HTTP check is not JSON-RPC";
}

TEST(OutlierDefault, AJsonRpcRouteTurnsItOnForItsTarget) {
  const LoadResult r = load("a", "  jsonrpc = true\n");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_EQ(percents(r), (Percents{{"a", 3}, {"b", 0}, {"c", 0}, {"d", 0}}));
}

TEST(OutlierDefault, ThroughASplitEveryPoolOfIt) {
  const LoadResult r = load("ab", "  jsonrpc = true\n");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_EQ(percents(r), (Percents{{"a", 3}, {"b", 3}, {"c", 0}, {"d", 0}}));
  const LoadResult plain = load("ab", "");
  ASSERT_TRUE(plain.ok()) << errors_of(plain);
  EXPECT_EQ(percents(plain), (Percents{{"a", 0}, {"b", 0}, {"c", 0}, {"d", 0}}));
}

TEST(OutlierDefault, MethodRouteTargetsPoolsAndSplits) {
  const LoadResult r =
      load("c",
           "  jsonrpc = true\n  method_routes = [ { match = [\"eth_sendRawTransaction\"], "
           "target = \"d\" }, { match = [\"debug_*\"], target = \"ab\" } ]\n");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_EQ(percents(r), (Percents{{"a", 3}, {"b", 3}, {"c", 3}, {"d", 3}}));
}

TEST(OutlierDefault, ArchivePoolAndArchiveSplit) {
  const LoadResult pool = load("c", "  jsonrpc = { archive = \"d\" }\n");
  ASSERT_TRUE(pool.ok()) << errors_of(pool);
  EXPECT_EQ(percents(pool), (Percents{{"a", 0}, {"b", 0}, {"c", 3}, {"d", 3}}));
  const LoadResult split = load("c", "  jsonrpc = { archive = \"ab\" }\n");
  ASSERT_TRUE(split.ok()) << errors_of(split);
  EXPECT_EQ(percents(split), (Percents{{"a", 3}, {"b", 3}, {"c", 3}, {"d", 0}}));
}

TEST(OutlierDefault, AGivenValueAlwaysWins) {
  const LoadResult plain = load("a", "", "outlier = { failure_percent = 7 }\n");
  ASSERT_TRUE(plain.ok()) << errors_of(plain);
  EXPECT_EQ(percents(plain).at("a"), 7u) << "on a plain HTTP pool";
  EXPECT_TRUE(plain.config->pools[0].outlier->failure_percent_set);
  const LoadResult off =
      load("a", "  jsonrpc = true\n",
           "health = { type = \"jsonrpc\" }\noutlier = { failure_percent = 0 }\n");
  ASSERT_TRUE(off.ok()) << errors_of(off);
  EXPECT_EQ(percents(off).at("a"), 0u) << "turned off on a JSON-RPC pool";
  const LoadResult three = load("a", "  jsonrpc = true\n", "outlier = { failure_percent = 3 }\n");
  ASSERT_TRUE(three.ok()) << errors_of(three);
  EXPECT_EQ(percents(three).at("a"), 3u);
}

TEST(OutlierDefault, NoOutlierTableStaysWithout) {
  const LoadResult r = load("a", "  jsonrpc = true\n", "");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_FALSE(r.config->pools[0].outlier.has_value()) << "no table: no passive ejection";
}

}  // namespace
}  // namespace veer::conf
