// WebSocket subscriptions on a JSON-RPC route (proxy/jsonrpc_ws_relay.cpp) with fake
// nodes (tests/support/fake_rpc_node.hpp) making one block per 100 ms: a node killed
// mid-stream loses the client nothing (every block once, in order, same subscription
// id; every log once), a reorg sends removed logs, no backend left closes with 1012
// within 1 s, max_subscriptions answers -32005, a client that stops reading is closed
// with 1013 and counted.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <set>

#include "support/admin_client.hpp"
#include "support/config_builder.hpp"
#include "support/fake_rpc_node.hpp"
#include "support/poll.hpp"
#include "support/veer_process.hpp"
#include "support/ws_client.hpp"

namespace veer::test {
namespace {

namespace json = boost::json;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

std::uint64_t number(const json::value& v) {
  return std::stoull(std::string(v.as_string()).substr(2), nullptr, 16);
}

std::string subscribe(int id, const std::string& params) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) +
         R"(,"method":"eth_subscribe","params":)" + params + "}";
}

// The next message, or nullopt when the connection ended (`ec` says how) or the read
// timed out.
std::optional<json::object> next(WsClient& client, beast::error_code& ec) {
  beast::flat_buffer buffer;
  client.ws.read(buffer, ec);
  if (ec) return std::nullopt;
  return json::parse(beast::buffers_to_string(buffer.data())).as_object();
}

// What a subscribed client saw.
struct Stream {
  std::map<int, std::string> ids;  // call id -> subscription id
  std::vector<std::uint64_t> heads;
  std::set<std::string> head_subs;
  std::vector<std::pair<std::string, bool>> logs;  // (blockHash, removed)
  std::vector<std::uint64_t> log_blocks;           // of the logs not removed
  std::set<std::string> log_subs;

  void take(json::object& m) {
    if (m.contains("id") && m.contains("result") && m["result"].is_string()) {
      ids[static_cast<int>(m["id"].to_number<std::int64_t>())] = m["result"].as_string();
      return;
    }
    if (!m.contains("method")) return;
    json::object& params = m["params"].as_object();
    json::object& r = params["result"].as_object();
    const std::string sub(params["subscription"].as_string());
    if (r.contains("logIndex")) {
      const bool removed = r.contains("removed") && r["removed"].as_bool();
      logs.emplace_back(std::string(r["blockHash"].as_string()), removed);
      if (!removed) log_blocks.push_back(number(r["blockNumber"]));
      log_subs.insert(sub);
    } else {
      heads.push_back(number(r["number"]));
      head_subs.insert(sub);
    }
  }
};

class JsonRpcWs : public ::testing::Test {
 protected:
  std::unique_ptr<VeerProcess> start(const std::string& jsonrpc = "true") {
    TestConfig config{.backends = {a.address(), b.address()}, .workers = 2};
    config.route_keys = "  jsonrpc = " + jsonrpc;
    auto veer = std::make_unique<VeerProcess>(config.toml());
    EXPECT_TRUE(veer->wait_ready()) << veer->log_text();
    return veer;
  }
  // The node the relay subscribed on.
  FakeRpcNode& subscribed() { return a.calls("eth_subscribe") > 0 ? a : b; }
  FakeRpcNode& other() { return a.calls("eth_subscribe") > 0 ? b : a; }

  FakeRpcNode a{"a", {.head = 100, .block_ms = 100, .index = 1}};
  FakeRpcNode b{"b", {.head = 100, .block_ms = 100, .index = 2}};
};

// Reads until `done` or `timeout`; false on a timeout or an ended connection.
template <typename Done>
bool read_until(WsClient& client, Stream& stream, Done done, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() > deadline) return false;
    beast::error_code ec;
    std::optional<json::object> m = next(client, ec);
    if (!m) return false;
    stream.take(*m);
  }
  return true;
}

TEST_F(JsonRpcWs, KilledNodeLosesNoBlockAndNoLog) {
  auto veer = start();
  WsClient client(veer->port());
  client.ws.write(boost::asio::buffer(subscribe(1, R"(["newHeads"])")));
  client.ws.write(boost::asio::buffer(
      subscribe(2, R"(["logs",{"address":"0x0000000000000000000000000000000000000001"}])")));
  Stream s;
  ASSERT_TRUE(read_until(
      client, s, [&] { return s.heads.size() >= 10 && s.log_blocks.size() >= 10; }, 5s));
  ASSERT_EQ(s.ids.size(), 2u);
  FakeRpcNode& killed = subscribed();
  FakeRpcNode& survivor = other();
  killed.kill();
  const std::uint64_t at_kill = s.heads.back();
  ASSERT_TRUE(read_until(
      client, s, [&] { return !s.heads.empty() && s.heads.back() >= at_kill + 20; }, 10s))
      << veer->log_text();
  ASSERT_TRUE(read_until(
      client, s, [&] { return s.log_blocks.back() >= at_kill + 20; }, 5s));
  for (std::size_t i = 1; i < s.heads.size(); ++i)
    ASSERT_EQ(s.heads[i], s.heads[i - 1] + 1) << "heads go up by one, each once (at " << i << ")";
  for (std::size_t i = 1; i < s.log_blocks.size(); ++i)
    ASSERT_EQ(s.log_blocks[i], s.log_blocks[i - 1] + 1) << "each block's log once (at " << i << ")";
  EXPECT_EQ(s.head_subs, std::set<std::string>{s.ids[1]});
  EXPECT_EQ(s.log_subs, std::set<std::string>{s.ids[2]});
  EXPECT_GT(survivor.calls("eth_subscribe"), 0u) << "the subscriptions moved";
}

TEST_F(JsonRpcWs, ReorgSendsRemovedLogs) {
  auto veer = start();
  WsClient client(veer->port());
  client.ws.write(boost::asio::buffer(subscribe(1, R"(["logs",{}])")));
  Stream s;
  ASSERT_TRUE(read_until(
      client, s, [&] { return s.log_blocks.size() >= 5; }, 5s));
  ASSERT_TRUE(subscribed().control(R"({"reorg": 2})"));
  const auto removed = [&] {
    return std::count_if(s.logs.begin(), s.logs.end(), [](const auto& l) { return l.second; });
  };
  ASSERT_TRUE(read_until(
      client, s, [&] { return removed() >= 2; }, 5s));
  // Every removed log is one that was delivered before.
  for (std::size_t i = 0; i < s.logs.size(); ++i) {
    if (!s.logs[i].second) continue;
    const auto delivered = std::find(s.logs.begin(), s.logs.begin() + static_cast<long>(i),
                                     std::make_pair(s.logs[i].first, false));
    EXPECT_NE(delivered, s.logs.begin() + static_cast<long>(i)) << s.logs[i].first;
  }
}

// Browsers and ethers' `ws` offer permessage-deflate and nodes may accept it: veer
// keeps it out of the upgrade, or the relay could not read the frames and the
// subscription would die with its node.
TEST_F(JsonRpcWs, ClientOfferingCompressionStillSurvivesAKill) {
  auto veer = start();
  WsClient client(veer->port(), 5s, /*offer_deflate=*/true);
  client.ws.write(boost::asio::buffer(subscribe(1, R"(["newHeads"])")));
  Stream s;
  ASSERT_TRUE(read_until(
      client, s, [&] { return s.heads.size() >= 5; }, 5s));
  subscribed().kill();
  const std::uint64_t at_kill = s.heads.back();
  ASSERT_TRUE(read_until(
      client, s, [&] { return s.heads.back() >= at_kill + 10; }, 10s))
      << veer->log_text();
  for (std::size_t i = 1; i < s.heads.size(); ++i)
    ASSERT_EQ(s.heads[i], s.heads[i - 1] + 1) << "at " << i;
}

TEST_F(JsonRpcWs, NoBackendLeftCloses1012WithinOneSecond) {
  auto veer = start();
  WsClient client(veer->port());
  client.ws.write(boost::asio::buffer(subscribe(1, R"(["newHeads"])")));
  Stream s;
  ASSERT_TRUE(read_until(
      client, s, [&] { return s.heads.size() >= 2; }, 5s));
  other().kill();
  subscribed().kill();
  const auto killed = Clock::now();
  beast::error_code ec;
  while (next(client, ec)) {
  }
  EXPECT_LT(Clock::now() - killed, 1s);
  EXPECT_TRUE(ec);
  EXPECT_EQ(client.ws.reason().code, 1012) << ec.message();
}

TEST_F(JsonRpcWs, UnknownKindCloses1012WithinOneSecondOfAKill) {
  auto veer = start();
  WsClient client(veer->port());
  // A provider's own kind: the node grants it, veer cannot resume it elsewhere.
  client.ws.write(boost::asio::buffer(subscribe(1, R"(["alchemy_minedTransactions"])")));
  beast::error_code ec;
  std::optional<json::object> answer = next(client, ec);
  ASSERT_TRUE(answer) << ec.message();
  ASSERT_TRUE(answer->contains("result")) << json::serialize(*answer);
  subscribed().kill();
  const auto killed = Clock::now();
  while (next(client, ec)) {
  }
  EXPECT_LT(Clock::now() - killed, 1s);
  EXPECT_EQ(client.ws.reason().code, 1012);
}

TEST_F(JsonRpcWs, MaxSubscriptionsAnswersMinus32005) {
  auto veer = start("{ max_subscriptions = 3 }");
  WsClient client(veer->port());
  for (int i = 1; i <= 4; ++i)
    client.ws.write(boost::asio::buffer(subscribe(i, R"(["newHeads"])")));
  int refused = 0, granted = 0;
  beast::error_code ec;
  while (refused + granted < 4) {
    std::optional<json::object> m = next(client, ec);
    ASSERT_TRUE(m) << ec.message();
    if (!m->contains("id")) continue;
    if (m->contains("error")) {
      EXPECT_EQ((*m)["error"].as_object()["code"], -32005);
      ++refused;
    } else {
      ++granted;
    }
  }
  EXPECT_EQ(granted, 3);
  EXPECT_EQ(refused, 1);
}

TEST_F(JsonRpcWs, ClientThatStopsReadingIsClosed1013AndCounted) {
  TestConfig config{.backends = {a.address(), b.address()}, .workers = 1};
  config.route_keys = "  jsonrpc = { max_queue_bytes = 65536 }";
  Admin admin = start_with_admin(config);
  WsClient client(admin.veer->port("public"));
  int small = 4096;
  ::setsockopt(client.ws.next_layer().native_handle(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  // Each answer carries every log from block 1 (about 25 KB); the client reads none.
  const std::string call =
      R"({"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"0x1","toBlock":"latest"}]})";
  for (int i = 0; i < 400; ++i)
    client.ws.write(boost::asio::buffer(call));
  const auto closes = [&] {
    const auto r = admin.call("GET", "/metrics", "", {});
    return r && r->body.find("veer_jsonrpc_slow_consumer_closes_total 1") != std::string::npos;
  };
  // (Reading what is still on its way through a 4 KB window would take seconds.) The
  // bound is generous: in a sanitizer build the fake node alone takes seconds to write
  // 400 answers of 25 KB.
  EXPECT_TRUE(poll_until(closes, 30000ms));
}

// The next message as any JSON value (a batch's answer is an array).
std::optional<json::value> next_value(WsClient& client, beast::error_code& ec) {
  beast::flat_buffer buffer;
  client.ws.read(buffer, ec);
  if (ec) return std::nullopt;
  return json::parse(beast::buffers_to_string(buffer.data()));
}

std::string call(int id, const std::string& method, const std::string& params = "[]") {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")" + method +
         R"(","params":)" + params + "}";
}

// The route's method policy holds over WebSocket as over HTTP: denied methods are
// answered -32601 by veer and never reach a node; eth_accounts is answered [].
TEST_F(JsonRpcWs, MethodPolicyAppliesToEveryCall) {
  auto veer = start();
  WsClient client(veer->port());
  const std::vector<std::string> denied = {"admin_addPeer", "personal_listAccounts",
                                           "eth_sendTransaction"};
  int id = 1;
  for (const std::string& method : denied) {
    client.ws.write(boost::asio::buffer(call(id, method, R"(["x"])")));
    beast::error_code ec;
    std::optional<json::object> answer = next(client, ec);
    ASSERT_TRUE(answer) << ec.message();
    EXPECT_EQ((*answer)["id"], id);
    ASSERT_TRUE(answer->contains("error")) << json::serialize(*answer);
    EXPECT_EQ((*answer)["error"].as_object()["code"], -32601) << method;
    ++id;
  }
  client.ws.write(boost::asio::buffer(call(id, "eth_accounts")));
  beast::error_code ec;
  std::optional<json::object> accounts = next(client, ec);
  ASSERT_TRUE(accounts) << ec.message();
  EXPECT_EQ((*accounts)["id"], id);
  ASSERT_TRUE(accounts->contains("result")) << json::serialize(*accounts);
  EXPECT_TRUE((*accounts)["result"].as_array().empty());
  // A forwarded call after them still works, and the nodes saw none of the others.
  client.ws.write(boost::asio::buffer(call(++id, "eth_chainId")));
  std::optional<json::object> chain = next(client, ec);
  ASSERT_TRUE(chain) << ec.message();
  EXPECT_TRUE(chain->contains("result")) << json::serialize(*chain);
  for (const std::string& method : denied)
    EXPECT_EQ(a.calls(method) + b.calls(method), 0u) << method;
  EXPECT_EQ(a.calls("eth_accounts") + b.calls("eth_accounts"), 0u);
  EXPECT_EQ(a.calls("eth_chainId") + b.calls("eth_chainId"), 1u);
}

// A batch gets one array, in the client's order, local answers included.
TEST_F(JsonRpcWs, BatchIsAnsweredWithOneArray) {
  auto veer = start();
  WsClient client(veer->port());
  client.ws.write(boost::asio::buffer(
      "[" + call(1, "eth_blockNumber") + "," + call(2, "admin_addPeer", R"(["x"])") + "," +
      call(3, "eth_chainId") + "," + call(4, "eth_accounts") + "]"));
  beast::error_code ec;
  std::optional<json::value> answer = next_value(client, ec);
  ASSERT_TRUE(answer) << ec.message();
  ASSERT_TRUE(answer->is_array()) << json::serialize(*answer);
  const json::array& items = answer->as_array();
  ASSERT_EQ(items.size(), 4u);
  for (std::size_t i = 0; i < items.size(); ++i)
    EXPECT_EQ(items[i].at("id"), static_cast<std::int64_t>(i + 1));
  EXPECT_TRUE(items[0].as_object().contains("result"));
  EXPECT_EQ(items[1].at("error").at("code"), -32601);
  EXPECT_TRUE(items[2].as_object().contains("result"));
  EXPECT_TRUE(items[3].at("result").as_array().empty());
}

std::size_t open_fds(pid_t pid) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    ++n;
  return n;
}

// Every failover retires a node connection; the relay frees each once its last operation
// completes, so many failovers leave the process's descriptors where they were (both
// engines: io_uring keeps a connection's operations longest).
TEST_F(JsonRpcWs, ManyFailoversLeakNoConnection) {
  std::vector<std::string> binaries = {""};
  if (std::filesystem::exists(veer_io_uring_binary())) binaries.push_back(veer_io_uring_binary());
  for (const std::string& binary : binaries) {
    SCOPED_TRACE(binary.empty() ? "epoll" : binary);
    TestConfig config{.backends = {a.address(), b.address()}, .workers = 1};
    config.route_keys = "  jsonrpc = true";
    std::string toml = config.toml();
    toml += "[admin]\naddress = \"127.0.0.1:0\"\ntokens = [ { name = \"scaler\", token = \"";
    toml += kToken;
    toml += "\" } ]\n";
    Admin admin = start_admin_toml(toml, VeerOptions{.binary = binary});
    WsClient client(admin.veer->port("public"));
    const std::uint64_t on_a = a.calls("eth_subscribe");
    client.ws.write(boost::asio::buffer(subscribe(1, R"(["newHeads"])")));
    Stream s;
    ASSERT_TRUE(read_until(
        client, s, [&] { return s.heads.size() >= 2; }, 5s));
    FakeRpcNode* current = a.calls("eth_subscribe") > on_a ? &a : &b;
    const std::size_t before = open_fds(admin.veer->pid());
    constexpr int kFailovers = 20;
    for (int i = 0; i < kFailovers; ++i) {
      FakeRpcNode& from = *current;
      FakeRpcNode& to = &from == &a ? b : a;
      current = &to;
      const std::uint64_t moved = to.calls("eth_subscribe");
      const std::string backend = "/api/v1/pools/main/backends/" + from.address();
      ASSERT_TRUE(admin.call("PATCH", backend, R"({"state": "down"})"));
      ASSERT_TRUE(poll_until([&] { return to.calls("eth_subscribe") > moved; }, 5000ms))
          << "failover " << i << "\n"
          << admin.veer->log_text();
      ASSERT_TRUE(admin.call("PATCH", backend, R"({"state": "up"})"));
      // Keep the client's side read, and the subscription alive on the new node.
      const std::size_t seen = s.heads.size();
      ASSERT_TRUE(read_until(
          client, s, [&] { return s.heads.size() > seen; }, 5s));
    }
    const std::size_t after = open_fds(admin.veer->pid());
    EXPECT_LE(after, before + 2) << "descriptors before " << before << ", after " << after;
  }
}

}  // namespace
}  // namespace veer::test
