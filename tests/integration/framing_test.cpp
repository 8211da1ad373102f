// RFC 9112 framing through a real veer: every refusal the issue lists answers 400 (or
// 431/413) and closes the connection without the backend seeing anything; chunked
// bodies pass intact in both directions.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

class Framing : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    TestConfig config{.backends = {backend.address()}, .io_engine = GetParam()};
    config.limits = "max_header_bytes = 4096\nmax_body_bytes = 100000\n";
    veer = std::make_unique<VeerProcess>(config.toml());
    ASSERT_TRUE(veer->wait_ready()) << veer->log_text();
  }

  // Sends raw bytes; expects `status` and then the connection closed by veer.
  void expect_refused(const std::string& request, int status) {
    Client client(veer->port());
    ASSERT_TRUE(client.send(request));
    const auto r = client.read_response();
    ASSERT_TRUE(r) << "no response to: " << request;
    EXPECT_EQ(r->status, status) << request;
    EXPECT_EQ(r->header("Connection"), "close") << request;
    EXPECT_TRUE(client.wait_closed(2s)) << "veer must close after refusing: " << request;
  }

  TestBackend backend{"b"};
  std::unique_ptr<VeerProcess> veer;
};

TEST_P(Framing, ConflictingFramingIsRefused) {
  expect_refused(
      "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\n\r\n",
      400);
  expect_refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd",
                 400);
  expect_refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\nabcd", 400);
  expect_refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
                 400);
  expect_refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 400);
  EXPECT_EQ(backend.requests(), 0);
}

TEST_P(Framing, BadHostIsRefused) {
  expect_refused("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400);
  expect_refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
  expect_refused("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400);
  expect_refused("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", 400);
  EXPECT_EQ(backend.requests(), 0);
}

TEST_P(Framing, FragmentInTheTargetIsRefused) {
  // RFC 9112 section 3.2: a request-target has no fragment; the backend never sees one.
  expect_refused("GET /rpc#x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expect_refused("GET /?a=1#b HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  expect_refused("GET http://node:8545#x HTTP/1.1\r\nHost: a\r\n\r\n", 400);
  EXPECT_EQ(backend.requests(), 0);
}

TEST_P(Framing, BadHeaderBytesAreRefused) {
  using namespace std::string_literals;
  expect_refused("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\0 2\r\n\r\n"s, 400);
  expect_refused("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r2\r\n\r\n", 400);
  expect_refused("GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n 2\r\n\r\n", 400);
  expect_refused("GET / HTTP/1.1\r\nHost: a\r\nX-A : 1\r\n\r\n", 400);
  expect_refused("GET / HTTP/1.1\nHost: a\n\n", 400);
  EXPECT_EQ(backend.requests(), 0);
}

TEST_P(Framing, OversizedHeadIs431AndBodyIs413) {
  expect_refused("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(5000, 'x') + "\r\n\r\n", 431);
  // The head never ends: still 431 once the limit is reached, not a hang.
  expect_refused("GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(5000, 'x'), 431);
  expect_refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100001\r\n\r\n", 413);
  std::string chunked = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 11; ++i)
    chunked += "2710\r\n" + std::string(10000, 'z') + "\r\n";
  chunked += "0\r\n\r\n";
  expect_refused(chunked, 413);
  EXPECT_EQ(backend.requests(), 0);
}

// Connection: close with nothing left unread: the answer whole, then a clean end (FIN,
// read as EOF), not a reset; veer closes at once rather than lingering (issue 18 cut
// the shutdown before that close). With bytes left unread it lingers instead: the
// 413s above, whose bodies veer never reads, still arrive whole.
TEST_P(Framing, ConnectionCloseEndsWithFinNotReset) {
  for (int i = 0; i < 20; ++i) {
    Client client(veer->port());
    ASSERT_TRUE(client.send("GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
    const auto r = client.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("Connection"), "close");
    char byte;
    const ssize_t n = ::recv(client.fd(), &byte, 1, 0);  // SO_RCVTIMEO bounds it
    EXPECT_EQ(n, 0) << "expected EOF, got " << n << " (" << std::strerror(errno) << ")";
  }
}

TEST_P(Framing, ChunkedRequestBodyArrivesIntact) {
  backend.record(true);
  Client client(veer->port());
  ASSERT_TRUE(
      client.send("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"));
  std::string expected;
  for (int i = 1; i <= 20; ++i) {
    const std::string piece(static_cast<std::size_t>(i * 97), static_cast<char>('a' + i % 26));
    expected += piece;
    char size[16];
    std::snprintf(size, sizeof size, "%zx", piece.size());
    // Each chunk in its own send: the body streams rather than arriving at once.
    ASSERT_TRUE(client.send(std::string(size) + ";ext=1\r\n" + piece + "\r\n"));
  }
  ASSERT_TRUE(client.send("0\r\nX-Trailer: t\r\n\r\n"));
  const auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  const auto seen = backend.recorded();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0].chunked);
  EXPECT_EQ(seen[0].body, expected);
  // The connection stays usable after a chunked request.
  EXPECT_EQ(client.get("/next")->status, 200);
}

TEST_P(Framing, ChunkedResponseArrivesIntact) {
  backend.set_handler([](const BackendRequest&) {
    return BackendReply{.stream_bytes = 3'000'000, .chunked = true, .chunk_size = 7919};
  });
  Client client(veer->port());
  const auto r = client.get("/");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->chunked);
  EXPECT_EQ(r->body_size, 3'000'000u);
  EXPECT_EQ(r->body_hash, pattern_hash(3'000'000));
  EXPECT_TRUE(r->keep_alive);
  EXPECT_EQ(client.get("/again")->body_size, 3'000'000u);
}

TEST_P(Framing, Http10ClientGetsChunkedResponseDecoded) {
  backend.set_handler([](const BackendRequest&) {
    return BackendReply{.stream_bytes = 100'000, .chunked = true, .chunk_size = 1000};
  });
  Client client(veer->port());
  ASSERT_TRUE(client.send("GET / HTTP/1.0\r\n\r\n"));
  const auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->chunked);
  EXPECT_EQ(r->count("Transfer-Encoding"), 0u);
  EXPECT_EQ(r->body_size, 100'000u);
  EXPECT_EQ(r->body_hash, pattern_hash(100'000));
}

TEST_P(Framing, BadChunkedRequestBodyIs400) {
  Client client(veer->port());
  ASSERT_TRUE(
      client.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "5\r\nhello\r\nzz\r\n"));
  const auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(client.wait_closed(2s));
}

TEST_P(Framing, InvalidBackendResponsesAre502) {
  for (const char* raw :
       {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", "garbage\r\n\r\n"}) {
    backend.set_handler([raw](const BackendRequest&) { return BackendReply{.raw = raw}; });
    const auto r = fetch(veer->port(), "GET", "/");
    ASSERT_TRUE(r) << raw;
    EXPECT_EQ(r->status, 502) << raw;
  }
}

INSTANTIATE_TEST_SUITE_P(Engines, Framing, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace veer::test
