// The I/O engines themselves, black box, on both binaries (issue 18): thousands of
// connections opening and closing at once (multishot accept and receive), more readable
// connections than provided receive buffers, every kind of operation cancelled while in
// flight (upstream connect, upstream read, blocked client write, timed-out reads, TLS),
// SIGTERM draining thousands of idle connections, and the descriptor limit reached.
// After each scenario veer must hold no descriptor more than before and still answer.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <iostream>

#include "support/admin_client.hpp"
#include "support/black_hole.hpp"
#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/many_clients.hpp"
#include "support/poll.hpp"
#include "support/test_backend.hpp"
#include "support/test_pki.hpp"
#include "support/tls_client.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

using Clock = std::chrono::steady_clock;
using State = ManyOutcome::State;
using testing::IssuedCert;
using testing::TestPki;

// Descriptors veer may hold above its settled count without a leak: a worker may still
// be closing the last socket of a scenario when it is counted.
constexpr std::size_t kFdSlack = 3;
// Sanitizer builds run veer two to four times slower.
constexpr int kSlow = kSanitizerBuild ? 4 : 1;
// The large response of the blocked-writer scenarios: far above what the kernel buffers
// on loopback (client receive buffer plus veer's send buffer), so veer's write waits.
constexpr std::uint64_t kLargeResponse = 32ull << 20;
// The client receive buffer of those scenarios, and how much unread data in it shows
// that its window is closed (the kernel doubles SO_RCVBUF for its own overhead).
constexpr int kSmallReceiveBuffer = 64 << 10;
constexpr int kWindowFilled = 32 << 10;

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

std::size_t open_fds(pid_t pid) {
  std::size_t n = 0;
  std::error_code error;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", error), end;
       !error && it != end; it.increment(error))
    ++n;
  return n;
}

// The test backend: /echo returns the request body, /slow answers after a second, /big
// streams kLargeResponse bytes, /hang never answers; anything else answers "engine".
BackendReply engine_reply(const BackendRequest& request) {
  BackendReply reply;
  if (request.target == "/echo") {
    reply.body = request.body;
  } else if (request.target == "/slow") {
    reply.delay = 1s;
    reply.body = "slow";
  } else if (request.target == "/big") {
    reply.stream_bytes = kLargeResponse;
  } else if (request.target == "/hang") {
    reply.hang = true;
  } else {
    reply.body = "engine";
  }
  return reply;
}

std::string get_request(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

const char* state_name(State state) {
  switch (state) {
    case State::connecting:
      return "connecting";
    case State::sending:
      return "sending";
    case State::reading:
      return "reading";
    case State::answered:
      return "answered";
    case State::closed:
      return "closed";
  }
  return "?";
}

// "N answered 200, M closed (first errors: ...)" for failure messages.
std::string describe(const ManyClients& clients) {
  std::string text = std::to_string(clients.answered_with(200)) + " answered 200, " +
                     std::to_string(clients.count(State::answered)) + " answered, " +
                     std::to_string(clients.count(State::closed)) + " closed, " +
                     std::to_string(clients.count(State::connecting) +
                                    clients.count(State::sending) + clients.count(State::reading)) +
                     " unfinished; first odd ones:";
  int shown = 0;
  for (std::size_t i = 0; i < clients.size() && shown < 5; ++i) {
    const ManyOutcome& o = clients.outcome(i);
    if (o.state == State::answered && o.status == 200) continue;
    ++shown;
    text += " #" + std::to_string(i) + " " + state_name(o.state) + " status " +
            std::to_string(o.status) + " errno " + std::to_string(o.error) + " body \"" +
            o.body.substr(0, 80) + "\";";
  }
  return text;
}

// A connected plain socket whose receive buffer is small, so a large response soon
// stops veer's writes to it; -1 on failure.
int connect_small_window(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSmallReceiveBuffer, sizeof kSmallReceiveBuffer);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True once `fd` holds at least `bytes` unread bytes (within 10 s).
bool unread_at_least(int fd, int bytes) {
  return poll_until(
      [&] {
        int unread = 0;
        return ::ioctl(fd, FIONREAD, &unread) == 0 && unread >= bytes;
      },
      10s * kSlow);
}

bool send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// A TLS ClientHello as a real client sends it (OpenSSL, through memory BIOs), to send
// whole or in part on a plain socket and then stop in the middle of the handshake.
std::string client_hello() {
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(context);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  SSL_set_tlsext_host_name(ssl, "localhost");
  SSL_set_connect_state(ssl);
  SSL_do_handshake(ssl);  // wants the server's answer: the hello is in `out`
  char* data = nullptr;
  const long size = BIO_get_mem_data(out, &data);
  std::string hello(data, static_cast<std::size_t>(std::max(size, 0L)));
  SSL_free(ssl);
  SSL_CTX_free(context);
  return hello;
}

// A TLS client on a small-window socket that asks for /big and then reads nothing.
// Returns false when the handshake or the request failed.
bool tls_request_big_and_stop_reading(std::uint16_t port, int* fd_out) {
  const int fd = connect_small_window(port);
  if (fd < 0) return false;
  *fd_out = fd;
  SSL_CTX* context = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(context);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, "localhost");
  timeval timeout{5 * kSlow, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  const std::string request = get_request("/big");
  const bool ok =
      SSL_connect(ssl) == 1 && SSL_write(ssl, request.data(), static_cast<int>(request.size())) > 0;
  SSL_free(ssl);  // leaves the socket open: the test closes it
  SSL_CTX_free(context);
  return ok;
}

class Engine : public ::testing::TestWithParam<std::string> {
 protected:
  // Thousands of client sockets here, as many upstream ones in the test backend.
  static void SetUpTestSuite() { open_file_limit_ = raise_open_file_limit(); }
  static void expect_room_for(std::size_t connections) {
    ASSERT_GE(open_file_limit_, 2 * connections + 256)
        << "the hard open file limit of the test process is too low";
  }
  static inline std::uint64_t open_file_limit_ = 0;

  // No pooled upstream connections, so that veer's descriptors are only those a
  // scenario's exchanges hold and return to the same count after each.
  TestConfig config() const {
    TestConfig c{.backends = {backend.address()}, .io_engine = GetParam()};
    c.limits = "max_idle_upstream = 0";
    return c;
  }

  std::unique_ptr<VeerProcess> start(const TestConfig& c, VeerOptions options = {}) {
    auto veer = std::make_unique<VeerProcess>(c.toml(), std::move(options));
    EXPECT_TRUE(veer->wait_ready(10s * kSlow)) << veer->log_text();
    return veer;
  }

  // veer's descriptor count once it has answered a few requests and closed their
  // connections (the count when it was ready, unless a worker opened something lazily).
  static std::size_t settled_fds(VeerProcess& veer) {
    const std::size_t ready = open_fds(veer.pid());
    for (int i = 0; i < 4; ++i) {
      const auto r = fetch(veer.port(), "GET", "/warm-up");
      EXPECT_TRUE(r && r->status == 200) << veer.log_text();
    }
    // veer closes its side of each warm-up connection once it reads the client's close.
    poll_until([&] { return open_fds(veer.pid()) <= ready; }, 2s);
    return open_fds(veer.pid());
  }

  // veer goes back to `before` descriptors (within kFdSlack) and answers a request.
  static void expect_nothing_held(VeerProcess& veer, std::size_t before, const char* scenario) {
    EXPECT_TRUE(poll_until([&] { return open_fds(veer.pid()) <= before + kFdSlack; }, 10s * kSlow))
        << scenario << ": veer holds " << open_fds(veer.pid()) << " descriptors, " << before
        << " before";
    const auto r = fetch(veer.port(), "GET", "/after");
    ASSERT_TRUE(r) << scenario << ": veer stopped answering\n" << veer.log_text();
    EXPECT_EQ(r->status, 200) << scenario;
    EXPECT_EQ(r->body, "engine") << scenario;
  }

  static void expect_prompt_exit(VeerProcess& veer) {
    const auto start = Clock::now();
    veer.signal(SIGTERM);
    EXPECT_EQ(veer.wait_exit(5s * kSlow), 0) << veer.log_text();
    std::cout << "[ figures  ] SIGTERM to exit: " << since(start).count() << " ms\n";
  }

  TestBackend backend{"engine", engine_reply};
};

TEST_P(Engine, ManyConnectionsOpenAndCloseAtOnce) {
  constexpr std::size_t kConnections = 2000;
  ASSERT_NO_FATAL_FAILURE(expect_room_for(kConnections));
  auto veer = start(config());
  const std::size_t before = settled_fds(*veer);
  for (int round = 0; round < 2; ++round) {
    ManyClients clients(veer->port(), kConnections);
    for (std::size_t i = 0; i < kConnections; ++i)
      clients.set_request(i, get_request("/many/" + std::to_string(i)));
    const auto start = Clock::now();
    ASSERT_TRUE(clients.run(60s * kSlow)) << "round " << round << ": " << describe(clients);
    std::cout << "[ figures  ] round " << round << ": " << kConnections
              << " connections answered in " << since(start).count() << " ms\n";
    EXPECT_EQ(clients.answered_with(200), kConnections)
        << "round " << round << ": " << describe(clients);
    for (std::size_t i = 0; i < kConnections; ++i)
      ASSERT_EQ(clients.outcome(i).body, "engine") << "round " << round << " connection " << i;
  }  // every connection closes here, at once
  expect_nothing_held(*veer, before, "2 x 2,000 connections");
  expect_prompt_exit(*veer);
}

TEST_P(Engine, MoreReadableConnectionsThanBuffers) {
  constexpr std::size_t kConnections = 300;
  constexpr std::size_t kBodyBytes = 64 << 10;
  TestConfig c = config();
  c.workers = 1;  // all 300 connections on the one worker's 8 buffers
  // The native engine's provided receive buffers per worker; epoll has no such key.
  if (GetParam() == "io_uring") c.server_keys = "io_uring_buffers = 8";
  auto veer = start(c);
  ASSERT_NE(veer->port(), 0) << veer->log_text();
  ManyClients clients(veer->port(), kConnections);
  std::vector<std::string> bodies(kConnections, std::string(kBodyBytes, '\0'));
  for (std::size_t i = 0; i < kConnections; ++i) {
    // Each body its own (a pattern at another offset): a body sent back on the wrong
    // connection, or pieces of two mixed, do not compare equal.
    fill_pattern(i * 7919, bodies[i].data(), kBodyBytes);
    clients.set_request(i, "POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " +
                               std::to_string(kBodyBytes) + "\r\n\r\n" + bodies[i]);
  }
  // Every connection open first, then all 300 bodies arrive at once.
  ASSERT_TRUE(clients.connect_all(10s * kSlow)) << describe(clients);
  const auto start = Clock::now();
  ASSERT_TRUE(clients.run(30s * kSlow)) << "stalled: " << describe(clients);
  std::cout << "[ figures  ] " << kConnections << " x 64 KiB echoed in " << since(start).count()
            << " ms\n";
  EXPECT_EQ(clients.answered_with(200), kConnections) << describe(clients);
  for (std::size_t i = 0; i < kConnections; ++i) {
    ASSERT_EQ(clients.outcome(i).body.size(), kBodyBytes) << "connection " << i;
    ASSERT_TRUE(clients.outcome(i).body == bodies[i]) << "connection " << i << ": body differs";
  }
  expect_prompt_exit(*veer);
}

// (a) Clients that leave while veer waits for the backend's response.
TEST_P(Engine, CancelsUpstreamReadWhenClientLeaves) {
  auto veer = start(config());
  const std::size_t before = settled_fds(*veer);
  const int seen = backend.requests();
  {
    std::vector<Client> clients;
    for (int i = 0; i < 10; ++i) {
      clients.emplace_back(veer->port());
      ASSERT_TRUE(clients.back().send(get_request("/slow")));
    }
    // The backend holds all ten requests: veer's upstream reads are in flight.
    ASSERT_TRUE(poll_until([&] { return backend.requests() >= seen + 10; }, 5s * kSlow));
  }  // the ten clients close
  expect_nothing_held(*veer, before, "client left during the upstream wait");
  expect_prompt_exit(*veer);
}

// (b) Clients that ask for a large response, read none of it, and close.
TEST_P(Engine, CancelsBlockedWriteWhenClientLeaves) {
  auto veer = start(config());
  const std::size_t before = settled_fds(*veer);
  std::vector<int> fds;
  for (int i = 0; i < 5; ++i) {
    const int fd = connect_small_window(veer->port());
    ASSERT_GE(fd, 0);
    fds.push_back(fd);
    ASSERT_TRUE(send_all(fd, get_request("/big")));
  }
  // Each window is full: veer's writes to the clients wait, its upstream reads stop.
  for (int fd : fds)
    EXPECT_TRUE(unread_at_least(fd, kWindowFilled)) << veer->log_text();
  for (int fd : fds)
    ::close(fd);  // with unread data: a reset
  expect_nothing_held(*veer, before, "client left with a write pending");
  expect_prompt_exit(*veer);
}

// (c) An upstream connect in flight when the client leaves, then one that times out.
TEST_P(Engine, CancelsUpstreamConnectInFlight) {
  BlackHole hole;
  TestConfig c = config();
  c.timeouts = "upstream_connect = \"1s\"";
  // A first route to the unreachable pool; the default one still reaches the backend.
  c.listener_keys =
      "  [[listeners.public.routes]]\n  path_prefix = \"/dead/\"\n"
      "  target = \"dead\"";
  c.extra = "[pools.dead]\nbackends = [\"" + hole.address() + "\"]\n";
  auto veer = start(c);
  const std::size_t before = settled_fds(*veer);
  {
    Client client(veer->port());
    ASSERT_TRUE(client.send(get_request("/dead/leave")));
    // The client's socket and the upstream one: the connect is in flight.
    ASSERT_TRUE(poll_until([&] { return open_fds(veer->pid()) >= before + 2; }, 5s * kSlow))
        << "veer holds " << open_fds(veer->pid()) << " descriptors, " << before << " before";
  }
  expect_nothing_held(*veer, before, "client left during the upstream connect");
  const auto start = Clock::now();
  const auto r = fetch(veer->port(), "GET", "/dead/wait");
  const auto took = since(start);
  ASSERT_TRUE(r) << veer->log_text();
  EXPECT_EQ(r->status, 504) << r->body;
  EXPECT_GE(took.count(), 900);
  EXPECT_LT(took.count(), 5000 * kSlow);
  expect_nothing_held(*veer, before, "upstream connect timed out");
  expect_prompt_exit(*veer);
}

// (d) Timeouts cancel reads: a head that stops half way, a backend that never answers.
TEST_P(Engine, CancelsReadsOnTimeouts) {
  TestConfig c = config();
  c.timeouts = "client_header = \"300ms\"\nupstream_response = \"500ms\"";
  auto veer = start(c);
  const std::size_t before = settled_fds(*veer);
  {
    Client client(veer->port());
    const auto start = Clock::now();
    ASSERT_TRUE(client.send("GET /half HTTP/1.1\r\nHost: 127.0"));
    EXPECT_TRUE(client.wait_closed(5s * kSlow)) << "a half-sent head was not cut off";
    EXPECT_GE(since(start).count(), 250);
  }
  expect_nothing_held(*veer, before, "client_header expired");
  const auto start = Clock::now();
  const auto r = fetch(veer->port(), "GET", "/hang");
  const auto took = since(start);
  ASSERT_TRUE(r) << veer->log_text();
  EXPECT_EQ(r->status, 504) << r->body;
  EXPECT_GE(took.count(), 450);
  EXPECT_LT(took.count(), 3000 * kSlow);
  expect_nothing_held(*veer, before, "upstream_response expired");
  expect_prompt_exit(*veer);
}

// (e) TLS: clients that stop in the middle of the handshake, and one that stops
// reading in the middle of a response.
TEST_P(Engine, CancelsTlsHandshakeAndWrite) {
  TestPki pki;
  const IssuedCert server = pki.issue("server");
  TestConfig c = config();
  c.listener_tls = "{ cert = \"" + server.cert + "\", key = \"" + server.key + "\" }";
  auto veer = start(c);
  const std::uint16_t port = veer->port();
  TlsClient warm(port, TlsClientOptions{.ca_file = pki.ca_file()});
  ASSERT_TRUE(warm.handshake()) << warm.error() << veer->log_text();
  const auto first = warm.request("GET", "/warm-up");
  ASSERT_TRUE(first && first->status == 200);
  const std::size_t before = open_fds(veer->pid());
  const std::string hello = client_hello();
  ASSERT_GT(hello.size(), 100u);
  {
    Client half(port);  // half a ClientHello: veer's handshake read waits for the rest
    ASSERT_TRUE(half.send(hello.substr(0, hello.size() / 2)));
    Client whole(port);  // a whole one: veer answers and waits for the client's Finished
    ASSERT_TRUE(whole.send(hello));
    pollfd answered{whole.fd(), POLLIN, 0};
    EXPECT_EQ(::poll(&answered, 1, 5000 * kSlow), 1) << "no ServerHello";
  }
  int fd = -1;
  const bool asked = tls_request_big_and_stop_reading(port, &fd);
  if (fd >= 0 && asked) {
    EXPECT_TRUE(unread_at_least(fd, kWindowFilled));
  }
  if (fd >= 0) ::close(fd);
  ASSERT_TRUE(asked) << veer->log_text();
  EXPECT_TRUE(poll_until([&] { return open_fds(veer->pid()) <= before + kFdSlack; }, 10s * kSlow))
      << "veer holds " << open_fds(veer->pid()) << " descriptors, " << before << " before";
  const auto again = warm.request("GET", "/after");
  ASSERT_TRUE(again) << veer->log_text();
  EXPECT_EQ(again->status, 200);
  expect_prompt_exit(*veer);
}

TEST_P(Engine, SigtermDrainsThousandsOfIdleConnections) {
  constexpr std::size_t kConnections = 3000;
  ASSERT_NO_FATAL_FAILURE(expect_room_for(kConnections));
  TestConfig c = config();
  c.timeouts = "drain = \"10s\"";
  auto veer = start(c);
  ManyClients clients(veer->port(), kConnections);
  for (std::size_t i = 0; i < kConnections; ++i)
    clients.set_request(i, get_request("/idle/" + std::to_string(i)));
  ASSERT_TRUE(clients.run(60s * kSlow)) << describe(clients);
  ASSERT_EQ(clients.answered_with(200), kConnections) << describe(clients);
  // 3,000 idle keep-alive connections now.
  const auto start = Clock::now();
  veer->signal(SIGTERM);
  const std::size_t closed = clients.wait_all_closed(10s);
  const auto all_closed = since(start);
  EXPECT_EQ(closed, kConnections) << "connections veer left open after SIGTERM";
  const auto status = veer->wait_exit(12s * kSlow);
  const auto exited = since(start);
  std::cout << "[ figures  ] " << kConnections << " idle connections closed in "
            << all_closed.count() << " ms, exit after " << exited.count() << " ms\n";
  EXPECT_EQ(status, 0) << veer->log_text();
  EXPECT_LT(exited.count(), 10'000 * kSlow) << "longer than the drain timeout";
}

// A keep-alive connection idle for a second parks: it gives back its read buffer and its
// exchange state, and takes them again when the client speaks. Parked connections
// serve GETs and POSTs again, are closed by client_idle, and close at once on SIGTERM.
TEST_P(Engine, ParkedConnectionsServeAgainAndClose) {
  constexpr std::size_t kClients = 40;
  TestConfig c = config();
  c.timeouts = "client_idle = \"3s\"";
  Admin admin = start_with_admin(c);
  VeerProcess* veer = admin.veer.get();
  ASSERT_NE(veer->port(), 0) << veer->log_text();
  // Each connection parks after a second of quiet; the worker counts it.
  const auto wait_parked = [&](double count) {
    return poll_until(
        [&] {
          const auto metrics = admin.call("GET", "/metrics");
          return metrics &&
                 sample(metrics->body, "veer_client_connections_parked_total").value_or(0) >= count;
        },
        5s * kSlow);
  };
  Client lone(veer->port());  // parks once, then client_idle closes it
  ASSERT_EQ(lone.get("/lone")->status, 200);
  const auto lone_idle_since = Clock::now();
  std::vector<std::unique_ptr<Client>> clients;
  for (std::size_t i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<Client>(veer->port()));
    ASSERT_EQ(clients.back()->get("/first/" + std::to_string(i))->body, "engine");
  }
  const std::string body(10'000, 'p');
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(wait_parked(1.0 + kClients * (round + 1))) << "round " << round;
    for (std::size_t i = 0; i < kClients; ++i) {
      const auto r = i % 2 == 0 ? clients[i]->get("/again/" + std::to_string(i))
                                : clients[i]->request("POST", "/echo", body);
      ASSERT_TRUE(r) << "round " << round << ", client " << i << "\n" << veer->log_text();
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, i % 2 == 0 ? "engine" : body);
    }
  }
  EXPECT_TRUE(lone.wait_closed(5s * kSlow)) << "client_idle did not close a parked connection";
  EXPECT_GE(since(lone_idle_since).count(), 2900) << "closed before client_idle";
  ASSERT_TRUE(wait_parked(1.0 + kClients * 3));
  const auto start = Clock::now();
  veer->signal(SIGTERM);
  for (auto& client : clients)
    EXPECT_TRUE(client->wait_closed(5s * kSlow)) << "a parked connection outlived SIGTERM";
  EXPECT_EQ(veer->wait_exit(5s * kSlow), 0) << veer->log_text();
  std::cout << "[ figures  ] " << kClients << " parked connections closed, exit after "
            << since(start).count() << " ms\n";
}

TEST_P(Engine, DescriptorLimitReached) {
  constexpr std::size_t kConnections = 400;
  constexpr unsigned kOpenFileLimit = 200;
  TestConfig c = config();
  // Answered connections go idle and keep their descriptors until client_idle closes
  // them, which lets the ones waiting in the listen queue in.
  c.timeouts = "client_idle = \"1s\"";
  auto veer = start(c, VeerOptions{.open_file_limit = kOpenFileLimit});
  ASSERT_NE(veer->port(), 0) << veer->log_text();
  {
    ManyClients clients(veer->port(), kConnections);
    for (std::size_t i = 0; i < kConnections; ++i)
      clients.set_request(i, get_request("/limit/" + std::to_string(i)));
    const auto start = Clock::now();
    // Not one hangs: each is answered, refused or closed within the bound.
    ASSERT_TRUE(clients.run(60s * kSlow)) << describe(clients);
    std::cout << "[ figures  ] " << kConnections << " connections at " << kOpenFileLimit
              << " descriptors: " << describe(clients) << " in " << since(start).count() << " ms\n";
    // Each worker takes clients only while its share of the limit has room for them and
    // their backend connections: the others wait in the listen queue, none is refused.
    EXPECT_EQ(clients.answered_with(200), kConnections) << describe(clients);
    std::string pause_line;
    EXPECT_TRUE(veer->wait_for_line(
        [&](const std::string& line) {
          const bool found = line.find("accepts") != std::string::npos &&
                             line.find("pausing") != std::string::npos;
          if (found) pause_line = line;
          return found;
        },
        5s))
        << "no accept pause logged:\n"
        << veer->log_text();
    std::cout << "[ figures  ] logged: " << pause_line << "\n";
    EXPECT_FALSE(veer->wait_exit(0ms)) << "veer exited:\n" << veer->log_text();
  }  // the clients close
  const auto start = Clock::now();
  EXPECT_TRUE(poll_until(
      [&] {
        const auto r = fetch(veer->port(), "GET", "/again");
        return r && r->status == 200;
      },
      10s * kSlow))
      << veer->log_text();
  std::cout << "[ figures  ] answering again after " << since(start).count() << " ms\n";
  expect_prompt_exit(*veer);
}

INSTANTIATE_TEST_SUITE_P(Engines, Engine, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace veer::test
