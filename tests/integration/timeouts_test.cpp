// Failures and timeouts: 502 on refused connections, 504 on silent backends and
// unanswered connects, slow clients closed (slowloris), idle keep-alive closed.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "support/black_hole.hpp"
#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

// Binds `fd` to a free port of 127.0.0.1 and returns the address it got.
sockaddr_in bind_loopback(int fd) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  return address;
}

// A port on 127.0.0.1 where nothing listens.
std::uint16_t closed_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const sockaddr_in address = bind_loopback(fd);
  ::close(fd);
  return ntohs(address.sin_port);
}

// One GET through veer, and how long it took.
std::pair<std::optional<Response>, std::chrono::milliseconds> timed_get(std::uint16_t port) {
  const auto start = Clock::now();
  auto response = fetch(port, "GET", "/");
  return {std::move(response), since(start)};
}

TEST(Timeouts, RefusedConnectionIs502NamingTheCause) {
  TestConfig config{.backends = {"127.0.0.1:" + std::to_string(closed_port())}};
  VeerProcess veer(config.toml());
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  Client client(veer.port());
  const auto r = client.get("/");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_NE(r->body.find("upstream connect failed"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("refused"), std::string::npos) << r->body;
  // The client connection survives a 502: no body was pending.
  EXPECT_EQ(client.get("/")->status, 502);
}

TEST(Timeouts, SilentBackendIs504AfterUpstreamResponse) {
  TestBackend backend("slow", [](const BackendRequest&) { return BackendReply{.hang = true}; });
  TestConfig config{.backends = {backend.address()}};
  config.timeouts = "upstream_response = \"300ms\"\n";
  VeerProcess veer(config.toml());
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  const auto [r, took] = timed_get(veer.port());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_NE(r->body.find("timed out"), std::string::npos) << r->body;
  EXPECT_GE(took.count(), 290);
  EXPECT_LT(took.count(), 2000);
}

TEST(Timeouts, UnansweredConnectIs504AfterUpstreamConnect) {
  BlackHole hole;
  TestConfig config{.backends = {hole.address()}};
  config.timeouts = "upstream_connect = \"300ms\"\n";
  VeerProcess veer(config.toml());
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  const auto [r, took] = timed_get(veer.port());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_NE(r->body.find("connect timed out"), std::string::npos) << r->body;
  EXPECT_LT(took.count(), 2000);
}

TEST(Timeouts, SlowlorisClientIsClosedAfterClientHeader) {
  TestBackend backend("b");
  TestConfig config{.backends = {backend.address()}};
  config.timeouts = "client_header = \"400ms\"\nclient_idle = \"10s\"\n";
  VeerProcess veer(config.toml());
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  // Trickle a head one byte every 50 ms: each byte would reset a naive idle timer.
  Client client(veer.port());
  const std::string head = "GET / HTTP/1.1\r\nHost: a\r\nX-Slow: " + std::string(200, 'x');
  const auto start = Clock::now();
  bool closed = false;
  for (char c : head) {
    if (!client.send(std::string(1, c)) || client.wait_closed(50ms)) {
      closed = true;
      break;
    }
  }
  const auto took = since(start);
  EXPECT_TRUE(closed) << "a head trickling in for " << took.count() << " ms was not cut off";
  EXPECT_GE(took.count(), 350);
  EXPECT_LT(took.count(), 1500);
  EXPECT_EQ(backend.requests(), 0);
  // A connection that never sends a byte is closed after client_header too.
  Client silent(veer.port());
  EXPECT_TRUE(silent.wait_closed(2s));
}

TEST(Timeouts, IdleKeepAliveConnectionsCloseAfterClientIdle) {
  TestBackend backend("b");
  TestConfig config{.backends = {backend.address()}};
  config.timeouts = "client_idle = \"300ms\"\n";
  VeerProcess veer(config.toml());
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  Client client(veer.port());
  ASSERT_EQ(client.get("/")->status, 200);
  const auto start = Clock::now();
  EXPECT_TRUE(client.wait_closed(3s));
  EXPECT_GE(since(start).count(), 250);
}

TEST(Timeouts, RequestTimeoutsDoNotCutAResponseThatKeepsFlowing) {
  // upstream_response bounds each pause, not the whole body: a slow but steady
  // 2 s download passes with a 300 ms limit.
  TestBackend backend("drip", [](const BackendRequest&) {
    BackendReply reply;
    reply.delay = 100ms;
    reply.body = "done";
    return reply;
  });
  TestConfig config{.backends = {backend.address()}};
  config.timeouts = "upstream_response = \"300ms\"\n";
  VeerProcess veer(config.toml());
  ASSERT_TRUE(veer.wait_ready()) << veer.log_text();
  Client client(veer.port());
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(client.get("/")->status, 200);
}

}  // namespace
}  // namespace veer::test
