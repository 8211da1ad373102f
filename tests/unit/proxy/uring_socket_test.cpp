// The native io_uring engine's socket and ring on their own (proxy/uring_*.cpp), on a
// ring made by the test thread: reading through provided buffers, more readable sockets
// than buffers, and every operation kind cancelled or closed while in flight, with the
// ring's count of operations in the kernel back at zero afterwards.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "app/engine.hpp"
#include "proxy/uring_ring.hpp"
#include "proxy/uring_socket.hpp"

namespace veer::proxy::uring {
namespace {

using namespace std::chrono_literals;

class UringSocket : public ::testing::Test {
 protected:
  void SetUp() override {
    const app::EngineProbe probe = app::probe_io_uring();
    if (!probe.usable) GTEST_SKIP() << "io_uring refused here: " << probe.reason;
    RingOptions options;
    options.entries = 256;
    options.buffers = 4;
    const std::string error = Ring::of(io_).setup(options);
    ASSERT_EQ(error, "");
    Ring::of(io_).start_on_this_thread();
  }

  // Runs the loop until `done` or 10 s pass.
  template <typename Done>
  bool run_until(Done done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(10ms);
      io_.restart();
    }
    return done();
  }

  // A connected pair: the engine's socket and the test's plain end.
  std::pair<Socket, int> pair() {
    int fds[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    Socket socket(io_);
    error_code ec;
    socket.assign(tcp::v4(), fds[0], ec);
    EXPECT_FALSE(ec);
    return {std::move(socket), fds[1]};
  }

  Ring& ring() { return Ring::of(io_); }

  asio::io_context io_;
};

// Reads `socket` until `want` bytes came, one async_read_some at a time.
struct Reader {
  Socket& socket;
  std::size_t want;
  std::string got;
  error_code error;
  std::array<char, 1000> buffer{};
  void start() {
    socket.async_read_some(asio::buffer(buffer), [this](const error_code& ec, std::size_t n) {
      got.append(buffer.data(), n);
      if (ec) {
        error = ec;
        return;
      }
      if (got.size() < want) start();
    });
  }
  bool done() const { return got.size() >= want || error; }
};

std::string pattern(std::size_t size, int seed) {
  std::string s(size, '\0');
  for (std::size_t i = 0; i < size; ++i)
    s[i] = static_cast<char>('a' + (i * 7 + static_cast<std::size_t>(seed)) % 26);
  return s;
}

TEST_F(UringSocket, ReadsThroughProvidedBuffersAndGivesThemBack) {
  auto [socket, peer] = pair();
  const std::string sent = pattern(10'000, 1);
  ASSERT_EQ(::write(peer, sent.data(), sent.size()), static_cast<ssize_t>(sent.size()));
  Reader reader{socket, sent.size()};
  reader.start();
  ASSERT_TRUE(run_until([&] { return reader.done(); }));
  EXPECT_FALSE(reader.error);
  EXPECT_EQ(reader.got, sent);
  EXPECT_EQ(ring().buffers_in_use(), 0u);
  ::close(peer);
  Reader eof{socket, 1};
  eof.start();
  ASSERT_TRUE(run_until([&] { return eof.done(); }));
  EXPECT_EQ(eof.error, asio::error::eof);
}

// 64 sockets with 8 KiB each to read and 4 buffers of 4 KiB in the ring: receives end
// with ENOBUFS and must start again as buffers come back, with every byte in order.
TEST_F(UringSocket, MoreReadableSocketsThanBuffersLoseNothingAndStallNothing) {
  constexpr int kSockets = 64;
  constexpr std::size_t kBytes = 8192;
  std::vector<std::unique_ptr<Socket>> sockets;
  std::vector<int> peers;
  std::vector<std::unique_ptr<Reader>> readers;
  for (int i = 0; i < kSockets; ++i) {
    auto [socket, peer] = pair();
    sockets.push_back(std::make_unique<Socket>(std::move(socket)));
    peers.push_back(peer);
    const std::string data = pattern(kBytes, i);
    ASSERT_EQ(::write(peer, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
  for (int i = 0; i < kSockets; ++i) {
    readers.push_back(std::make_unique<Reader>(Reader{*sockets[i], kBytes}));
    readers.back()->start();
  }
  ASSERT_TRUE(run_until([&] {
    for (const auto& r : readers)
      if (!r->done()) return false;
    return true;
  }));
  for (int i = 0; i < kSockets; ++i) {
    EXPECT_FALSE(readers[i]->error) << i;
    EXPECT_EQ(readers[i]->got, pattern(kBytes, i)) << i;
  }
  EXPECT_EQ(ring().buffers_in_use(), 0u);
  sockets.clear();
  EXPECT_TRUE(run_until([&] { return ring().operations() == 0; }));
  for (int fd : peers)
    ::close(fd);
}

TEST_F(UringSocket, CancelledReadCompletesAbortedAndReadingGoesOn) {
  auto [socket, peer] = pair();
  error_code first;
  bool called = false;
  std::array<char, 64> buffer{};
  socket.async_read_some(asio::buffer(buffer), [&](const error_code& ec, std::size_t) {
    first = ec;
    called = true;
  });
  io_.poll();  // the receive is in the kernel now
  error_code ignored;
  socket.cancel(ignored);
  ASSERT_TRUE(run_until([&] { return called; }));
  EXPECT_EQ(first, asio::error::operation_aborted);
  ASSERT_EQ(::write(peer, "abc", 3), 3);
  Reader reader{socket, 3};
  reader.start();
  ASSERT_TRUE(run_until([&] { return reader.done(); }));
  EXPECT_EQ(reader.got, "abc");
  ::close(peer);
}

// A send the peer never reads stays in the kernel; closing the socket ends it aborted,
// and the state goes only after the kernel let go of it.
TEST_F(UringSocket, ClosedWhileSendingAndWaitingForWritability) {
  auto [socket, peer] = pair();
  const std::string big(8 << 20, 'x');
  error_code sent_error;
  bool sent = false;
  socket.async_write_all(asio::buffer(big), [&](const error_code& ec, std::size_t) {
    sent_error = ec;
    sent = true;
  });
  for (int i = 0; i < 5; ++i)
    io_.poll();
  EXPECT_FALSE(sent) << "8 MiB cannot fit in an unread socket pair";
  EXPECT_GT(ring().operations(), 0u);
  error_code ignored;
  socket.close(ignored);
  ASSERT_TRUE(run_until([&] { return sent; }));
  EXPECT_EQ(sent_error, asio::error::operation_aborted);
  EXPECT_TRUE(run_until([&] { return ring().operations() == 0; }));

  // The same for a wait for writability on a full socket.
  auto [second, peer2] = pair();
  std::string filler(1 << 16, 'y');
  error_code ec;
  while (second.write_some(asio::buffer(filler), ec) > 0) {
  }
  ASSERT_EQ(ec, asio::error::would_block);
  bool waited = false;
  error_code wait_error;
  second.async_wait(tcp::socket::wait_write, [&](const error_code& e) {
    wait_error = e;
    waited = true;
  });
  io_.poll();
  second.cancel(ignored);
  ASSERT_TRUE(run_until([&] { return waited; }));
  EXPECT_EQ(wait_error, asio::error::operation_aborted);
  ::close(peer);
  ::close(peer2);
  EXPECT_TRUE(run_until([&] { return ring().operations() == 0; }));
}

// A listener that never accepts, with a backlog already full: the next connect's SYN
// is dropped, so the CONNECT stays in the kernel until the socket is closed.
TEST_F(UringSocket, ClosedWhileConnecting) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 0), 0);
  socklen_t length = sizeof address;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length);
  const tcp::endpoint endpoint(asio::ip::make_address_v4("127.0.0.1"), ntohs(address.sin_port));

  std::vector<std::unique_ptr<Socket>> sockets;
  std::vector<int> outcomes(8, -1);  // -1 pending, 0 connected, 1 failed
  for (int i = 0; i < 8; ++i) {
    sockets.push_back(std::make_unique<Socket>(io_));
    sockets.back()->async_connect(
        endpoint, [&outcomes, i](const error_code& ec) { outcomes[i] = ec ? 1 : 0; });
  }
  for (int i = 0; i < 20; ++i)
    io_.run_for(5ms), io_.restart();
  int pending = 0;
  for (int o : outcomes)
    pending += o == -1 ? 1 : 0;
  ASSERT_GT(pending, 0) << "every connect completed: the backlog did not hold them";
  sockets.clear();  // closes every socket, pending connects included
  ASSERT_TRUE(run_until([&] {
    for (int o : outcomes)
      if (o == -1) return false;
    return true;
  }));
  EXPECT_TRUE(run_until([&] { return ring().operations() == 0; }));
  ::close(listener);
}

// A socket whose handle goes while its receive is armed and data is queued: the
// buffers go back and the state is freed after the kernel's last completion.
TEST_F(UringSocket, HandleDestroyedWithEverythingInFlight) {
  int completions = 0;
  for (int round = 0; round < 50; ++round) {
    auto [socket, peer] = pair();
    ASSERT_EQ(::write(peer, "0123456789", 10), 10);
    static std::array<char, 4> small{};
    socket.async_read_some(asio::buffer(small),
                           [&completions](const error_code&, std::size_t) { ++completions; });
    io_.poll();
    { Socket doomed = std::move(socket); }
    ::close(peer);
  }
  EXPECT_TRUE(run_until([&] { return ring().operations() == 0 && completions == 50; }));
  EXPECT_EQ(completions, 50);  // every handler ran once: with the bytes, or aborted
  EXPECT_EQ(ring().buffers_in_use(), 0u);
}

}  // namespace
}  // namespace veer::proxy::uring
