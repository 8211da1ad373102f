// Real JSON-RPC clients through veer: ethers 6 (from npm, tests/js/) over HTTP in
// batches against ganache, and over WebSocket with a newHeads and a logs subscription
// across the death of the node they are on (fake nodes, tests/support/fake_rpc_node.hpp).
// Skips with the reason when node or tests/js/node_modules are absent (scripts/setup
// installs them).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/admin_client.hpp"
#include "support/backend_process.hpp"
#include "support/fake_rpc_node.hpp"
#include "support/http_client.hpp"
#include "support/poll.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

const std::string kJs = std::string(VEER_SOURCE_DIR) + "/tests/js";

std::string node_binary() {
  for (const char* path : {"/usr/bin/node", "/usr/bin/nodejs", "/usr/local/bin/node"}) {
    if (std::filesystem::exists(path)) return path;
  }
  return "";
}

// Why the test cannot run here, or "" when it can.
std::string missing_tools() {
  if (node_binary().empty()) return "node is not installed (scripts/setup installs nodejs)";
  for (const char* package : {"ethers", "ganache"}) {
    if (!std::filesystem::exists(kJs + "/node_modules/" + package + "/package.json")) {
      return std::string("tests/js/node_modules/") + package +
             " is absent (scripts/setup runs npm ci in tests/js)";
    }
  }
  return "";
}

std::vector<json::object> json_lines(const std::string& text) {
  std::vector<json::object> out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    boost::system::error_code ec;
    json::value v = json::parse(line, ec);
    if (!ec && v.is_object()) out.push_back(std::move(v.as_object()));
  }
  return out;
}

std::string rpc_config(const std::vector<std::string>& backends, const std::string& health) {
  std::string list;
  for (const std::string& b : backends)
    list += (list.empty() ? "\"" : ", \"") + b + "\"";
  return "[server]\nworkers = 2\naccess_log = \"off\"\n"
         "[admin]\naddress = \"127.0.0.1:0\"\n"
         "[listeners.public]\naddress = \"127.0.0.1:0\"\n"
         "  [[listeners.public.routes]]\n  target = \"rpc\"\n  jsonrpc = true\n"
         "[pools.rpc]\nstrategy = \"least_connections\"\nbackends = [" +
         list + "]\nhealth = " + health + "\n";
}

TEST(JsonRpcClient, EthersBatchesAgainstGanacheThroughVeer) {
  if (const std::string why = missing_tools(); !why.empty()) GTEST_SKIP() << why;
  const std::uint16_t ganache_port = free_port();
  VeerProcess ganache(
      "", VeerOptions{.binary = node_binary(),
                      .command = {kJs + "/node_modules/ganache/dist/node/cli.js", "--server.host",
                                  "127.0.0.1", "--server.port", std::to_string(ganache_port),
                                  "--wallet.deterministic", "--chain.chainId", "1337"}});
  ASSERT_TRUE(ganache.wait_for_log("RPC Listening on", 30s)) << ganache.log_text();

  // ganache mines only on demand: no stall check.
  Admin admin =
      start_admin_toml(rpc_config({"127.0.0.1:" + std::to_string(ganache_port)},
                                  "{ type = \"jsonrpc\", interval = \"200ms\", timeout = \"2s\", "
                                  "stall_timeout = \"0s\" }"));
  ASSERT_NE(admin.port, 0);
  VeerProcess& veer = *admin.veer;
  const std::string url = "http://127.0.0.1:" + std::to_string(veer.port()) + "/";

  VeerProcess client("",
                     VeerOptions{.binary = node_binary(), .command = {kJs + "/batch.mjs", url}});
  ASSERT_EQ(client.wait_exit(90s), 0) << client.log_text();
  const std::vector<json::object> lines = json_lines(client.log_text());
  ASSERT_EQ(lines.size(), 1u) << client.log_text();
  const json::object& out = lines[0];
  ASSERT_FALSE(out.contains("failure")) << out.at("failure").as_string();
  EXPECT_EQ(out.at("head").to_number<std::int64_t>(), 0);
  EXPECT_EQ(out.at("chain").as_string(), "0x539");
  EXPECT_EQ(out.at("balance").as_string(), "1000000000000000000000");
  EXPECT_EQ(out.at("nonce").to_number<std::int64_t>(), 0);
  EXPECT_TRUE(out.at("accounts").as_array().empty()) << "eth_accounts is answered by veer with []";
  EXPECT_EQ(out.at("tx").at("status").to_number<std::int64_t>(), 1);
  EXPECT_GE(out.at("after").to_number<std::int64_t>(), 1);
  EXPECT_EQ(out.at("received").as_string(), "1001500000000000000000");
  EXPECT_EQ(out.at("denied").at("code").to_number<std::int64_t>(), -32601) << json::serialize(out);

  // ethers sent batches, and veer counted them.
  const std::optional<Response> metrics = admin.call("GET", "/metrics", "", {});
  ASSERT_TRUE(metrics && metrics->status == 200);
  EXPECT_NE(metrics->body.find("veer_jsonrpc_batch_size_count"), std::string::npos);
}

TEST(JsonRpcClient, EthersSubscriptionsSurviveTheDeathOfTheirNode) {
  if (const std::string why = missing_tools(); !why.empty()) GTEST_SKIP() << why;
  FakeRpcNode a("a", {.head = 100, .block_ms = 100, .index = 1});
  FakeRpcNode b("b", {.head = 100, .block_ms = 100, .index = 2});
  VeerProcess veer(rpc_config({a.address(), b.address()},
                              "{ type = \"jsonrpc\", interval = \"100ms\", timeout = \"1s\", "
                              "fall = 1, rise = 2 }"));
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  const std::string url = "ws://127.0.0.1:" + std::to_string(veer.port()) + "/";

  VeerProcess client("", VeerOptions{.binary = node_binary(),
                                     .command = {kJs + "/subscribe.mjs", url, "60", "30"}});
  const auto blocks_seen = [&] {
    std::size_t n = 0;
    for (const json::object& o : json_lines(client.log_text()))
      n += o.at("event") == "block";
    return n;
  };
  ASSERT_TRUE(poll_until([&] { return blocks_seen() >= 10; }, 20s)) << client.log_text();
  // Kill the node that holds the subscriptions.
  FakeRpcNode& holder = a.calls("eth_subscribe") > 0 ? a : b;
  ASSERT_GT(holder.calls("eth_subscribe"), 0u);
  holder.kill();

  ASSERT_EQ(client.wait_exit(60s), 0) << client.log_text();
  std::vector<std::int64_t> numbers;
  std::map<std::int64_t, int> logs;  // block -> logs delivered (not removed)
  for (const json::object& o : json_lines(client.log_text())) {
    if (o.at("event") == "block") numbers.push_back(o.at("number").to_number<std::int64_t>());
    if (o.at("event") == "log" && !o.at("removed").as_bool())
      ++logs[o.at("block").to_number<std::int64_t>()];
    EXPECT_NE(o.at("event"), "close") << "the client was disconnected: " << json::serialize(o);
  }
  ASSERT_GE(numbers.size(), 60u) << client.log_text();
  for (std::size_t i = 1; i < numbers.size(); ++i) {
    ASSERT_EQ(numbers[i], numbers[i - 1] + 1) << "block " << i << " of " << client.log_text();
  }
  // Every block from the first log to the one before the last block had its one log,
  // once (the last block's log may still have been on its way at exit).
  ASSERT_FALSE(logs.empty());
  for (std::int64_t n = logs.begin()->first; n < numbers.back(); ++n) {
    EXPECT_EQ(logs[n], 1) << "block " << n;
  }
}

}  // namespace
}  // namespace veer::test
