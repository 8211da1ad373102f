// The fake JSON-RPC node (tests/support/fake_rpc_node.hpp) against its contract: the
// other JSON-RPC tests trust it, so its answers, scripting, subscriptions and restarts
// are checked here first.

#include "support/fake_rpc_node.hpp"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "support/fake_rpc_chain.hpp"
#include "support/http_client.hpp"
#include "support/poll.hpp"
#include "support/ws_client.hpp"

namespace veer::test {
namespace {

namespace json = boost::json;

json::value rpc(std::uint16_t port, const std::string& body, Response* raw = nullptr) {
  const auto answer = fetch(port, "POST", "/", body, {"Content-Type: application/json"});
  if (!answer) return nullptr;
  if (raw != nullptr) *raw = *answer;
  json::error_code ec;
  json::value parsed = json::parse(answer->body, ec);
  return ec ? json::value(nullptr) : parsed;
}

json::value call(std::uint16_t port, const std::string& method, const std::string& params = "[]") {
  return rpc(port,
             R"({"jsonrpc":"2.0","id":7,"method":")" + method + R"(","params":)" + params + "}");
}

std::uint64_t quantity(const json::value& text) {
  return text.is_string() ? fake_rpc::parse_quantity(text.get_string()).value_or(0) : 0;
}

std::uint64_t head(std::uint16_t port) {
  return quantity(call(port, "eth_blockNumber").at("result"));
}

json::value read_json(WsClient& client) {
  boost::beast::flat_buffer buffer;
  boost::beast::error_code ec;
  client.ws.read(buffer, ec);
  if (ec) return nullptr;
  return json::parse(boost::beast::buffers_to_string(buffer.data()));
}

TEST(FakeRpcNode, KeccakMatchesKnownDigests) {
  const auto empty = fake_rpc::keccak256("");
  EXPECT_EQ(fake_rpc::hex_bytes(empty.data(), empty.size()),
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  // 200 bytes: more than one 136-byte block is absorbed.
  const auto long_input = fake_rpc::keccak256(std::string(200, 'a'));
  const auto again = fake_rpc::keccak256(std::string(200, 'a'));
  EXPECT_EQ(long_input, again);
  const auto hello = fake_rpc::keccak256("hello");
  EXPECT_EQ(fake_rpc::hex_bytes(hello.data(), hello.size()),
            "0x1c8aff950685c2ed4bc3174f3472287b56d9517b9c948127319a09a7a36deac8");
}

TEST(FakeRpcNode, AnswersTheMethods) {
  FakeRpcNode node("alpha", {.head = 100, .chain_id = 5, .index = 3});
  ASSERT_TRUE(node.running());
  Response raw;
  const json::value version =
      rpc(node.port(), R"({"jsonrpc":"2.0","id":"a","method":"web3_clientVersion"})", &raw);
  EXPECT_EQ(raw.header("X-Fake-Node"), "alpha");
  EXPECT_EQ(version.at("result"), "fake/alpha");
  EXPECT_EQ(version.at("id"), "a");
  EXPECT_EQ(head(node.port()), 100u);
  EXPECT_EQ(call(node.port(), "eth_chainId").at("result"), "0x5");
  EXPECT_EQ(call(node.port(), "net_version").at("result"), "5");
  EXPECT_EQ(call(node.port(), "eth_syncing").at("result"), false);
  EXPECT_EQ(call(node.port(), "eth_getBalance", R"(["0x01","latest"])").at("result"), "0x3");
  EXPECT_EQ(call(node.port(), "debug_traceBlock").at("result"), "alpha:debug_traceBlock");
  EXPECT_EQ(call(node.port(), "eth_mine").at("error").at("code"), -32601);

  const json::value block = call(node.port(), "eth_getBlockByNumber", R"(["0x63",false])");
  const json::value latest = call(node.port(), "eth_getBlockByNumber", R"(["latest",false])");
  EXPECT_EQ(block.at("result").at("number"), "0x63");
  EXPECT_EQ(latest.at("result").at("parentHash"), block.at("result").at("hash"));
  EXPECT_TRUE(
      call(node.port(), "eth_getBlockByNumber", R"(["0x65",false])").at("result").is_null());

  const json::value logs =
      call(node.port(), "eth_getLogs", R"([{"fromBlock":"0x60","toBlock":"latest"}])");
  ASSERT_EQ(logs.at("result").as_array().size(), 5u);
  EXPECT_EQ(logs.at("result").at(4).at("blockHash"), latest.at("result").at("hash"));

  const auto digest = fake_rpc::keccak256(std::string("\x01\x02", 2));
  EXPECT_EQ(call(node.port(), "eth_sendRawTransaction", R"(["0x0102"])").at("result"),
            json::value(fake_rpc::hex_bytes(digest.data(), digest.size())));
  EXPECT_EQ(call(node.port(), "eth_sendRawTransaction", R"(["0x0102"])").at("error").at("message"),
            "already known");

  const json::value filter = call(node.port(), "eth_newBlockFilter").at("result");
  ASSERT_TRUE(node.control(R"({"head": 102})"));
  // Appended, not "[" + ... + "]": GCC 12 warns (-Wrestrict) about that concatenation.
  std::string filter_param = "[";
  filter_param += json::serialize(filter);
  filter_param += "]";
  EXPECT_EQ(call(node.port(), "eth_getFilterChanges", filter_param).at("result").as_array().size(),
            2u);
  EXPECT_EQ(call(node.port(), "eth_uninstallFilter", filter_param).at("result"), true);
  EXPECT_EQ(call(node.port(), "eth_getFilterChanges", filter_param).at("error").at("message"),
            "filter not found");
}

TEST(FakeRpcNode, AnswersABatchInOrder) {
  FakeRpcNode node("batch");
  const json::value answer = rpc(node.port(), R"([
      {"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"},
      {"jsonrpc":"2.0","id":2,"method":"eth_chainId"},
      {"jsonrpc":"2.0","id":3,"method":"nope"}])");
  ASSERT_TRUE(answer.is_array());
  ASSERT_EQ(answer.as_array().size(), 3u);
  EXPECT_EQ(answer.at(0).at("id"), 1);
  EXPECT_EQ(answer.at(0).at("result"), "0x64");
  EXPECT_EQ(answer.at(1).at("result"), "0x1");
  EXPECT_EQ(answer.at(2).at("error").at("code"), -32601);
  const std::string stats = node.stats();
  EXPECT_NE(stats.find(R"("batches":1)"), std::string::npos) << stats;
  EXPECT_EQ(node.calls("eth_blockNumber"), 1u);
  EXPECT_EQ(node.calls("nope"), 1u);
  node.reset_stats();
  EXPECT_EQ(node.calls("eth_blockNumber"), 0u);
}

TEST(FakeRpcNode, HeadGrowsWithBlockMs) {
  FakeRpcNode node("growing", {.head = 50, .block_ms = 20});
  EXPECT_TRUE(poll_until([&] { return head(node.port()) >= 55; }, 3s));
  ASSERT_TRUE(node.control(R"({"block_ms": 0, "head": 40})"));
  EXPECT_EQ(head(node.port()), 40u);
}

TEST(FakeRpcNode, ControlChangesTheAnswers) {
  FakeRpcNode node("scripted");
  EXPECT_FALSE(node.control("not json"));
  EXPECT_FALSE(node.control(R"({"no_such_key": 1})"));

  ASSERT_TRUE(node.control(R"({"error_rate": 1.0, "error_code": -32603})"));
  EXPECT_EQ(call(node.port(), "eth_getBalance").at("error").at("code"), -32603);
  EXPECT_EQ(call(node.port(), "eth_blockNumber").at("result"), "0x64");  // exempt
  ASSERT_TRUE(node.control(R"({"error_rate": 0, "revert_rate": 1.0})"));
  EXPECT_EQ(call(node.port(), "eth_call").at("error").at("code"), 3);
  ASSERT_TRUE(node.control(R"({"revert_rate": 0, "missing_state": true})"));
  EXPECT_EQ(
      call(node.port(), "eth_getBlockByNumber", R"(["latest",false])").at("error").at("message"),
      "header not found");
  ASSERT_TRUE(node.control(R"({"missing_state": false, "syncing": true, "chain_id": 10})"));
  EXPECT_TRUE(call(node.port(), "eth_syncing").at("result").is_object());
  EXPECT_EQ(call(node.port(), "eth_chainId").at("result"), "0xa");

  ASSERT_TRUE(node.control(R"({"http_status": 500})"));
  Response raw;
  rpc(node.port(), R"({"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"})", &raw);
  EXPECT_EQ(raw.status, 500);
  ASSERT_TRUE(node.control(R"({"http_status": 0, "delay_ms": 150})"));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(head(node.port()), 100u);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 150ms);

  // Half the calls fail, and the same seed draws the same ones.
  ASSERT_TRUE(node.control(R"({"delay_ms": 0, "error_rate": 0.5, "seed": 7})"));
  std::string first, second;
  for (int i = 0; i < 40; ++i)
    first += call(node.port(), "eth_getBalance").as_object().contains("error") ? '1' : '0';
  ASSERT_TRUE(node.control(R"({"seed": 7})"));
  for (int i = 0; i < 40; ++i)
    second += call(node.port(), "eth_getBalance").as_object().contains("error") ? '1' : '0';
  EXPECT_EQ(first, second);
  EXPECT_NE(first.find('1'), std::string::npos);
  EXPECT_NE(first.find('0'), std::string::npos);
}

TEST(FakeRpcNode, NewHeadsSubscriptionGetsConsecutiveBlocks) {
  FakeRpcNode node("ws", {.head = 10, .block_ms = 30});
  WsClient client(node.port());
  const json::value subscribed = json::parse(
      client.echo(R"({"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]})"));
  const json::value id = subscribed.at("result");
  ASSERT_TRUE(id.is_string());
  EXPECT_EQ(id.get_string().size(), 34u);
  std::uint64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    const json::value note = read_json(client);
    ASSERT_EQ(note.at("method"), "eth_subscription");
    EXPECT_EQ(note.at("params").at("subscription"), id);
    const std::uint64_t number = quantity(note.at("params").at("result").at("number"));
    if (last != 0) {
      EXPECT_EQ(number, last + 1);
    }
    last = number;
  }
  EXPECT_EQ(json::parse(client.echo(R"({"jsonrpc":"2.0","id":2,"method":"eth_subscribe",)"
                                    R"("params":["syncing"]})"))
                .at("error")
                .at("code"),
            -32602);
  const std::string stats = node.stats();
  EXPECT_NE(stats.find(R"("ws_connections":1)"), std::string::npos) << stats;
  EXPECT_NE(stats.find(R"("subscriptions":1)"), std::string::npos) << stats;
}

TEST(FakeRpcNode, ReorgSendsRemovedLogsThenNewOnes) {
  FakeRpcNode node("reorg", {.head = 20});
  WsClient client(node.port());
  const json::value logs_id =
      json::parse(
          client.echo(R"({"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["logs",{}]})"))
          .at("result");
  const json::value old_hash =
      call(node.port(), "eth_getBlockByNumber", R"(["0x14",false])").at("result").at("hash");
  ASSERT_TRUE(node.control(R"({"reorg": 2})"));
  std::vector<json::value> notes;
  for (int i = 0; i < 4; ++i)
    notes.push_back(read_json(client).at("params").at("result"));
  EXPECT_EQ(notes[0].at("removed"), true);
  EXPECT_EQ(notes[0].at("blockNumber"), "0x13");
  EXPECT_EQ(notes[1].at("removed"), true);
  EXPECT_EQ(notes[1].at("blockHash"), old_hash);
  EXPECT_EQ(notes[2].at("removed"), false);
  EXPECT_EQ(notes[3].at("blockNumber"), "0x14");
  const json::value new_hash =
      call(node.port(), "eth_getBlockByNumber", R"(["0x14",false])").at("result").at("hash");
  EXPECT_NE(new_hash, old_hash);
  EXPECT_EQ(notes[3].at("blockHash"), new_hash);
  EXPECT_EQ(json::parse(client.echo(R"({"jsonrpc":"2.0","id":2,"method":"eth_unsubscribe",)"
                                    R"("params":[)" +
                                    json::serialize(logs_id) + "]}"))
                .at("result"),
            true);
}

TEST(FakeRpcNode, KillAndRestartOnTheSamePort) {
  FakeRpcNode node("phoenix", {.head = 7});
  const std::uint16_t port = node.port();
  ASSERT_TRUE(node.control(R"({"head": 30})"));
  node.kill();
  EXPECT_FALSE(node.running());
  EXPECT_FALSE(fetch(port, "GET", "/").has_value());
  ASSERT_TRUE(node.restart());
  EXPECT_EQ(node.port(), port);
  EXPECT_EQ(head(port), 7u);  // chain state from the options again
}

}  // namespace
}  // namespace veer::test
