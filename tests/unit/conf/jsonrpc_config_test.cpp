// JSON-RPC mode in the file (conf/load_jsonrpc.cpp): a route's jsonrpc table in its three
// spellings, method_routes, a policy's method_costs, and the errors a file gets, each at
// the key's position.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "conf/load.hpp"

namespace veer::conf {
namespace {

std::string errors_of(const LoadResult& r) {
  std::string all;
  for (const auto& e : r.errors)
    all += e.to_string() + "\n";
  return all;
}

// One listener with one route (its extra keys `route`), pools rpc, archive and txpool,
// a split, then `tail`.
std::string file(const std::string& route, const std::string& tail = "") {
  return "[listeners.public]\naddress = \"127.0.0.1:8545\"\n[[listeners.public.routes]]\n"
         "target = \"rpc\"\n" +
         route +
         "\n[pools.rpc]\nbackends = [\"127.0.0.1:19001\"]\n"
         "[pools.archive]\nbackends = [\"127.0.0.1:19002\"]\n"
         "[pools.txpool]\nbackends = [\"127.0.0.1:19003\"]\n"
         "[splits.canary]\ntargets = { rpc = 90, archive = 10 }\n" +
         tail;
}

const RouteConfig& route_of(const LoadResult& r) {
  return r.config->listeners.at(0).routes.at(0);
}

TEST(JsonRpcConfig, TrueGivesTheDefaults) {
  const auto r = load_config_string(file("jsonrpc = true"), "t.toml");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  ASSERT_TRUE(route_of(r).jsonrpc);
  const JsonRpcRouteConfig& j = *route_of(r).jsonrpc;
  EXPECT_EQ(j.max_batch, 100u);
  EXPECT_TRUE(j.allow.empty());
  EXPECT_EQ(j.deny, JsonRpcRouteConfig{}.deny);
  EXPECT_TRUE(j.local_accounts);
  EXPECT_FALSE(j.pin_latest);
  EXPECT_EQ(j.recent_blocks, 128u);
  EXPECT_EQ(j.archive, "");
  EXPECT_EQ(j.max_logs_block_range, 10000u);
  EXPECT_EQ(j.max_subscriptions, 100u);
  EXPECT_EQ(j.max_queue_bytes, 1024u * 1024u);
  EXPECT_EQ(j.pos.line, 5u);

  const auto off = load_config_string(file("jsonrpc = false"), "t.toml");
  ASSERT_TRUE(off.ok()) << errors_of(off);
  EXPECT_FALSE(route_of(off).jsonrpc);
  const auto absent = load_config_string(file(""), "t.toml");
  ASSERT_TRUE(absent.ok()) << errors_of(absent);
  EXPECT_FALSE(route_of(absent).jsonrpc);
}

TEST(JsonRpcConfig, EveryKeyInlineAndAsASubTable) {
  const std::string keys =
      "max_batch = 50, allow = [\"eth_*\", \"net_version\"], deny = [], local_accounts = false, "
      "pin_latest = true, recent_blocks = 64, archive = \"archive\", max_logs_block_range = 2000, "
      "max_subscriptions = 10, max_queue_bytes = 65536";
  const std::string table =
      "max_batch = 50\nallow = [\"eth_*\", \"net_version\"]\ndeny = []\nlocal_accounts = false\n"
      "pin_latest = true\nrecent_blocks = 64\narchive = \"archive\"\nmax_logs_block_range = 2000\n"
      "max_subscriptions = 10\nmax_queue_bytes = 65536";
  for (const std::string& text :
       {file("jsonrpc = { " + keys + " }"), file("[listeners.public.routes.jsonrpc]\n" + table)}) {
    const auto r = load_config_string(text, "t.toml");
    ASSERT_TRUE(r.ok()) << errors_of(r) << text;
    const JsonRpcRouteConfig& j = *route_of(r).jsonrpc;
    EXPECT_EQ(j.max_batch, 50u);
    EXPECT_EQ(j.allow, (std::vector<std::string>{"eth_*", "net_version"}));
    EXPECT_TRUE(j.deny.empty()) << "a list given replaces the default";
    EXPECT_FALSE(j.local_accounts);
    EXPECT_TRUE(j.pin_latest);
    EXPECT_EQ(j.recent_blocks, 64u);
    EXPECT_EQ(j.archive, "archive");
    EXPECT_EQ(j.max_logs_block_range, 2000u);
    EXPECT_EQ(j.max_subscriptions, 10u);
    EXPECT_EQ(j.max_queue_bytes, 65536u);
    for (const auto& w : r.warnings)
      EXPECT_EQ(w.to_string().find("pools.archive"), std::string::npos) << "archive is used";
  }
}

TEST(JsonRpcConfig, MethodRoutes) {
  const auto r = load_config_string(
      file("jsonrpc = true\nmethod_routes = [ { match = [\"eth_sendRawTransaction\"], target = "
           "\"txpool\" },\n  { match = [\"debug_*\", \"trace_*\"], target = \"canary\" } ]"),
      "t.toml");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const RouteConfig& route = route_of(r);
  ASSERT_EQ(route.method_routes.size(), 2u);
  EXPECT_EQ(route.method_routes[0].match, std::vector<std::string>{"eth_sendRawTransaction"});
  EXPECT_EQ(route.method_routes[0].target, "txpool");
  EXPECT_EQ(route.method_routes[1].match, (std::vector<std::string>{"debug_*", "trace_*"}));
  EXPECT_EQ(route.method_routes[1].target, "canary") << "a split may be a target";
  EXPECT_EQ(route.method_routes[1].pos.line, 7u);
}

TEST(JsonRpcConfig, MethodCosts) {
  const std::string listener_limits = "limits = [\"per_client\"]\n";
  const auto defaults =
      load_config_string(file(listener_limits, "[limits.per_client]\nrate = \"10/s\"\n"), "t.toml");
  ASSERT_TRUE(defaults.ok()) << errors_of(defaults);
  EXPECT_EQ(defaults.config->limits.policies.at(0).method_costs,
            RateLimitPolicyConfig{}.method_costs);
  const auto given = load_config_string(
      file(listener_limits,
           "[limits.per_client]\nrate = \"10/s\"\n"
           "method_costs = { \"debug_*\" = 20, \"eth_getLogs\" = 10, \"debug_traceCall\" = 50, "
           "\"*\" = 2, \"eth_chainId\" = 0 }\n"),
      "t.toml");
  ASSERT_TRUE(given.ok()) << errors_of(given);
  using Costs = std::vector<std::pair<std::string, std::uint64_t>>;
  const Costs expected{
      {"debug_traceCall", 50}, {"eth_chainId", 0}, {"eth_getLogs", 10}, {"debug_*", 20}, {"*", 2}};
  EXPECT_EQ(given.config->limits.policies.at(0).method_costs, expected)
      << "replaces the defaults; exact names first, then the most specific globs";
}

TEST(JsonRpcConfig, RefusedWithPositions) {
  const std::pair<std::string, std::string> cases[] = {
      {file("method_routes = [ { match = [\"eth_*\"], target = \"rpc\" } ]"),
       "t.toml:5:17: listeners.public.routes[0].method_routes: method_routes needs jsonrpc = true"},
      {file("jsonrpc = { max_batch = 0 }"),
       "t.toml:5:25: listeners.public.routes[0].jsonrpc.max_batch: 0 is out of range"},
      {file("jsonrpc = { max_batch = 10001 }"),
       "t.toml:5:25: listeners.public.routes[0].jsonrpc.max_batch: 10001 is out of range"},
      {file("jsonrpc = { deny = [\"eth sign\"] }"),
       "t.toml:5:21: listeners.public.routes[0].jsonrpc.deny[0]: a method glob uses letters"},
      {file("jsonrpc = { allow = [\"\"] }"),
       "t.toml:5:22: listeners.public.routes[0].jsonrpc.allow[0]: a method glob uses"},
      {file("jsonrpc = { allow = \"eth_*\" }"),
       "t.toml:5:21: listeners.public.routes[0].jsonrpc.allow: expected an array of method globs"},
      {file("jsonrpc = { max_bach = 5 }"),
       "t.toml:5:13: listeners.public.routes[0].jsonrpc.max_bach: unknown key"},
      {file("jsonrpc = \"yes\""),
       "t.toml:5:11: listeners.public.routes[0].jsonrpc: expected a table such as"},
      {file("jsonrpc = { archive = \"nowhere\" }"),
       "t.toml:5:23: listeners.public.routes[0].jsonrpc.archive: no pool or split named "
       "\"nowhere\""},
      {file("jsonrpc = true\nmethod_routes = [ { match = [\"eth_*\"], target = \"nowhere\" } ]"),
       "t.toml:6:49: listeners.public.routes[0].method_routes[0].target: no pool or split named "
       "\"nowhere\""},
      {file("jsonrpc = true\nmethod_routes = [ { match = [], target = \"rpc\" } ]"),
       "t.toml:6:29: listeners.public.routes[0].method_routes[0].match: expected an array of "
       "method globs"},
      {file("jsonrpc = true\nmethod_routes = [ { target = \"rpc\" } ]"),
       "t.toml:6:19: listeners.public.routes[0].method_routes[0]: missing key \"match\""},
      {file("jsonrpc = true\nmethod_routes = [ { match = [\"a\"], target = \"rpc\", x = 1 } ]"),
       "listeners.public.routes[0].method_routes[0].x: unknown key"},
      {file("jsonrpc = true\nmethod_routes = { match = [\"a\"] }"),
       "t.toml:6:17: listeners.public.routes[0].method_routes: expected an array of tables"},
      {file("limits = [\"p\"]", "[limits.p]\nrate = \"1/s\"\nmethod_costs = { \"eth-x\" = 1 }\n"),
       "limits.p.method_costs.\"eth-x\": a method glob uses"},
      {file("limits = [\"p\"]", "[limits.p]\nrate = \"1/s\"\nmethod_costs = { \"eth_x\" = -1 }\n"),
       "limits.p.method_costs.\"eth_x\": -1 is out of range"},
      {file("limits = [\"p\"]", "[limits.p]\nrate = \"1/s\"\nmethod_costs = [1]\n"),
       "limits.p.method_costs: expected a table such as"},
  };
  for (const auto& [text, fragment] : cases) {
    const auto r = load_config_string(text, "t.toml");
    EXPECT_FALSE(r.ok()) << text;
    EXPECT_NE(errors_of(r).find(fragment), std::string::npos)
        << text << "\nexpected: " << fragment << "\ngot: " << errors_of(r);
  }
}

}  // namespace
}  // namespace veer::conf
