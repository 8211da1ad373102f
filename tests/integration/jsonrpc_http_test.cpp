// HTTP JSON-RPC routes through a real veer and scripted fake nodes
// (tests/support/fake_rpc_node.hpp): never backwards (per connection, across a
// blue-green switch, one head per batch), error classes in passive health, the retry
// table, the method policy (denied methods, eth_accounts, method routes, archive
// routing, sticky filters, the logs range cap), per-call rate limits, veer's own
// JSON-RPC errors for malformed and oversized bodies, and a plain route beside them
// that stays byte-exact.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "support/admin_client.hpp"
#include "support/config_builder.hpp"
#include "support/fake_rpc_node.hpp"
#include "support/http_client.hpp"
#include "support/poll.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

namespace json = boost::json;

constexpr const char* kAdminTable =
    "[admin]\naddress = \"127.0.0.1:0\"\ntokens = [ { name = \"ops\", token = "
    "\"0123456789abcdef-test-token\" } ]\n";

std::string call(int id, const std::string& method, const std::string& params = "[]") {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")" + method +
         R"(","params":)" + params + "}";
}

std::string batch_of(const std::vector<std::string>& calls) {
  std::string out = "[";
  for (std::size_t i = 0; i < calls.size(); ++i)
    out += (i ? "," : "") + calls[i];
  return out + "]";
}

std::optional<Response> post(Client& client, const std::string& body) {
  return client.request("POST", "/", body, {"Content-Type: application/json"});
}

// The parsed body, or null when it is not JSON.
json::value parse(const std::optional<Response>& r) {
  if (!r) return nullptr;
  boost::system::error_code ec;
  json::value v = json::parse(r->body, ec);
  return ec ? json::value(nullptr) : v;
}

std::uint64_t quantity(const json::value& v) {
  if (!v.is_string()) return 0;
  return std::stoull(std::string(v.as_string()).substr(2), nullptr, 16);
}

// The reply with `id` of a batch answer (null when none).
const json::object* reply_with_id(const json::value& answer, std::int64_t id) {
  if (!answer.is_array()) return nullptr;
  for (const json::value& item : answer.as_array()) {
    if (item.is_object() && item.as_object().contains("id") &&
        item.as_object().at("id").is_int64() && item.as_object().at("id").as_int64() == id)
      return &item.as_object();
  }
  return nullptr;
}

std::int64_t error_code(const json::value& reply) {
  if (!reply.is_object() || !reply.as_object().contains("error")) return 0;
  return reply.as_object().at("error").as_object().at("code").to_number<std::int64_t>();
}

std::string error_message(const json::value& reply) {
  if (!reply.is_object() || !reply.as_object().contains("error")) return "";
  return std::string(reply.as_object().at("error").as_object().at("message").as_string());
}

class JsonRpcHttp : public testing::TestWithParam<std::string> {
 protected:
  // One JSON-RPC route on `nodes` (pool "main"), `extra` appended to the file.
  TestConfig config_for(const std::vector<const FakeRpcNode*>& nodes,
                        const std::string& route_keys = "  jsonrpc = true",
                        const std::string& extra = "") {
    TestConfig config;
    config.io_engine = GetParam();
    for (const FakeRpcNode* node : nodes)
      config.backends.push_back(node->address());
    config.route_keys = route_keys;
    config.extra = extra;
    return config;
  }
  // veer with an admin port (GET /api/v1/pools, PUT /api/v1/splits).
  void start(const TestConfig& config) {
    admin_ = start_admin_toml(config.toml() + kAdminTable);
    ASSERT_TRUE(admin_.veer && admin_.port != 0);
  }
  std::uint16_t port() const { return admin_.veer->port(); }

  Admin admin_;
};

// Two nodes at heads 100 and 97 in turn; 8 keep-alive connections through 2 workers,
// 1,000 eth_blockNumber calls: what each connection sees never goes down.
TEST_P(JsonRpcHttp, BlockNumberNeverGoesBackwards) {
  FakeRpcNode high("high", {.head = 100});
  FakeRpcNode low("low", {.head = 97, .index = 1});
  start(config_for({&high, &low}));
  constexpr int kConnections = 8;
  constexpr int kCalls = 125;
  std::vector<std::vector<std::uint64_t>> seen(kConnections);
  std::vector<std::thread> threads;
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&, c] {
      Client client(port());
      for (int i = 0; i < kCalls; ++i) {
        const json::value answer = parse(post(client, call(i, "eth_blockNumber")));
        if (!answer.is_object() || !answer.as_object().contains("result")) break;
        seen[c].push_back(quantity(answer.as_object().at("result")));
      }
    });
  }
  for (std::thread& t : threads)
    t.join();
  for (int c = 0; c < kConnections; ++c) {
    ASSERT_EQ(seen[c].size(), static_cast<std::size_t>(kCalls)) << "connection " << c;
    for (std::size_t i = 1; i < seen[c].size(); ++i)
      ASSERT_GE(seen[c][i], seen[c][i - 1]) << "connection " << c << " call " << i;
    EXPECT_GE(seen[c].front(), 97u);
    EXPECT_LE(seen[c].back(), 100u);
  }
  // Once 100 was served, nothing lower comes back, on any connection.
  Client client(port());
  const json::value answer = parse(post(client, call(1, "eth_blockNumber")));
  ASSERT_TRUE(answer.is_object());
  EXPECT_EQ(quantity(answer.as_object().at("result")), 100u);
}

// Every "latest" call of one batch sees one head, even with the nodes apart.
TEST_P(JsonRpcHttp, BatchSeesOneHead) {
  FakeRpcNode a("a", {.head = 100});
  FakeRpcNode b("b", {.head = 90, .index = 1});
  start(config_for({&a, &b}));
  Client client(port());
  for (int round = 0; round < 4; ++round) {
    std::vector<std::string> calls;
    for (int i = 0; i < 10; ++i)
      calls.push_back(call(i, "eth_blockNumber"));
    const auto r = post(client, batch_of(calls));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    const json::value answer = parse(r);
    ASSERT_TRUE(answer.is_array()) << r->body;
    ASSERT_EQ(answer.as_array().size(), 10u);
    std::optional<std::uint64_t> head;
    for (const json::value& item : answer.as_array()) {
      const std::uint64_t n = quantity(item.as_object().at("result"));
      if (!head) head = n;
      EXPECT_EQ(n, *head) << r->body;
    }
  }
}

// A blue-green switch to a pool a few blocks behind does not take the chain back.
TEST_P(JsonRpcHttp, NeverBackwardsAcrossABlueGreenSwitch) {
  FakeRpcNode blue("blue", {.head = 200});
  FakeRpcNode green("green", {.head = 195, .index = 1});
  TestConfig config = config_for({&blue});
  config.route_target = "rpc";
  config.extra = "[pools.green]\nbackends = [\"" + green.address() +
                 "\"]\n[splits.rpc]\ntargets = { main = 100, green = 0 }\nsticky = \"none\"\n";
  start(config);
  Client client(port());
  std::uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    const json::value answer = parse(post(client, call(i, "eth_blockNumber")));
    ASSERT_TRUE(answer.is_object());
    last = quantity(answer.as_object().at("result"));
    EXPECT_EQ(last, 200u);
  }
  const auto switched =
      admin_.call("PUT", "/api/v1/splits/rpc", R"({"targets": {"main": 0, "green": 100}})");
  ASSERT_TRUE(switched && switched->status == 200);
  ASSERT_TRUE(poll_until(
      [&] {
        const json::value answer = parse(post(client, call(1, "web3_clientVersion")));
        return answer.is_object() && answer.as_object().contains("result") &&
               answer.as_object().at("result") == "fake/green";
      },
      5s));
  for (int i = 0; i < 20; ++i) {
    const json::value answer = parse(post(client, call(i, "eth_blockNumber")));
    ASSERT_TRUE(answer.is_object());
    const std::uint64_t n = quantity(answer.as_object().at("result"));
    EXPECT_GE(n, last);
    last = n;
  }
}

// Error classes in passive health: 5 % -32603 with HTTP 200 ejects a node, 50 %
// reverts do not.
TEST_P(JsonRpcHttp, ServerErrorsEjectRevertsDoNot) {
  FakeRpcNode failing("failing");
  FakeRpcNode reverting("reverting", {.index = 1});
  FakeRpcNode healthy("healthy", {.index = 2});
  ASSERT_TRUE(failing.control(R"({"error_rate": 0.05, "error_code": -32603, "seed": 3})"));
  ASSERT_TRUE(reverting.control(R"({"revert_rate": 0.5, "seed": 4})"));
  TestConfig config = config_for({&failing, &reverting, &healthy});
  config.extra =
      "outlier = { consecutive_failures = 50, failure_percent = 3, failure_min_requests = 100, "
      "failure_window = \"5s\", base_ejection = \"60s\", max_ejected_percent = 50 }\nretries = "
      "{ attempts = 0 }\n";
  start(config);
  ASSERT_NE(port(), 0) << admin_.veer->log_text();
  Client client(port());
  const auto ejected = [&](const std::string& address) {
    const auto r = admin_.call("GET", "/api/v1/pools");
    if (!r || r->status != 200) return false;
    const json::value pools = json::parse(r->body);
    for (const json::value& pool : pools.at("pools").as_array()) {
      for (const json::value& backend : pool.at("backends").as_array()) {
        if (backend.at("address") == json::string_view(address))
          return backend.at("state") == "ejected";
      }
    }
    return false;
  };
  // A window is judged when the first exchange past its end arrives: calls until then.
  // 5 s windows hold the rule's 100 exchanges per node even at the ~100 calls a second
  // a sanitizer build on a busy machine manages.
  const auto until = std::chrono::steady_clock::now() + 40s;
  for (int i = 0; i < 1000000 && std::chrono::steady_clock::now() < until &&
                  (i % 50 != 0 || !ejected(failing.address()));
       ++i) {
    const auto r = post(client, call(i, "eth_call", R"([{"to":"0x01"},"latest"])"));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  EXPECT_TRUE(ejected(failing.address()));
  EXPECT_FALSE(ejected(reverting.address()));
}

// Whether `address` is ejected now (GET /api/v1/pools).
bool ejected_now(Admin& admin, const std::string& address) {
  const auto r = admin.call("GET", "/api/v1/pools");
  if (!r || r->status != 200) return false;
  const json::value pools = json::parse(r->body);
  for (const json::value& pool : pools.at("pools").as_array()) {
    for (const json::value& backend : pool.at("backends").as_array()) {
      if (backend.at("address") == json::string_view(address))
        return backend.at("state") == "ejected";
    }
  }
  return false;
}

// A client cannot eject backends: "header not found" for a block above the node's head
// is the caller's error (answered, not retried, no failure), and a batch is one outcome
// per exchange, so five missing-state answers in one batch are one failure, not five.
TEST_P(JsonRpcHttp, ClientBatchesCannotEjectBackends) {
  FakeRpcNode a("a");
  FakeRpcNode b("b", {.index = 1});
  ASSERT_TRUE(a.control(R"({"missing_state": true})"));
  ASSERT_TRUE(b.control(R"({"missing_state": true})"));
  TestConfig config = config_for({&a, &b});
  config.extra =
      "health = { type = \"jsonrpc\", interval = \"100ms\" }\n"
      "outlier = { consecutive_failures = 3, failure_percent = 0, base_ejection = \"60s\", "
      "max_ejected_percent = 100 }\nretries = { attempts = 0 }\n";
  start(config);
  ASSERT_NE(port(), 0) << admin_.veer->log_text();
  // Both nodes' heads (100) are known before the calls.
  std::string pools;
  ASSERT_TRUE(poll_until(
      [&] {
        const auto r = admin_.call("GET", "/api/v1/pools");
        pools = r ? r->body : "";
        const auto first = pools.find("\"head\":100");
        return first != std::string::npos &&
               pools.find("\"head\":100", first + 1) != std::string::npos;
      },
      10s))
      << pools;
  Client client(port());
  std::vector<std::string> high;
  for (int i = 0; i < 5; ++i)
    high.push_back(call(i, "eth_getBlockByNumber", R"(["0xffffffff",false])"));
  for (int round = 0; round < 4; ++round) {
    const auto r = post(client, batch_of(high));
    ASSERT_TRUE(r);
    const json::value answer = parse(r);
    ASSERT_TRUE(answer.is_array()) << r->body;
    for (const json::value& reply : answer.as_array())
      EXPECT_EQ(error_message(reply), "header not found");
  }
  EXPECT_FALSE(ejected_now(admin_, a.address()));
  EXPECT_FALSE(ejected_now(admin_, b.address()));
  // "latest" missing is the node's fault: but a batch of five is one failure, and
  // consecutive_failures = 3 takes three such exchanges with one node.
  std::vector<std::string> latest;
  for (int i = 0; i < 5; ++i)
    latest.push_back(call(i, "eth_getBlockByNumber", R"(["latest",false])"));
  for (int round = 0; round < 2; ++round) {
    Client fresh(port());  // each connection may pick either node: at most 2 per node
    ASSERT_TRUE(post(fresh, batch_of(latest)));
  }
  EXPECT_FALSE(ejected_now(admin_, a.address()));
  EXPECT_FALSE(ejected_now(admin_, b.address()));
  // Single calls of "latest", one exchange each: the node is ejected.
  for (int i = 0; i < 12 && !(ejected_now(admin_, a.address()) && ejected_now(admin_, b.address()));
       ++i) {
    Client fresh(port());
    ASSERT_TRUE(post(fresh, call(i, "eth_getBlockByNumber", R"(["latest",false])")));
  }
  EXPECT_TRUE(ejected_now(admin_, a.address()) || ejected_now(admin_, b.address()));
}

// A node that answers every POST with `result` for id 7, with a CORS header and its own
// X-Request-Id; it records what it was sent.
BackendReply cors_reply(const BackendRequest& request) {
  BackendReply reply;
  reply.body = R"({"jsonrpc":"2.0","id":7,"result":")" +
               std::string(request.header("Expect").empty() ? "0x1" : "0xbad") + "\"}";
  reply.headers = {{"Content-Type", "application/json; charset=utf-8"},
                   {"Access-Control-Allow-Origin", "*"},
                   {"X-Request-Id", "the-node-s-own"}};
  return reply;
}

TestConfig config_for_backend(const TestBackend& node) {
  TestConfig config;
  config.io_engine = JsonRpcHttp::GetParam();
  config.backends.push_back(node.address());
  config.route_keys = "  jsonrpc = true";
  return config;
}

// The answer keeps the backend's own response fields (CORS) when it all came from one
// exchange, with veer's framing, X-Request-Id and keep-alive; an answer veer wrote
// (a denied method) has only veer's fields.
TEST_P(JsonRpcHttp, BackendResponseHeadersReachTheClient) {
  TestBackend node("node", cors_reply);
  start(config_for_backend(node));
  Client client(port());
  const auto r = post(client, call(7, "eth_chainId"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(r->count("Content-Type"), 1u);
  EXPECT_EQ(r->header("Content-Type"), "application/json");
  EXPECT_EQ(r->count("Content-Length"), 1u);
  EXPECT_EQ(r->count("X-Request-Id"), 1u);
  EXPECT_NE(r->header("X-Request-Id"), "the-node-s-own");
  EXPECT_TRUE(r->keep_alive);
  EXPECT_EQ(error_code(parse(r)), 0) << r->body;
  const auto denied = post(client, call(8, "admin_addPeer", R"(["enode://x"])"));
  ASSERT_TRUE(denied);
  EXPECT_EQ(error_code(parse(denied)), -32601) << denied->body;
  EXPECT_EQ(denied->header("Access-Control-Allow-Origin"), "");
  EXPECT_EQ(denied->count("X-Request-Id"), 1u);
  // HTTP/1.0 with keep-alive: said so in the answer, and the connection stays.
  const std::string body = call(7, "eth_chainId");
  Client old(port());
  ASSERT_TRUE(
      old.send("POST / HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\n"
               "Content-Type: application/json\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n\r\n" + body));
  const auto first = old.read_response();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(first->header("Connection"), "keep-alive");
  EXPECT_EQ(first->header("Access-Control-Allow-Origin"), "*");
}

// Expect: 100-continue: veer reads the body itself, so it answers 100 Continue before
// the body is sent (a client waits for it), and the node never sees Expect.
TEST_P(JsonRpcHttp, ExpectContinueIsAnsweredAndNotForwarded) {
  TestBackend node("node", cors_reply);
  start(config_for_backend(node));
  const std::string body = call(7, "eth_chainId");
  const std::string head =
      "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Expect: 100-continue\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n";
  Client client(port());
  ASSERT_TRUE(client.send(head));
  const auto interim = client.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(client.send(body));
  const auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const json::value answer = parse(r);
  ASSERT_TRUE(answer.is_object()) << r->body;
  EXPECT_EQ(answer.as_object().at("result"), "0x1") << "the node saw no Expect";
  // The body sent with the head: nothing to wait for, the answer comes at once.
  ASSERT_TRUE(client.send(head + body));
  const auto direct = client.read_response();
  ASSERT_TRUE(direct);
  EXPECT_EQ(direct->status, 200);
  EXPECT_EQ(parse(direct).as_object().at("result"), "0x1");
}

// The retry table: a read answered -32603 goes to the other node.
TEST_P(JsonRpcHttp, ReadRetriedOnTheOtherNode) {
  FakeRpcNode broken("broken");
  FakeRpcNode good("good", {.index = 1});
  ASSERT_TRUE(broken.control(R"({"error_rate": 1.0, "error_code": -32603})"));
  start(config_for({&broken, &good}));
  Client client(port());
  for (int i = 0; i < 6; ++i) {
    const json::value answer =
        parse(post(client, call(i, "eth_getBalance", R"(["0x01","latest"])")));
    ASSERT_TRUE(answer.is_object());
    ASSERT_TRUE(answer.as_object().contains("result")) << json::serialize(answer);
    EXPECT_EQ(answer.as_object().at("result"), "0x1");
  }
  EXPECT_GE(broken.calls("eth_getBalance"), 1u);
}

// eth_sendRawTransaction goes again after a lost answer; the node that already has it
// says "already known", and the client gets the transaction's hash.
TEST_P(JsonRpcHttp, SendRawTransactionRetriedAlreadyKnownGivesTheHash) {
  FakeRpcNode first("first");
  FakeRpcNode second("second", {.index = 1});
  const std::string raw =
      R"(["0xf86c0a8502540be400825208940000000000000000000000000000000000000001880de0b6b3a76400008025a0aa"])";
  // The second node has it already; the first answers 500 (its answer is lost).
  Client direct(second.port());
  const json::value known = parse(post(direct, call(1, "eth_sendRawTransaction", raw)));
  ASSERT_TRUE(known.is_object() && known.as_object().contains("result"));
  ASSERT_TRUE(first.control(R"({"http_status": 500})"));
  TestConfig config;
  config.io_engine = GetParam();
  config.workers = 1;
  config.backends = {"{ address = \"" + first.address() + "\", weight = 100 }",
                     "{ address = \"" + second.address() + "\", weight = 1 }"};
  config.strategy = "weighted";
  config.route_keys = "  jsonrpc = true";
  start(config);
  Client client(port());
  const json::value answer = parse(post(client, call(7, "eth_sendRawTransaction", raw)));
  ASSERT_TRUE(answer.is_object());
  ASSERT_TRUE(answer.as_object().contains("result")) << json::serialize(answer);
  EXPECT_EQ(answer.as_object().at("result"), known.as_object().at("result"));
  EXPECT_EQ(second.calls("eth_sendRawTransaction"), 2u);
}

// State-creating methods are not sent again once they may have reached a node: the
// node's own server error comes back (HTTP 200, it is a JSON-RPC answer).
TEST_P(JsonRpcHttp, FilterCreationAndSendTransactionNotRetried) {
  FakeRpcNode a("a");
  FakeRpcNode b("b", {.index = 1});
  ASSERT_TRUE(a.control(R"({"error_rate": 1.0, "error_code": -32603})"));
  ASSERT_TRUE(b.control(R"({"error_rate": 1.0, "error_code": -32603})"));
  start(config_for({&a, &b}, "  jsonrpc = { deny = [] }"));
  Client client(port());
  for (const char* method : {"eth_newFilter", "eth_sendTransaction"}) {
    a.reset_stats();
    b.reset_stats();
    const auto r = post(client, call(1, method, R"([{}])"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << method;
    EXPECT_NE(error_code(parse(r)), 0) << r->body;
    EXPECT_EQ(a.calls(method) + b.calls(method), 1u) << method;
  }
  // A read in the same situation goes to the other node too (and fails there as well).
  a.reset_stats();
  b.reset_stats();
  const auto read = post(client, call(2, "eth_getBalance", R"(["0x01","latest"])"));
  ASSERT_TRUE(read);
  EXPECT_EQ(error_code(parse(read)), -32603) << read->body;
  EXPECT_EQ(a.calls("eth_getBalance") + b.calls("eth_getBalance"), 2u);
}

// A reused connection the node closes after reading the request, without a byte of
// answer: the request may have been taken, so a state-creating call is not sent again
// (a read is).
TEST_P(JsonRpcHttp, ClosedWithoutAnswerAfterTheWriteIsNotResentForStateCreatingCalls) {
  TestBackend node("node", [](const BackendRequest& request) {
    BackendReply reply;
    if (request.body.find("eth_chainId") == std::string::npos) {
      reply.drop = true;
      return reply;
    }
    reply.body = R"({"jsonrpc":"2.0","id":1,"result":"0x1"})";
    return reply;
  });
  TestConfig config = config_for_backend(node);
  config.route_keys = "  jsonrpc = { deny = [] }";
  start(config);
  node.record(true);
  const auto sent = [&](const std::string& method) {
    std::size_t n = 0;
    for (const BackendRequest& request : node.recorded())
      n += request.body.find(method) != std::string::npos ? 1 : 0;
    return n;
  };
  for (const char* method : {"eth_newFilter", "eth_sendTransaction"}) {
    Client client(port());
    const auto warm = post(client, call(1, "eth_chainId"));  // leaves a pooled connection
    ASSERT_TRUE(warm);
    ASSERT_EQ(warm->status, 200);
    const auto r = post(client, call(2, method, R"([{}])"));
    ASSERT_TRUE(r);
    EXPECT_NE(error_code(parse(r)), 0) << r->body;
    EXPECT_EQ(sent(method), 1u) << method << " was sent again";
  }
  Client client(port());
  ASSERT_TRUE(post(client, call(1, "eth_chainId")));
  const auto read = post(client, call(3, "eth_getBalance", R"(["0x01","latest"])"));
  ASSERT_TRUE(read);
  EXPECT_GE(sent("eth_getBalance"), 2u) << "a read goes again";
}

// Nodes that differ from geth: Besu answers JSON-RPC errors with HTTP 400 and a valid
// body (classified as any reply); some re-serialise ids (1 comes back as 1.0).
TEST_P(JsonRpcHttp, ErrorBodiesIn4xxAndReSerialisedIdsAreReplies) {
  TestBackend node("node", [](const BackendRequest& request) {
    BackendReply reply;
    if (request.body.find("eth_getBalance") != std::string::npos) {
      reply.status = 400;
      reply.body = R"({"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params"}})";
    } else if (request.body.find("eth_call") != std::string::npos) {
      reply.status = 400;
      reply.body = "bad request";
    } else {
      reply.body = R"({"jsonrpc":"2.0","id":1.0,"result":"0x1"})";
    }
    return reply;
  });
  start(config_for_backend(node));
  Client client(port());
  const auto invalid = post(client, call(1, "eth_getBalance", R"(["0x01","latest"])"));
  ASSERT_TRUE(invalid);
  EXPECT_EQ(invalid->status, 200);
  EXPECT_EQ(error_code(parse(invalid)), -32602) << invalid->body;
  const auto broken = post(client, call(1, "eth_call", R"([{"to":"0x01"},"latest"])"));
  ASSERT_TRUE(broken);
  EXPECT_EQ(broken->status, 502) << broken->body;
  const auto renamed = post(client, call(1, "eth_chainId"));
  ASSERT_TRUE(renamed);
  const json::value answer = parse(renamed);
  ASSERT_TRUE(answer.is_object()) << renamed->body;
  EXPECT_EQ(answer.as_object().at("result"), "0x1") << renamed->body;
}

// The method policy: denied methods get -32601, eth_accounts is answered locally.
TEST_P(JsonRpcHttp, DeniedMethodsAndLocalAccounts) {
  FakeRpcNode node("node");
  start(config_for({&node}));
  Client client(port());
  for (const char* method : {"admin_peers", "personal_sign", "eth_sendTransaction", "eth_sign"}) {
    const auto r = post(client, call(3, method));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(error_code(parse(r)), -32601) << method << ": " << r->body;
  }
  const json::value accounts = parse(post(client, call(4, "eth_accounts")));
  ASSERT_TRUE(accounts.is_object());
  EXPECT_EQ(json::serialize(accounts.as_object().at("result")), "[]");
  EXPECT_EQ(node.calls("eth_accounts"), 0u);
  EXPECT_EQ(node.calls("admin_peers"), 0u);
}

// Method routes: eth_sendRawTransaction to a tx pool; debug_* and old blocks to the
// archive; a batch split across targets comes back in the client's order.
TEST_P(JsonRpcHttp, MethodRoutesAndArchiveRouting) {
  FakeRpcNode full("full", {.head = 1000});
  FakeRpcNode tx("tx", {.head = 1000, .index = 1});
  FakeRpcNode archive("archive", {.head = 1000, .index = 2});
  const std::string extra = "[pools.tx]\nbackends = [\"" + tx.address() +
                            "\"]\n[pools.archive]\nbackends = [\"" + archive.address() + "\"]\n";
  start(
      config_for({&full},
                 "  jsonrpc = { archive = \"archive\", recent_blocks = 128 }\n"
                 "  method_routes = [ { match = [\"eth_sendRawTransaction\"], target = \"tx\" } ]",
                 "health = { type = \"jsonrpc\", interval = \"200ms\" }\n" + extra));
  // Archive routing needs the head: wait until veer has taken it from a health check
  // (the node having been asked is not enough).
  ASSERT_TRUE(poll_until(
      [&] {
        const auto metrics = admin_.call("GET", "/metrics");
        return metrics && sample(metrics->body, "veer_backend_head_block{pool=\"main\",backend=\"" +
                                                    full.address() + "\"}") == 1000.0;
      },
      5s))
      << admin_.veer->log_text();
  Client client(port());
  const std::string raw =
      R"(["0xf86c0b8502540be400825208940000000000000000000000000000000000000001880de0b6b3a76400008025a0bb"])";
  const auto r = post(client, batch_of({call(1, "eth_getBalance", R"(["0x01","latest"])"),
                                        call(2, "eth_sendRawTransaction", raw),
                                        call(3, "debug_traceTransaction", R"(["0x01"])"),
                                        call(4, "eth_getBalance", R"(["0x01","0x10"])")}));
  ASSERT_TRUE(r) << admin_.veer->log_text() << " exit "
                 << admin_.veer->wait_exit(std::chrono::milliseconds(100)).value_or(-1);
  const json::value answer = parse(r);
  ASSERT_TRUE(answer.is_array()) << r->body;
  ASSERT_EQ(answer.as_array().size(), 4u);
  for (std::int64_t id = 1; id <= 4; ++id)
    EXPECT_EQ(answer.as_array()[id - 1].at("id").as_int64(), id) << "the client's order";
  EXPECT_EQ(reply_with_id(answer, 1)->at("result"), "0x0");
  EXPECT_EQ(tx.calls("eth_sendRawTransaction"), 1u);
  EXPECT_EQ(full.calls("eth_sendRawTransaction"), 0u);
  EXPECT_EQ(archive.calls("debug_traceTransaction"), 1u);
  EXPECT_EQ(reply_with_id(answer, 4)->at("result"), "0x2") << "block 0x10 is archive's";
}

// Sticky filters: created on A, polled 5 times on A; with A gone, an error: "filter
// not found" from B, or the failure itself when the poll was written to A's pooled
// connection (a poll moves the filter's cursor, so one that may have landed is not sent
// again).
TEST_P(JsonRpcHttp, StickyFilters) {
  FakeRpcNode a("a");
  FakeRpcNode b("b", {.index = 1});
  start(config_for({&a, &b}));
  Client client(port());
  const json::value created = parse(post(client, call(1, "eth_newBlockFilter")));
  ASSERT_TRUE(created.is_object() && created.as_object().contains("result"))
      << json::serialize(created);
  const std::string id = json::serialize(created.as_object().at("result"));
  FakeRpcNode& creator = a.calls("eth_newBlockFilter") == 1 ? a : b;
  FakeRpcNode& other = &creator == &a ? b : a;
  for (int i = 0; i < 5; ++i) {
    const json::value polled =
        parse(post(client, call(2 + i, "eth_getFilterChanges", "[" + id + "]")));
    ASSERT_TRUE(polled.is_object() && polled.as_object().contains("result"))
        << json::serialize(polled);
  }
  EXPECT_EQ(creator.calls("eth_getFilterChanges"), 5u);
  EXPECT_EQ(other.calls("eth_getFilterChanges"), 0u);
  creator.kill();
  const json::value gone = parse(post(client, call(9, "eth_getFilterChanges", "[" + id + "]")));
  const std::string message = error_message(gone);
  EXPECT_NE(message.find("filter not found"), std::string::npos) << json::serialize(gone);
}

// eth_getLogs over max_logs_block_range: -32005 with the limit, the node never asked.
TEST_P(JsonRpcHttp, LogsRangeCap) {
  FakeRpcNode node("node", {.head = 50000});
  start(config_for({&node}, "  jsonrpc = { max_logs_block_range = 1000 }"));
  Client client(port());
  const auto r =
      post(client, call(1, "eth_getLogs", R"([{"fromBlock":"0x1","toBlock":"0x2710"}])"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(error_code(parse(r)), -32005) << r->body;
  EXPECT_EQ(node.calls("eth_getLogs"), 0u);
  const json::value ok =
      parse(post(client, call(2, "eth_getLogs", R"([{"fromBlock":"0x1","toBlock":"0x10"}])")));
  EXPECT_TRUE(ok.is_object() && ok.as_object().contains("result")) << json::serialize(ok);
}

// Per-call rate limits: 10/s with a burst that lets 10 through at once; a batch of 15
// gets 10 results and 5 x -32005 with HTTP 200; a batch refused whole gets 429.
TEST_P(JsonRpcHttp, BatchItemsTakeTheirOwnTokens) {
  FakeRpcNode node("node");
  TestConfig config = config_for({&node}, "  jsonrpc = true\n  limits = [\"calls\"]");
  config.limits = "[limits.calls]\nrate = \"10/s\"\nburst = 9\n";
  start(config);
  Client client(port());
  std::vector<std::string> calls;
  for (int i = 0; i < 15; ++i)
    calls.push_back(call(i, "eth_chainId"));
  const auto r = post(client, batch_of(calls));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const json::value answer = parse(r);
  ASSERT_TRUE(answer.is_array()) << r->body;
  ASSERT_EQ(answer.as_array().size(), 15u);
  int results = 0;
  int limited = 0;
  for (const json::value& item : answer.as_array()) {
    results += item.as_object().contains("result") ? 1 : 0;
    limited += error_code(item) == -32005 ? 1 : 0;
  }
  EXPECT_EQ(results, 10) << r->body;
  EXPECT_EQ(limited, 5) << r->body;
  const auto refused = post(client, batch_of({call(1, "eth_chainId"), call(2, "eth_chainId")}));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 429);
  const json::value errors = parse(refused);
  ASSERT_TRUE(errors.is_array()) << refused->body;
  EXPECT_EQ(errors.as_array().size(), 2u);
  // The calls in veer_jsonrpc_* (both batches: 10 ok, 5 + 2 refused).
  const auto scraped = admin_.call("GET", "/metrics");
  ASSERT_TRUE(scraped && scraped->status == 200);
  const std::string calls_series =
      R"(veer_jsonrpc_requests_total{route="*/",method="eth_chainId",outcome=")";
  EXPECT_EQ(sample(scraped->body, calls_series + R"(ok"})"), 10);
  EXPECT_EQ(sample(scraped->body, calls_series + R"(rate_limited"})"), 7);
  EXPECT_EQ(sample(scraped->body, R"(veer_jsonrpc_errors_total{route="*/",code="-32005"})"), 7);
  EXPECT_EQ(sample(scraped->body, R"(veer_jsonrpc_batch_size_count{route="*/"})"), 2);
}

// Malformed bodies: -32700 / -32600 with HTTP 400; an invalid item inside a batch gets
// -32600 in place; a batch above max_batch gets 413 with one -32005 per item.
TEST_P(JsonRpcHttp, MalformedAndOversizedBatches) {
  FakeRpcNode node("node");
  start(config_for({&node}, "  jsonrpc = { max_batch = 5 }"));
  Client client(port());
  const auto not_json = post(client, R"({"jsonrpc":"2.0",)");
  ASSERT_TRUE(not_json);
  EXPECT_EQ(not_json->status, 400);
  EXPECT_EQ(error_code(parse(not_json)), -32700) << not_json->body;
  EXPECT_TRUE(parse(not_json).as_object().at("id").is_null());
  for (const char* body : {"[]", "42", R"("x")"}) {
    const auto r = post(client, body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << body;
    EXPECT_EQ(error_code(parse(r)), -32600) << body << ": " << r->body;
  }
  const auto mixed = post(client, R"([{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]},)"
                                  R"({"jsonrpc":"1.0","id":2,"method":"eth_chainId"},7])");
  ASSERT_TRUE(mixed);
  EXPECT_EQ(mixed->status, 200);
  const json::value items = parse(mixed);
  ASSERT_TRUE(items.is_array()) << mixed->body;
  ASSERT_EQ(items.as_array().size(), 3u);
  EXPECT_TRUE(reply_with_id(items, 1)->contains("result"));
  EXPECT_EQ(error_code(*reply_with_id(items, 2)), -32600);
  std::vector<std::string> calls;
  for (int i = 0; i < 7; ++i)
    calls.push_back(call(i, "eth_chainId"));
  const auto big = post(client, batch_of(calls));
  ASSERT_TRUE(big);
  EXPECT_EQ(big->status, 413);
  const json::value errors = parse(big);
  ASSERT_TRUE(errors.is_array()) << big->body;
  EXPECT_EQ(errors.as_array().size(), 7u);
  EXPECT_EQ(error_code(errors.as_array()[0]), -32005);
  EXPECT_NE(error_message(errors.as_array()[0]).find("batch of 7 items, the limit is 5"),
            std::string::npos);
  EXPECT_EQ(node.calls("eth_chainId"), 1u);
}

// A body over max_body_bytes: 413 with a JSON-RPC error (Content-Length and chunked).
TEST_P(JsonRpcHttp, BodyOverMaxBodyBytes) {
  FakeRpcNode node("node");
  TestConfig config = config_for({&node});
  config.limits = "max_body_bytes = 1024\n";
  start(config);
  const std::string big = call(1, "eth_call", "[\"" + std::string(2000, 'a') + "\"]");
  Client client(port());
  const auto r = post(client, big);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(error_code(parse(r)), -32005) << r->body;
  Client chunked(port());
  char size[16];
  std::snprintf(size, sizeof size, "%zx", big.size());
  ASSERT_TRUE(
      chunked.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   "Transfer-Encoding: chunked\r\n\r\n" +
                   std::string(size) + "\r\n" + big + "\r\n0\r\n\r\n"));
  const auto c = chunked.read_response();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->status, 413);
  EXPECT_EQ(error_code(parse(c)), -32005) << c->body;
}

// A chunked JSON-RPC request is decoded and answered like any other.
TEST_P(JsonRpcHttp, ChunkedRequestBody) {
  FakeRpcNode node("node", {.chain_id = 5});
  start(config_for({&node}));
  Client client(port());
  const std::string body = call(1, "eth_chainId");
  const std::string half = body.substr(0, body.size() / 2);
  const std::string rest = body.substr(body.size() / 2);
  char a[16];
  char b[16];
  std::snprintf(a, sizeof a, "%zx", half.size());
  std::snprintf(b, sizeof b, "%zx", rest.size());
  ASSERT_TRUE(client.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                          std::string(a) + "\r\n" + half + "\r\n" + std::string(b) + "\r\n" + rest +
                          "\r\n0\r\n\r\n"));
  const auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const json::value answer = parse(r);
  ASSERT_TRUE(answer.is_object()) << r->body;
  EXPECT_EQ(answer.as_object().at("result"), "0x5");
}

// A dead node: 502 with a JSON-RPC error saying what failed upstream.
TEST_P(JsonRpcHttp, DeadNodeIs502) {
  FakeRpcNode node("node");
  const std::string address = node.address();
  node.kill();
  TestConfig config = config_for({&node});
  config.extra = "retries = { attempts = 0 }\n";
  start(config);
  Client client(port());
  const auto r = post(client, call(1, "eth_chainId"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(error_code(parse(r)), -32603) << r->body;
  EXPECT_NE(error_message(parse(r)).find("upstream"), std::string::npos);
}

// A plain route in the same configuration stays a byte-exact proxy.
TEST_P(JsonRpcHttp, PlainRouteBesideStaysByteExact) {
  FakeRpcNode node("node");
  TestBackend plain("plain");
  TestConfig config = config_for({&node});
  config.listener_keys =
      "  [[listeners.public.routes]]\n  path_prefix = \"/plain\"\n  target = \"plain\"\n";
  config.extra = "[pools.plain]\nbackends = [\"" + plain.address() + "\"]\n";
  start(config);
  Client client(port());
  // Not JSON at all: a plain route forwards it as it is.
  const auto r = client.request("POST", "/plain/echo", "{not json", {});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "plain");
  EXPECT_EQ(r->count("X-Fake-Node"), 0u);
}

INSTANTIATE_TEST_SUITE_P(Engines, JsonRpcHttp, testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace veer::test
