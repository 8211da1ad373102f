// `veer ctl`'s HTTP client against loopback servers that answer with exact bytes: every
// framing an answer can have, a server that keeps the connection open after answering
// (the client must not wait for the close), and servers too slow to answer (a short
// timeout given to the client; nothing here sleeps).
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/write.hpp>
#include <future>
#include <thread>

#include "admin/ctl_client.hpp"
#include "support/test_backend.hpp"

namespace veer::admin {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using namespace std::chrono_literals;

// One connection on 127.0.0.1: reads the request's head, sends `answer` exactly (nothing
// when it is empty), then keeps the connection open until the client closes it. Runs on
// its own thread; the destructor stops it wherever it is.
class RawServer {
 public:
  explicit RawServer(std::string answer) : answer_(std::move(answer)) {
    acceptor_.async_accept(socket_, [this](error_code ec) {
      if (!ec) read_head();
    });
    thread_ = std::thread([this] { io_.run(); });
  }
  ~RawServer() {
    io_.stop();
    thread_.join();
  }
  RawServer(const RawServer&) = delete;
  RawServer& operator=(const RawServer&) = delete;

  conf::SocketAddress address() const {
    std::string why;
    const conf::HostPort host_port{"127.0.0.1", acceptor_.local_endpoint().port()};
    return conf::resolve(host_port, &why).value();
  }
  // The request's head as received; "" when none came within 5 s.
  std::string head() {
    auto head = head_.get_future();
    return head.wait_for(5s) == std::future_status::ready ? head.get() : "";
  }

 private:
  void read_head() {
    asio::async_read_until(socket_, asio::dynamic_buffer(request_), "\r\n\r\n",
                           [this](error_code ec, std::size_t length) {
                             if (ec) return;
                             head_.set_value(request_.substr(0, length));
                             if (answer_.empty()) return hold();
                             asio::async_write(socket_, asio::buffer(answer_),
                                               [this](error_code, std::size_t) { hold(); });
                           });
  }
  // Reads (and drops) until the client closes.
  void hold() {
    socket_.async_read_some(asio::buffer(byte_), [this](error_code ec, std::size_t) {
      if (!ec) hold();
    });
  }

  std::string answer_;
  std::string request_;
  char byte_[1] = {};
  std::promise<std::string> head_;
  asio::io_context io_;
  tcp::acceptor acceptor_{io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  tcp::socket socket_{io_};
  std::thread thread_;  // last: started once the rest exists
};

struct Called {
  std::optional<CtlReply> reply;
  std::string why;
};

// A GET of /api/v1/pools with `timeout` for each wait: 5 s where nothing should time
// out (a client that waited for the close would, and fail).
Called call(const conf::SocketAddress& address, std::chrono::milliseconds timeout = 5s,
            const CtlRequest& request = {"GET", "/api/v1/pools", ""}) {
  Called called;
  called.reply = CtlClient(address, "secret", timeout).call(request, &called.why);
  return called;
}

TEST(CtlClient, ReadsAChunkedAnswerWithoutWaitingForTheClose) {
  RawServer server(
      "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
      "4\r\n{\"ve\r\n"
      "b;name=value\r\nrsion\": 7}\n\r\n"
      "0\r\nX-Trailer: t\r\n\r\n");
  const Called called = call(server.address());
  ASSERT_TRUE(called.reply) << called.why;
  EXPECT_EQ(called.reply->status, 200);
  EXPECT_EQ(called.reply->body, "{\"version\": 7}\n") << "the chunks joined, no framing left";
}

TEST(CtlClient, ReadsAContentLengthAnswerWithoutWaitingForTheClose) {
  RawServer server("HTTP/1.1 404 Not Found\r\nContent-Length: 11\r\n\r\nnot found\r\n");
  const Called called = call(server.address());
  ASSERT_TRUE(called.reply) << called.why;
  EXPECT_EQ(called.reply->status, 404);
  EXPECT_EQ(called.reply->body, "not found\r\n");
}

TEST(CtlClient, ReadsAnAnswerThatEndsWithTheConnection) {
  veer::test::TestBackend backend("admin", [](const veer::test::BackendRequest&) {
    return veer::test::BackendReply{.status = 201, .body = "until close", .close_delimited = true};
  });
  std::string why;
  const auto address = conf::resolve(conf::HostPort{"127.0.0.1", backend.port()}, &why);
  ASSERT_TRUE(address) << why;
  const Called called = call(*address);
  ASSERT_TRUE(called.reply) << called.why;
  EXPECT_EQ(called.reply->status, 201);
  EXPECT_EQ(called.reply->body, "until close");
}

TEST(CtlClient, SendsTheTokenTheLengthAndJsonForAMutation) {
  RawServer server("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  const Called called =
      call(server.address(), 5s, {"DELETE", "/api/v1/pools/main/backends/127.0.0.1:9", ""});
  ASSERT_TRUE(called.reply) << called.why;
  EXPECT_EQ(called.reply->body, "");
  const std::string head = server.head();
  EXPECT_EQ(head.rfind("DELETE /api/v1/pools/main/backends/127.0.0.1:9 HTTP/1.1\r\n", 0), 0u)
      << head;
  for (const char* field :
       {"Host: veer\r\n", "Authorization: Bearer secret\r\n", "Content-Type: application/json\r\n",
        "Content-Length: 0\r\n", "Connection: close\r\n"})
    EXPECT_NE(head.find(field), std::string::npos) << field << " in\n" << head;
}

TEST(CtlClient, AServerThatNeverAnswersTimesOut) {
  RawServer server("");
  const auto start = std::chrono::steady_clock::now();
  const Called called = call(server.address(), 200ms);
  EXPECT_FALSE(called.reply);
  EXPECT_NE(called.why.find("timed out after 200 ms"), std::string::npos) << called.why;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(CtlClient, AnAnswerCutShortByTheTimeoutIsNotTakenForAWholeOne) {
  // Without a length the body ends with the connection, and the timeout's shutdown
  // looks like that end: the client must still call it a timeout.
  for (const char* partial :
       {"HTTP/1.1 200 OK\r\n\r\n{\"vers", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"vers",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{\"vers",
        "HTTP/1.1 200 OK\r\nContent-"}) {
    RawServer server(partial);
    const Called called = call(server.address(), 200ms);
    EXPECT_FALSE(called.reply) << partial;
    EXPECT_NE(called.why.find("no complete answer from 127.0.0.1:"), std::string::npos)
        << called.why;
    EXPECT_NE(called.why.find("timed out after 200 ms"), std::string::npos) << called.why;
  }
}

TEST(CtlClient, ABodyOverTheLimitIsRefused) {
  std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: ";
  answer.append(std::to_string(CtlClient::kMaxBody + 1)).append("\r\n\r\n");
  RawServer server(answer);
  const Called called = call(server.address());
  EXPECT_FALSE(called.reply);
  EXPECT_NE(called.why.find("larger than 64 MiB"), std::string::npos) << called.why;
}

TEST(CtlClient, NotHttpAndNoServerAreErrors) {
  {
    RawServer server("SSH-2.0-OpenSSH_9.2\r\n\r\n");
    const Called called = call(server.address());
    EXPECT_FALSE(called.reply);
    EXPECT_NE(called.why.find("not an HTTP answer from 127.0.0.1:"), std::string::npos)
        << called.why;
  }
  conf::SocketAddress closed;
  {
    RawServer gone("");
    closed = gone.address();
  }  // its port is closed now
  const Called called = call(closed);
  EXPECT_FALSE(called.reply);
  EXPECT_NE(called.why.find("cannot connect to " + closed.to_string()), std::string::npos)
      << called.why;
}

TEST(CtlClient, AControlCharacterInThePathOrTokenIsRefusedBeforeSending) {
  RawServer server("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}");
  const Called injected = call(server.address(), 5s, {"GET", "/api/v1/pools\r\nX-Injected: 1", ""});
  EXPECT_FALSE(injected.reply);
  EXPECT_NE(injected.why.find("control characters"), std::string::npos) << injected.why;
  std::string why;
  EXPECT_FALSE(CtlClient(server.address(), "secret\n", 5s).call({"GET", "/api/v1", ""}, &why));
  EXPECT_NE(why.find("control characters"), std::string::npos) << why;
  const Called clean = call(server.address());
  ASSERT_TRUE(clean.reply) << clean.why;
  EXPECT_EQ(clean.reply->status, 200);
}

}  // namespace
}  // namespace veer::admin
