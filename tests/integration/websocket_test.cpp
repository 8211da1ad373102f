// WebSocket through veer with Beast's client: echo, control frames, big frames,
// prompt closing in both directions, tunnel_idle, and 1,000 tunnels at once.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <csignal>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"
#include "support/ws_client.hpp"

namespace veer::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

class WebSocket : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<VeerProcess> start(const std::string& timeouts = "", int workers = 2) {
    TestConfig config{.backends = {backend.address()}, .workers = workers, .io_engine = GetParam()};
    config.timeouts = timeouts;
    auto veer = std::make_unique<VeerProcess>(config.toml());
    EXPECT_TRUE(veer->wait_ready()) << veer->log_text();
    return veer;
  }
  TestBackend backend{"ws"};
};

TEST_P(WebSocket, EchoesTextBinaryPingsAndClose) {
  auto veer = start();
  WsClient client(veer->port());
  EXPECT_EQ(
      client.echo(R"({"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]})"),
      R"({"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]})");
  bool binary_reply = false;
  EXPECT_EQ(client.echo(std::string("\x00\x01\xff", 3), true, &binary_reply),
            std::string("\x00\x01\xff", 3));
  EXPECT_TRUE(binary_reply) << "a binary frame comes back binary";

  bool pong = false;
  client.ws.control_callback([&](websocket::frame_type kind, beast::string_view payload) {
    if (kind == websocket::frame_type::pong && payload == "are-you-there") pong = true;
  });
  client.ws.ping("are-you-there");
  EXPECT_EQ(client.echo("after the ping"), "after the ping");  // the pong arrives first
  EXPECT_TRUE(pong) << "the ping's pong did not come back through veer";

  // close() sends a close frame and waits for the backend's reply through veer.
  beast::error_code ec;
  client.ws.close(websocket::close_reason(websocket::close_code::normal, "bye"), ec);
  EXPECT_FALSE(ec) << ec.message();
  EXPECT_EQ(client.ws.reason().code, websocket::close_code::normal);
  const auto deadline = Clock::now() + 2s;
  while (backend.websocket_closes_seen() == 0 && Clock::now() < deadline) {
    Client(veer->port()).wait_closed(10ms);
  }
  EXPECT_EQ(backend.websocket_closes_seen(), 1) << "the close frame reached the backend";
}

TEST_P(WebSocket, TwoMegabyteFramePassesIntact) {
  auto veer = start();
  WsClient client(veer->port());
  std::string frame(2 << 20, '\0');
  fill_pattern(0, frame.data(), frame.size());
  EXPECT_EQ(client.echo(frame, true), frame);
}

TEST_P(WebSocket, BackendCloseReachesTheClientPromptly) {
  auto veer = start();
  WsClient client(veer->port(), 3s);
  EXPECT_EQ(client.echo("hello"), "hello");
  const auto start_time = Clock::now();
  backend.stop();  // the backend dies: its TCP connections close
  EXPECT_TRUE(client.ends());
  EXPECT_LT(Clock::now() - start_time, 2s);
}

TEST_P(WebSocket, ClientResetReachesTheBackendPromptly) {
  auto veer = start();
  {
    WsClient client(veer->port());
    EXPECT_EQ(client.echo("hello"), "hello");
    ASSERT_EQ(backend.open_websockets(), 1);
    // Abortive close: RST instead of a close frame.
    linger hard{1, 0};
    ::setsockopt(client.ws.next_layer().native_handle(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  }
  // Poll (not sleep): the backend's session must end within 2 s.
  Client probe(veer->port());  // any round trip gives veer a turn; the deadline bounds it
  const auto deadline = Clock::now() + 2s;
  while (backend.open_websockets() > 0 && Clock::now() < deadline)
    probe.wait_closed(10ms);
  EXPECT_EQ(backend.open_websockets(), 0);
}

TEST_P(WebSocket, TunnelIdleGovernsNotTheRequestTimeouts) {
  auto veer = start(
      "upstream_response = \"200ms\"\nclient_idle = \"200ms\"\nclient_body = \"200ms\"\n"
      "tunnel_idle = \"800ms\"\n");
  WsClient client(veer->port(), 3s);
  EXPECT_EQ(client.echo("one"), "one");
  // Silent for 500 ms: longer than every request timeout, shorter than tunnel_idle.
  Client pacer(veer->port());
  pacer.wait_closed(500ms);
  EXPECT_EQ(client.echo("still here"), "still here");
  // Then silent past tunnel_idle: veer closes the tunnel.
  const auto start_time = Clock::now();
  EXPECT_TRUE(client.ends());
  const auto waited = Clock::now() - start_time;
  EXPECT_GE(waited, 700ms);
  EXPECT_LT(waited, 2500ms);
}

TEST_P(WebSocket, ThousandConcurrentTunnels) {
  auto veer = start();
  std::vector<std::unique_ptr<WsClient>> clients;
  for (int i = 0; i < 1000; ++i)
    clients.push_back(std::make_unique<WsClient>(veer->port()));
  for (int i = 0; i < 1000; ++i) {
    const std::string message = "tunnel " + std::to_string(i);
    ASSERT_EQ(clients[static_cast<std::size_t>(i)]->echo(message), message);
  }
  // Every echo came back through its own backend session: all 1,000 are open at once.
  EXPECT_EQ(backend.open_websockets(), 1000);
  RecordProperty("veer_rss_kib_with_1000_tunnels", static_cast<int>(veer->rss_kib()));
}

TEST_P(WebSocket, ManyTunnelsClosingAtOnceLeaveNothingBehind) {
  // Thousands of tunnels ending in the same instant on one worker once left Asio
  // 1.81's io_uring backend with operations that never completed: veer could not drain.
  auto veer = start("", 1);
  {
    std::vector<std::unique_ptr<WsClient>> clients;
    for (int i = 0; i < 2000; ++i)
      clients.push_back(std::make_unique<WsClient>(veer->port()));
    ASSERT_EQ(clients.back()->echo("last"), "last");
  }  // every client closes here, without a close frame
  const auto after = fetch(veer->port(), "GET", "/");
  ASSERT_TRUE(after) << "veer stopped serving: " << veer->log_text();
  EXPECT_EQ(after->status, 200);
  veer->signal(SIGTERM);
  EXPECT_EQ(veer->wait_exit(10s), 0) << "veer must drain and exit: " << veer->log_text();
}

INSTANTIATE_TEST_SUITE_P(Engines, WebSocket, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace veer::test
