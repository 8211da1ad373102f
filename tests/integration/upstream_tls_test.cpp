// Pools that speak TLS to their backends (pool tls = { ... }), on both engines: requests
// and health checks over TLS with certificates made by the test (support/test_pki.hpp),
// verification against a CA and a name, and what each kind of failure looks like to the
// client (502 saying tls), in the access log ("upstream_error":"tls"), in the metrics
// and in the backend's health (passive and active).
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <fstream>
#include <iostream>
#include <thread>

#include "support/admin_client.hpp"
#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/poll.hpp"
#include "support/test_backend.hpp"
#include "support/test_pki.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

namespace json = boost::json;
using Clock = std::chrono::steady_clock;
using veer::testing::IssueOptions;
using veer::testing::TestPki;

// A JSON string as std::string (null and others as JSON text), so failures print it.
std::string text(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

bool contains(const std::string& text, const std::string& fragment) {
  return text.find(fragment) != std::string::npos;
}

// The pool's tls table.
struct PoolTls {
  bool verify = true;
  std::string ca, sni, cert, key;

  std::string line() const {
    std::string text = "tls = { verify = " + std::string(verify ? "true" : "false");
    for (const auto& [name, value] : {std::pair{"ca", ca}, std::pair{"sni", sni},
                                      std::pair{"cert", cert}, std::pair{"key", key}}) {
      if (!value.empty()) text += std::string(", ") + name + " = \"" + value + "\"";
    }
    return text + " }\n";
  }
};

// A port that completes TCP handshakes (the kernel's backlog) and never reads: a backend
// whose TLS handshake stalls.
class SilentListener {
 public:
  SilentListener() : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof addr;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), length) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &length) != 0) {
      ADD_FAILURE() << "listening socket: " << std::strerror(errno);
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { ::close(fd_); }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_;
  std::uint16_t port_ = 0;
};

class UpstreamTls : public ::testing::TestWithParam<std::string> {
 protected:
  // veer with one worker (one upstream connection pool), an access log and an admin
  // port, in front of `backends` with `pool_lines` added to [pools.main].
  Admin start(const std::vector<std::string>& backends, const std::string& pool_lines,
              const std::string& timeouts = "") {
    TestConfig config{.backends = backends, .workers = 1, .io_engine = GetParam()};
    config.access_log = access_log_;
    config.timeouts = timeouts;
    config.extra = pool_lines;
    return start_with_admin(config);
  }

  // A backend with a certificate from the test CA for `names`.
  std::unique_ptr<TestBackend> backend(const std::string& name,
                                       std::vector<std::string> names = {"localhost", "127.0.0.1"},
                                       const std::string& client_ca = "") {
    const veer::testing::IssuedCert cert =
        pki_.issue(name, IssueOptions{.names = std::move(names)});
    return std::make_unique<TestBackend>(BackendTls{cert.cert, cert.key, client_ca}, name);
  }

  // Waits until the access log holds `count` JSON lines and returns them.
  std::vector<json::object> log_lines(std::size_t count) {
    std::vector<json::object> lines;
    poll_until([&] {
      lines.clear();
      std::ifstream in(access_log_);
      for (std::string line; std::getline(in, line);) {
        boost::system::error_code ec;
        const json::value v = json::parse(line, ec);
        if (!ec && v.is_object()) lines.push_back(v.as_object());
      }
      return lines.size() >= count;
    });
    EXPECT_EQ(lines.size(), count);
    return lines;
  }

  // The backend `address` of pool main as GET /api/v1/pools/main shows it.
  static json::object backend_view(Admin& admin, const std::string& address) {
    const auto r = admin.call("GET", "/api/v1/pools/main");
    if (!r || r->status != 200) return {};
    boost::system::error_code ec;
    const json::value v = json::parse(r->body, ec);
    if (ec || !v.is_object() || !v.as_object().contains("backends")) return {};
    for (const json::value& b : v.at("backends").as_array()) {
      if (b.at("address").as_string() == address) return b.as_object();
    }
    return {};
  }

  static std::string state_of(Admin& admin, const std::string& address) {
    const json::object b = backend_view(admin, address);
    return b.contains("state") ? std::string(b.at("state").as_string()) : "";
  }

  // The cause of `reason` on the backend, "" when that reason is not set.
  static std::string cause_of(Admin& admin, const std::string& address, const std::string& reason) {
    const json::object b = backend_view(admin, address);
    if (!b.contains("reasons")) return "";
    for (const json::value& r : b.at("reasons").as_array()) {
      if (r.at("reason").as_string() == reason) return std::string(r.at("cause").as_string());
    }
    return "";
  }

  // veer_backend_tls_failures_total of the backend: nullopt when /metrics has no such
  // family at all (a build from before it), -1 when the family lacks the backend.
  static std::optional<double> tls_failures_metric(Admin& admin, const std::string& address) {
    const auto r = admin.call("GET", "/metrics", "", {});
    EXPECT_TRUE(r.has_value());
    if (!r || !contains(r->body, "veer_backend_tls_failures_total")) return std::nullopt;
    const std::string series =
        "veer_backend_tls_failures_total{pool=\"main\",backend=\"" + address + "\"} ";
    const std::size_t at = r->body.find(series);
    if (at == std::string::npos) return -1;
    return std::stod(r->body.substr(at + series.size()));
  }

  // The metric counts `failures`, when this build has it.
  static void expect_tls_failures_counted(Admin& admin, const std::string& address,
                                          double failures) {
    const std::optional<double> counted = tls_failures_metric(admin, address);
    if (!counted) {
      std::cout << "note: no veer_backend_tls_failures_total in /metrics; not checked\n";
      return;
    }
    EXPECT_EQ(*counted, failures);
  }

  // A request that veer must refuse with 502 because of the backend's TLS; returns the body.
  static std::string expect_tls_502(Client& client) {
    const auto r = client.get("/");
    EXPECT_TRUE(r.has_value());
    if (!r) return "";
    EXPECT_EQ(r->status, 502) << r->body;
    EXPECT_TRUE(r->body.starts_with("upstream tls: ")) << r->body;
    return r->body;
  }

  // The failure's traces: the access log says tls, the backend is ejected (passive
  // health, consecutive_failures = 2) for TLS failures, and the metrics count them.
  void expect_tls_failures_seen(Admin& admin, const std::string& address, int failures) {
    const auto lines = log_lines(static_cast<std::size_t>(failures));
    for (const json::object& line : lines) {
      EXPECT_EQ(line.at("status").to_number<int>(), 502);
      EXPECT_EQ(text(line.at("upstream_error")), "tls") << json::serialize(line);
      EXPECT_EQ(text(line.at("backend")), address);
      EXPECT_TRUE(line.at("upstream_status").is_null());
    }
    EXPECT_EQ(state_of(admin, address), "ejected");
    EXPECT_TRUE(cause_of(admin, address, "ejected").starts_with("2 consecutive TLS failures"))
        << cause_of(admin, address, "ejected");
    expect_tls_failures_counted(admin, address, failures);
  }

  // (e) Health checks speak TLS with the pool's settings: a backend whose certificate
  // names another host goes down with a tls cause; the right one stays up and serves.
  void expect_checks_over_tls(Admin& admin, TestBackend& good, TestBackend& bad, bool http) {
    const std::string down = "backend " + bad.address() + " of pool main: up -> down";
    ASSERT_TRUE(admin.veer->wait_for_line(
        [&](const std::string& line) { return contains(line, down) && contains(line, "tls: "); },
        5s))
        << admin.veer->log_text();
    // The cause becomes the check's own just after the log line (health/rise_fall.cpp).
    std::string cause;
    EXPECT_TRUE(poll_until([&] {
      cause = cause_of(admin, bad.address(), "down");
      return cause.starts_with("tls: certificate verify failed: ");
    })) << cause;
    EXPECT_TRUE(poll_until([&] { return good.tls_handshakes() >= 3; })) << "checks of the good one";
    EXPECT_EQ(state_of(admin, good.address()), "up");
    EXPECT_EQ(good.tls_failures(), 0);
    if (const auto counted = tls_failures_metric(admin, bad.address())) {
      EXPECT_GE(*counted, 1) << "failed checks count as TLS failures";
      EXPECT_EQ(tls_failures_metric(admin, good.address()), 0.0);
    }
    if (http) {  // a check's request is counted after its handshake: wait for it too
      EXPECT_TRUE(poll_until([&] { return good.requests() >= 3; }))
          << "the check requests, over TLS: " << good.requests();
    }
    EXPECT_EQ(bad.requests(), 0);
    Client client(admin.veer->port());
    for (int i = 0; i < 10; ++i) {
      const auto r = client.get("/");
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, "good");
    }
  }

  static constexpr const char* kOutlier = "outlier = { consecutive_failures = 2 }\n";

  TestPki pki_;
  std::string dir_ = make_temp_dir();
  std::string access_log_ = dir_ + "/access.log";
};

// (a) Verified against the test CA, the name being the backend's address (an IP SAN,
// no SNI): requests, bodies both ways across many TLS records, keep-alive reuse.
TEST_P(UpstreamTls, VerifiedBackendServesRequestsOnFewConnections) {
  auto b = backend("b");
  b->set_handler([](const BackendRequest& request) {
    BackendReply reply{.body = "b"};
    if (request.target == "/big") reply.stream_bytes = 3 << 20;
    reply.headers = {{"X-Body-Hash", std::to_string(request.body_hash)}};
    return reply;
  });
  Admin admin = start({b->address()}, PoolTls{.ca = pki_.ca_file()}.line());
  Client client(admin.veer->port());
  constexpr int kRequests = 40;
  for (int i = 0; i < kRequests; ++i) {
    const auto r = client.get("/");
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(r->body, "b");
  }
  std::string upload(1 << 20, '\0');
  fill_pattern(0, upload.data(), upload.size());
  const auto posted = client.request("POST", "/upload", upload);
  ASSERT_TRUE(posted.has_value());
  EXPECT_EQ(posted->status, 200);
  EXPECT_EQ(posted->header("X-Body-Hash"), std::to_string(pattern_hash(upload.size())));
  const auto big = client.get("/big");
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->status, 200);
  EXPECT_EQ(big->body_size, 3u << 20);
  EXPECT_EQ(big->body_hash, pattern_hash(3 << 20));

  EXPECT_EQ(b->requests(), kRequests + 2);
  EXPECT_GE(b->tls_handshakes(), 1);
  EXPECT_LE(b->connections_accepted(), 2) << "keep-alive: connections are reused";
  EXPECT_EQ(b->tls_handshakes(), b->connections_accepted()) << "every connection is TLS";
  EXPECT_EQ(b->tls_failures(), 0);
  const auto seen = b->handshakes_seen();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen[0].sni, "") << "an IP address is sent as no SNI";
  const auto lines = log_lines(kRequests + 2);
  ASSERT_FALSE(lines.empty());
  EXPECT_GE(lines[0].at("upstream_connect_ms").to_number<double>(), 0.0);
  for (const json::object& line : lines)
    EXPECT_TRUE(line.at("upstream_error").is_null()) << json::serialize(line);
}

// (a) `sni` is sent and verified instead of the address.
TEST_P(UpstreamTls, SniNamesAndVerifiesTheBackend) {
  auto b = backend("b", {"localhost"});
  Admin admin = start({b->address()}, PoolTls{.ca = pki_.ca_file(), .sni = "localhost"}.line());
  const auto r = Client(admin.veer->port()).get("/");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200) << r->body;
  const auto seen = b->handshakes_seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].sni, "localhost");
}

// (b) A certificate for another name: 502 saying why, tls in the log and the metrics,
// and a passive health failure.
TEST_P(UpstreamTls, WrongNameIsA502TlsAndAPassiveFailure) {
  auto b = backend("b");
  Admin admin = start({b->address()},
                      PoolTls{.ca = pki_.ca_file(), .sni = "wrong.example"}.line() + kOutlier);
  Client client(admin.veer->port());
  for (int i = 0; i < 2; ++i) {
    const std::string body = expect_tls_502(client);
    EXPECT_TRUE(contains(body, "certificate verify failed: hostname mismatch")) << body;
  }
  EXPECT_EQ(b->requests(), 0);
  EXPECT_TRUE(poll_until([&] { return b->tls_failures() == 2; })) << "refused by veer's alert";
  expect_tls_failures_seen(admin, b->address(), 2);
}

// (c) A certificate from a CA the pool does not trust.
TEST_P(UpstreamTls, UnknownCaIsA502Tls) {
  TestPki other("another CA");
  const auto cert = other.issue("b");
  TestBackend b(BackendTls{cert.cert, cert.key}, "b");
  Admin admin = start({b.address()}, PoolTls{.ca = pki_.ca_file()}.line() + kOutlier);
  Client client(admin.veer->port());
  for (int i = 0; i < 2; ++i) {
    const std::string body = expect_tls_502(client);
    EXPECT_TRUE(contains(body, "certificate verify failed")) << body;
  }
  EXPECT_EQ(b.requests(), 0);
  expect_tls_failures_seen(admin, b.address(), 2);
}

// Two pools name one backend address, one without verification, one with: an idle
// connection the first made is never lent to the second (it would skip verification).
TEST_P(UpstreamTls, PooledConnectionsStayWithTheTlsSettingsTheyWereMadeWith) {
  TestPki other("another CA");
  const auto cert = other.issue("b", IssueOptions{.names = {"elsewhere.example"}});
  TestBackend b(BackendTls{cert.cert, cert.key}, "b");
  Admin admin =
      start({b.address()}, PoolTls{.verify = false}.line() +
                               "[listeners.strict]\naddress = \"127.0.0.1:0\"\n"
                               "  [[listeners.strict.routes]]\n  target = \"strict\"\n"
                               "[pools.strict]\nbackends = [\"" +
                               b.address() + "\"]\n" + PoolTls{.ca = pki_.ca_file()}.line());
  Client lax(admin.veer->port());
  const auto first = lax.get("/");
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 200) << first->body;
  const auto strict = Client(admin.veer->port("strict")).get("/");
  ASSERT_TRUE(strict.has_value());
  EXPECT_EQ(strict->status, 502) << "the lax pool's idle connection was reused: " << strict->body;
  EXPECT_TRUE(contains(strict->body, "certificate verify failed")) << strict->body;
  const auto again = lax.get("/");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->status, 200);
  EXPECT_EQ(b.tls_handshakes(), 1) << "the lax pool keeps reusing its own connection";
}

// (d) verify = false: encryption without authentication accepts any certificate.
TEST_P(UpstreamTls, VerifyFalseAcceptsAnUnknownCa) {
  TestPki other("another CA");
  const auto cert = other.issue("b", IssueOptions{.names = {"elsewhere.example"}});
  TestBackend b(BackendTls{cert.cert, cert.key}, "b");
  Admin admin = start({b.address()}, PoolTls{.verify = false}.line());
  const auto r = Client(admin.veer->port()).get("/");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body, "b");
  EXPECT_EQ(b.tls_handshakes(), 1);
}

TEST_P(UpstreamTls, HttpHealthChecksUseTls) {
  auto good = backend("good");
  auto bad = backend("bad", {"other.example"});
  Admin admin = start({good->address(), bad->address()},
                      PoolTls{.ca = pki_.ca_file()}.line() +
                          "health = { type = \"http\", path = \"/health\", interval = \"100ms\", "
                          "timeout = \"1s\", rise = 1, fall = 1 }\n");
  expect_checks_over_tls(admin, *good, *bad, true);
}

TEST_P(UpstreamTls, TcpHealthChecksAreConnectAndHandshake) {
  auto good = backend("good");
  auto bad = backend("bad", {"other.example"});
  Admin admin = start({good->address(), bad->address()},
                      PoolTls{.ca = pki_.ca_file()}.line() +
                          "health = { type = \"tcp\", interval = \"100ms\", timeout = \"1s\", "
                          "rise = 1, fall = 1 }\n");
  expect_checks_over_tls(admin, *good, *bad, false);
  EXPECT_EQ(good->requests(), 10) << "tcp checks send no request";
}

// (f) A backend that requires a client certificate gets the pool's cert/key.
TEST_P(UpstreamTls, ClientCertificateForBackendsThatRequireOne) {
  auto b = backend("b", {"localhost", "127.0.0.1"}, pki_.ca_file());
  const auto client_cert =
      pki_.issue("veer-client", IssueOptions{.names = {"veer-client"}, .client = true});
  Admin admin =
      start({b->address()},
            PoolTls{.ca = pki_.ca_file(), .cert = client_cert.cert, .key = client_cert.key}.line());
  const auto r = Client(admin.veer->port()).get("/");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200) << r->body;
  const auto seen = b->handshakes_seen();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].client_subject, "veer-client");
}

// (f) Without one, the backend refuses the handshake (with TLS 1.3, after veer's side of
// it finished: the refusal arrives as the answer to the request), and veer says tls.
TEST_P(UpstreamTls, MissingClientCertificateIsA502Tls) {
  auto b = backend("b", {"localhost", "127.0.0.1"}, pki_.ca_file());
  Admin admin = start({b->address()}, PoolTls{.ca = pki_.ca_file()}.line() + kOutlier);
  Client client(admin.veer->port());
  for (int i = 0; i < 2; ++i) {
    const std::string body = expect_tls_502(client);
    EXPECT_TRUE(contains(body, "certificate required")) << body;
  }
  EXPECT_EQ(b->requests(), 0);
  expect_tls_failures_seen(admin, b->address(), 2);
}

// A backend that accepts the connection and never answers the ClientHello: the
// handshake is bounded by upstream_connect, and the 504 says tls.
TEST_P(UpstreamTls, StalledHandshakeTimesOut) {
  SilentListener silent;
  Admin admin = start({silent.address()}, PoolTls{.ca = pki_.ca_file()}.line(),
                      "upstream_connect = \"300ms\"");
  const auto started = Clock::now();
  const auto r = Client(admin.veer->port()).get("/");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 504) << r->body;
  EXPECT_TRUE(r->body.starts_with("upstream tls: handshake timed out")) << r->body;
  EXPECT_LT(Clock::now() - started, 3s);
  const auto lines = log_lines(1);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(text(lines[0].at("upstream_error")), "tls");
}

INSTANTIATE_TEST_SUITE_P(Engines, UpstreamTls, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace veer::test
