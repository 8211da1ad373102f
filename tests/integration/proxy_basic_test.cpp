// Balancing, forwarding rules and keep-alive reuse through a real veer process.
#include <gtest/gtest.h>

#include <map>

#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

class ProxyBasic : public ::testing::TestWithParam<std::string> {
 protected:
  TestBackend a{"a"}, b{"b"}, c{"c"};

  std::unique_ptr<VeerProcess> start(TestConfig config) {
    config.io_engine = GetParam();
    auto veer = std::make_unique<VeerProcess>(config.toml());
    EXPECT_TRUE(veer->wait_ready()) << veer->log_text();
    return veer;
  }
};

TEST_P(ProxyBasic, RoundRobinSpreadsRequestsOverEveryBackend) {
  auto veer = start(TestConfig{.backends = addresses({&a, &b, &c}), .workers = 1});
  Client client(veer->port());
  std::map<std::string, int> seen;
  for (int i = 0; i < 300; ++i) {
    const auto r = client.get("/");
    ASSERT_TRUE(r) << "request " << i;
    ASSERT_EQ(r->status, 200);
    ++seen[r->body];
  }
  EXPECT_EQ(seen["a"], 100);
  EXPECT_EQ(seen["b"], 100);
  EXPECT_EQ(seen["c"], 100);
}

TEST_P(ProxyBasic, KeepAliveReusesUpstreamConnections) {
  auto veer = start(TestConfig{.backends = addresses({&a})});
  Client client(veer->port());
  for (int i = 0; i < 1000; ++i) {
    const auto r = client.get("/n" + std::to_string(i));
    ASSERT_TRUE(r && r->status == 200) << "request " << i;
  }
  EXPECT_EQ(a.requests(), 1000);
  // Sequential requests over one client connection need one upstream connection.
  EXPECT_LE(a.connections_accepted(), 2) << "upstream connections opened for 1000 requests";
}

TEST_P(ProxyBasic, ForwardsHeadersAndStripsHopByHop) {
  a.record(true);
  auto veer = start(TestConfig{.backends = addresses({&a})});
  const auto r = fetch(
      veer->port(), "GET", "/path?q=1", "",
      {"Connection: keep-alive, X-Hop", "X-Hop: secret", "Keep-Alive: timeout=5", "TE: trailers",
       "Upgrade: h2c", "Proxy-Authorization: Basic x", "X-Forwarded-For: 10.1.2.3", "X-Keep: yes"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const auto requests = a.recorded();
  ASSERT_EQ(requests.size(), 1u);
  const BackendRequest& seen = requests[0];
  EXPECT_EQ(seen.target, "/path?q=1");
  EXPECT_EQ(seen.header("Host"), "127.0.0.1");
  EXPECT_EQ(seen.header("X-Keep"), "yes");
  for (const char* hop :
       {"X-Hop", "Keep-Alive", "TE", "Upgrade", "Proxy-Authorization", "Connection"}) {
    EXPECT_EQ(seen.count(hop), 0u) << hop << " must not be forwarded";
  }
  // No trusted_proxies: the client's X-Forwarded-For is replaced, not appended to.
  EXPECT_EQ(seen.header("X-Forwarded-For"), "127.0.0.1");
  EXPECT_EQ(seen.header("X-Real-IP"), "127.0.0.1");
  EXPECT_EQ(seen.header("X-Forwarded-Proto"), "http");
  EXPECT_EQ(seen.header("X-Request-Id").size(), 32u);
}

TEST_P(ProxyBasic, KeepsAnIncomingRequestId) {
  a.record(true);
  auto veer = start(TestConfig{.backends = addresses({&a})});
  ASSERT_TRUE(fetch(veer->port(), "GET", "/", "", {"X-Request-Id: trace-42"}));
  ASSERT_EQ(a.recorded().size(), 1u);
  EXPECT_EQ(a.recorded()[0].header("X-Request-Id"), "trace-42");
}

TEST_P(ProxyBasic, RequestIdGoesBackToTheClient) {
  a.record(true);
  auto veer = start(TestConfig{.backends = addresses({&a})});
  Client client(veer->port());
  auto r = client.get("/");
  ASSERT_TRUE(r);
  ASSERT_EQ(a.recorded().size(), 1u);
  EXPECT_EQ(r->header("X-Request-Id").size(), 32u);
  EXPECT_EQ(r->header("X-Request-Id"), a.recorded()[0].header("X-Request-Id"))
      << "the generated id, as the backend got it";
  r = client.request("GET", "/", "", {"X-Request-Id: trace-42"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("X-Request-Id"), "trace-42");
  // A backend that answers with an id of its own: the client gets veer's, once.
  a.set_handler([](const BackendRequest&) {
    return BackendReply{.body = "x", .headers = {{"X-Request-Id", "backend-own"}}};
  });
  r = client.request("GET", "/", "", {"X-Request-Id: trace-43"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->count("X-Request-Id"), 1u);
  EXPECT_EQ(r->header("X-Request-Id"), "trace-43");
}

TEST_P(ProxyBasic, VeersOwnErrorsCarryTheRequestId) {
  c.stop();
  auto veer = start(TestConfig{.backends = addresses({&c})});
  // 502: the backend refuses connections.
  auto r = fetch(veer->port(), "GET", "/", "", {"X-Request-Id: err-502"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_EQ(r->header("X-Request-Id"), "err-502");
  EXPECT_NE(r->body.find("(request id err-502)"), std::string::npos) << r->body;
  // 400 before the head could be read: the id veer made up, also named in the body.
  Client client(veer->port());
  ASSERT_TRUE(client.send("GET /a#b HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  const std::string id = r->header("X-Request-Id");
  EXPECT_EQ(id.size(), 32u);
  EXPECT_NE(r->body.find("(request id " + id + ")"), std::string::npos) << r->body;
}

TEST_P(ProxyBasic, TimeoutAnswerCarriesTheRequestId) {
  a.set_handler([](const BackendRequest&) { return BackendReply{.hang = true}; });
  auto veer =
      start(TestConfig{.backends = addresses({&a}), .timeouts = "upstream_response = \"200ms\""});
  const auto r = fetch(veer->port(), "GET", "/", "", {"X-Request-Id: err-504"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_EQ(r->header("X-Request-Id"), "err-504");
}

TEST_P(ProxyBasic, AbsoluteFormWithoutPathGoesToTheRoot) {
  a.record(true);
  auto veer = start(TestConfig{.backends = addresses({&a})});
  Client client(veer->port());
  ASSERT_TRUE(client.send("GET http://node:8545 HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  ASSERT_TRUE(client.send("GET http://node:8545?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"));
  r = client.read_response();
  ASSERT_TRUE(r);
  const auto seen = a.recorded();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].target, "/");
  EXPECT_EQ(seen[0].header("Host"), "node:8545");
  EXPECT_EQ(seen[1].target, "/?q=1");
}

TEST_P(ProxyBasic, Http10WithoutHostIsForwardedWithTheBackendAsHost) {
  c.stop();  // refuses connections: a request picked for it is retried on a
  a.record(true);
  auto veer = start(TestConfig{.backends = addresses({&c, &a}), .workers = 1});
  for (int i = 0; i < 2; ++i) {  // round robin: one of the two tries c first
    Client client(veer->port());
    ASSERT_TRUE(client.send("GET /old HTTP/1.0\r\nUser-Agent: wget/1.0\r\n\r\n"));
    const auto r = client.read_response();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->status, 200) << i;
  }
  EXPECT_TRUE(veer->wait_for_log("retrying GET /old on " + a.address(), 5s)) << veer->log_text();
  const auto seen = a.recorded();
  ASSERT_EQ(seen.size(), 2u);
  for (const BackendRequest& request : seen) {
    EXPECT_EQ(request.count("Host"), 1u);
    EXPECT_EQ(request.header("Host"), a.address()) << "the backend that got it, after a retry too";
    EXPECT_EQ(request.header("User-Agent"), "wget/1.0");
  }
}

TEST_P(ProxyBasic, JsonRpcLargeResponseAndBatchPassIntact) {
  const std::string big_result = "\"0x" + std::string(1 << 20, 'a') + "\"";
  a.set_handler([&](const BackendRequest& req) {
    BackendReply reply;
    reply.headers = {{"Content-Type", "application/json"}};
    if (!req.body.empty() && req.body.front() == '[') {
      reply.body =
          R"([{"jsonrpc":"2.0","id":1,"result":"0x10"},{"jsonrpc":"2.0","id":2,"result":"0x1"}])";
    } else {
      reply.body = R"({"jsonrpc":"2.0","id":7,"result":)" + big_result + "}";
    }
    return reply;
  });
  a.record(true);
  auto veer = start(TestConfig{.backends = addresses({&a})});
  Client client(veer->port());
  const std::string call =
      R"({"jsonrpc":"2.0","id":7,"method":"eth_getBlockByNumber","params":["latest",true]})";
  auto r = client.request("POST", "/", call, {"Content-Type: application/json"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, R"({"jsonrpc":"2.0","id":7,"result":)" + big_result + "}");
  const std::string batch =
      R"([{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber"},{"jsonrpc":"2.0","id":2,"method":"eth_chainId"}])";
  r = client.request("POST", "/", batch, {"Content-Type: application/json"});
  ASSERT_TRUE(r);
  EXPECT_EQ(
      r->body,
      R"([{"jsonrpc":"2.0","id":1,"result":"0x10"},{"jsonrpc":"2.0","id":2,"result":"0x1"}])");
  const auto seen = a.recorded();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].body, call);
  EXPECT_EQ(seen[1].body, batch);
}

TEST_P(ProxyBasic, AcceptsBackendQuirks) {
  auto veer = start(TestConfig{.backends = addresses({&a})});
  // Empty reason phrase.
  a.set_handler([](const BackendRequest&) {
    return BackendReply{.raw = "HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nok"};
  });
  auto r = fetch(veer->port(), "GET", "/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
  // A body delimited by the backend closing the connection.
  a.set_handler([](const BackendRequest&) {
    return BackendReply{.body = "until the end", .close_delimited = true};
  });
  r = fetch(veer->port(), "GET", "/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "until the end");
  // 1xx interim responses before the final one.
  a.set_handler([](const BackendRequest&) {
    return BackendReply{
        .raw =
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
            "Link: </a.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 4\r\n\r\ndone"};
  });
  Client client(veer->port());
  ASSERT_TRUE(client.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi"));
  auto interim = client.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  interim = client.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 103);
  EXPECT_EQ(interim->header("Link"), "</a.css>");
  const auto final_response = client.read_response();
  ASSERT_TRUE(final_response);
  EXPECT_EQ(final_response->status, 201);
  EXPECT_EQ(final_response->body, "done");
}

TEST_P(ProxyBasic, HeadAndNoContentResponsesHaveNoBody) {
  a.set_handler([](const BackendRequest& req) {
    BackendReply reply;
    reply.status = req.target == "/empty" ? 204 : 200;
    reply.body = req.target == "/empty" ? "" : "twelve bytes";
    return reply;
  });
  auto veer = start(TestConfig{.backends = addresses({&a})});
  Client client(veer->port());
  auto r = client.request("HEAD", "/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("Content-Length"), "12");
  EXPECT_EQ(r->body_size, 0u);
  r = client.get("/empty");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  r = client.get("/after");  // the connection is still in step
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "twelve bytes");
}

TEST_P(ProxyBasic, PipelinedRequestsAreAnsweredInOrder) {
  auto veer = start(TestConfig{.backends = addresses({&a, &b}), .workers = 1});
  Client client(veer->port());
  std::string burst;
  for (int i = 0; i < 10; ++i)
    burst += "GET /" + std::to_string(i) + " HTTP/1.1\r\nHost: x\r\n\r\n";
  ASSERT_TRUE(client.send(burst));
  for (int i = 0; i < 10; ++i) {
    const auto r = client.read_response();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->body, i % 2 == 0 ? "a" : "b") << i;
  }
}

TEST_P(ProxyBasic, RoutesByHostAndPathPrefix) {
  TestBackend ws{"ws"}, api{"api"};
  TestConfig config{.backends = addresses({&a})};
  const std::string toml = R"([server]
workers = 1
io_engine = ")" + GetParam() +
                           R"("
access_log = "off"
[listeners.public]
address = "127.0.0.1:0"
  [[listeners.public.routes]]
  path_prefix = "/ws"
  target = "ws"
  [[listeners.public.routes]]
  host = "API.example.com"
  target = "api"
  [[listeners.public.routes]]
  path_prefix = "/"
  target = "main"
[pools.ws]
backends = [")" + ws.address() +
                           R"("]
[pools.api]
backends = [")" + api.address() +
                           R"("]
[pools.main]
backends = [")" + a.address() +
                           R"("]
)";
  VeerProcess veer(toml);
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  EXPECT_EQ(fetch(veer.port(), "GET", "/ws/x")->body, "ws");
  EXPECT_EQ(fetch(veer.port(), "GET", "/other", "", {})->body, "a");
  Client client(veer.port());
  ASSERT_TRUE(client.send("GET /x HTTP/1.1\r\nHost: api.EXAMPLE.com:8545\r\n\r\n"));
  EXPECT_EQ(client.read_response()->body, "api");
}

INSTANTIATE_TEST_SUITE_P(Engines, ProxyBasic, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace veer::test
