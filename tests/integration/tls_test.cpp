// TLS termination through the real veer binaries: https and wss, SNI, versions,
// resumption across workers, certificates replaced on disk, mutual TLS. Certificates
// come from a throw-away CA (support/test_pki); clients are OpenSSL (support/
// tls_client), Beast over asio::ssl, and curl when installed.
#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>
#include <csignal>
#include <cstdio>
#include <set>

#include "support/admin_client.hpp"
#include "support/config_builder.hpp"
#include "support/poll.hpp"
#include "support/test_backend.hpp"
#include "support/test_pki.hpp"
#include "support/tls_client.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

namespace asio = boost::asio;
namespace ssl = asio::ssl;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using Clock = std::chrono::steady_clock;
using testing::IssuedCert;
using testing::IssueOptions;
using testing::TestPki;

std::string tls_table(const IssuedCert& pair, const std::string& more = "") {
  return "{ cert = \"" + pair.cert + "\", key = \"" + pair.key + "\"" +
         (more.empty() ? "" : ", " + more) + " }";
}

// A WebSocket client over TLS (Beast), verifying veer's certificate against `ca`.
struct WssClient {
  asio::io_context io;
  ssl::context ctx{ssl::context::tls_client};
  websocket::stream<beast::ssl_stream<beast::tcp_stream>> ws{io, ctx};

  WssClient(std::uint16_t port, const std::string& ca) {
    ctx.load_verify_file(ca);
    ctx.set_verify_mode(ssl::verify_peer);
    beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(5));
    beast::get_lowest_layer(ws).connect(
        asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    SSL_set_tlsext_host_name(ws.next_layer().native_handle(), "localhost");
    SSL_set1_host(ws.next_layer().native_handle(), "localhost");
    ws.next_layer().handshake(ssl::stream_base::client);
    ws.handshake("localhost", "/ws");
  }
  std::string echo(const std::string& message) {
    beast::get_lowest_layer(ws).expires_after(std::chrono::seconds(5));
    ws.write(asio::buffer(message));
    beast::flat_buffer buffer;
    ws.read(buffer);
    return beast::buffers_to_string(buffer.data());
  }
};

class Tls : public ::testing::TestWithParam<std::string> {
 protected:
  std::unique_ptr<VeerProcess> start(const std::string& listener_tls, int workers = 2,
                                     const std::string& timeouts = "") {
    TestConfig config{.backends = {backend.address()}, .workers = workers, .io_engine = GetParam()};
    config.listener_tls = listener_tls;
    config.timeouts = timeouts;
    auto veer = std::make_unique<VeerProcess>(config.toml());
    EXPECT_TRUE(veer->wait_ready()) << veer->log_text();
    return veer;
  }
  TlsClientOptions verified() const { return TlsClientOptions{.ca_file = pki.ca_file()}; }
  BackendRequest last_request() const {
    const std::vector<BackendRequest> seen = backend.recorded();
    return seen.empty() ? BackendRequest{} : seen.back();
  }
  void SetUp() override { backend.record(true); }

  TestPki pki;
  TestBackend backend{"tls-backend"};
};

TEST_P(Tls, HttpsKeepAliveWithForwardedProto) {
  const IssuedCert server = pki.issue("server");
  auto veer = start(tls_table(server));
  TlsClient client(veer->port(), verified());
  ASSERT_TRUE(client.handshake()) << client.error() << veer->log_text();
  EXPECT_EQ(client.alpn(), "http/1.1");
  for (int i = 0; i < 50; ++i) {
    const auto r = client.request("GET", "/n/" + std::to_string(i));
    ASSERT_TRUE(r) << "request " << i << ": " << client.error();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "tls-backend");
  }
  const BackendRequest last = last_request();
  EXPECT_EQ(last.header("X-Forwarded-Proto"), "https");
  EXPECT_EQ(last.target, "/n/49");
  EXPECT_EQ(backend.connections_accepted(), 1) << "50 requests on one kept-alive upstream";
}

TEST_P(Tls, CurlVerifiesTheChainAndGetsTheBody) {
  if (std::system("curl --version > /dev/null 2>&1") != 0) GTEST_SKIP() << "curl not installed";
  const IssuedCert server = pki.issue("server", IssueOptions{.with_chain = true});
  auto veer = start(tls_table(server));
  const std::string command = "curl -sS --max-time 5 --cacert " + pki.ca_file() +
                              " --resolve localhost:" + std::to_string(veer->port()) +
                              ":127.0.0.1 https://localhost:" + std::to_string(veer->port()) +
                              "/curl 2>&1";
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char chunk[256];
  while (std::fgets(chunk, sizeof chunk, pipe) != nullptr)
    output += chunk;
  EXPECT_EQ(::pclose(pipe), 0) << output;
  EXPECT_EQ(output, "tls-backend");
}

TEST_P(Tls, WssEchoesThroughTheTunnel) {
  const IssuedCert server = pki.issue("server");
  auto veer = start(tls_table(server));
  WssClient client(veer->port(), pki.ca_file());
  EXPECT_EQ(client.echo("eth_subscribe over wss"), "eth_subscribe over wss");
  const std::string big(300000, 'w');  // several TLS records each way
  EXPECT_EQ(client.echo(big), big);
  beast::error_code ec;
  client.ws.close(websocket::close_code::normal, ec);
  EXPECT_FALSE(ec) << ec.message();
}

TEST_P(Tls, SniPicksTheCertificateOfEachNameAndTheDefaultOtherwise) {
  const IssuedCert fallback = pki.issue("default", IssueOptions{.names = {"default.test"}});
  const IssuedCert a = pki.issue("a", IssueOptions{.names = {"a.test"}});
  const IssuedCert b = pki.issue("b", IssueOptions{.names = {"b.test", "www.b.test"}});
  const IssuedCert c = pki.issue("c", IssueOptions{.names = {"*.c.test"}});
  auto veer = start(tls_table(fallback, "certificates = [ { cert = \"" + a.cert + "\", key = \"" +
                                            a.key + "\" }, { cert = \"" + b.cert + "\", key = \"" +
                                            b.key + "\" }, { cert = \"" + c.cert + "\", key = \"" +
                                            c.key + "\" } ]"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"a.test", "a.test"},          {"www.b.test", "b.test"},         {"node.c.test", "*.c.test"},
      {"A.TEST", "a.test"},          {"unknown.test", "default.test"}, {"", "default.test"},
      {"x.y.c.test", "default.test"}};
  for (const auto& [sni, common_name] : cases) {
    TlsClient client(veer->port(), TlsClientOptions{.sni = sni});
    ASSERT_TRUE(client.handshake()) << sni << ": " << client.error();
    EXPECT_EQ(client.peer_common_name(), common_name) << "SNI \"" << sni << "\"";
    const auto r = client.request("GET", "/");
    ASSERT_TRUE(r) << sni;
    EXPECT_EQ(r->status, 200);
  }
}

TEST_P(Tls, UnknownNameIsRefusedWhenConfigured) {
  const IssuedCert server = pki.issue("server", IssueOptions{.names = {"known.test"}});
  auto veer = start(tls_table(server, "unknown_sni = \"refuse\""));
  TlsClient unknown(veer->port(), TlsClientOptions{.sni = "other.test"});
  EXPECT_FALSE(unknown.handshake()) << "an unknown name must be refused";
  TlsClient known(veer->port(), TlsClientOptions{.sni = "known.test"});
  EXPECT_TRUE(known.handshake()) << known.error();
  TlsClient without(veer->port(), TlsClientOptions{.sni = ""});
  EXPECT_TRUE(without.handshake()) << "no SNI still gets the default: " << without.error();
}

TEST_P(Tls, RsaAndEcdsaCertificatesForOneNameChosenByTheClient) {
  const IssuedCert ec = pki.issue("ec", IssueOptions{.key = testing::KeyType::ecdsa});
  const IssuedCert rsa = pki.issue("rsa", IssueOptions{.key = testing::KeyType::rsa});
  auto veer = start(tls_table(
      ec, "certificates = [ { cert = \"" + rsa.cert + "\", key = \"" + rsa.key + "\" } ]"));
  TlsClient ec_only(veer->port(),
                    TlsClientOptions{.max_version = TLS1_2_VERSION, .sigalgs = "ECDSA+SHA256"});
  ASSERT_TRUE(ec_only.handshake()) << ec_only.error();
  EXPECT_EQ(ec_only.peer_key_type(), "EC");
  TlsClient rsa_only(veer->port(), TlsClientOptions{.max_version = TLS1_2_VERSION,
                                                    .sigalgs = "RSA+SHA256:RSA-PSS+SHA256"});
  ASSERT_TRUE(rsa_only.handshake()) << rsa_only.error();
  EXPECT_EQ(rsa_only.peer_key_type(), "RSA");
}

TEST_P(Tls, OldProtocolVersionsAreRefused) {
  const IssuedCert server = pki.issue("server");
  auto veer = start(tls_table(server, "min_version = \"1.3\""));
  for (int version : {TLS1_VERSION, TLS1_1_VERSION, TLS1_2_VERSION}) {
    TlsClient old(veer->port(), TlsClientOptions{.max_version = version});
    EXPECT_FALSE(old.handshake()) << "version " << std::hex << version << " accepted";
  }
  TlsClient current(veer->port(), verified());
  ASSERT_TRUE(current.handshake()) << current.error();
  EXPECT_EQ(current.version(), "TLSv1.3");
}

TEST_P(Tls, TicketsResumeOnEveryWorker) {
  const IssuedCert server = pki.issue("server");
  auto veer = start(tls_table(server), 2);
  std::shared_ptr<SSL_SESSION> session;
  {
    TlsClient first(veer->port(), verified());
    ASSERT_TRUE(first.handshake()) << first.error();
    ASSERT_TRUE(first.request("GET", "/first"));  // TLS 1.3 tickets come after the handshake
    session = first.session();
  }
  // SO_REUSEPORT spreads the 16 connections over both workers (all on one: 2^-15).
  // Each offers the newest ticket it has, as browsers do: a resumption must bring a
  // fresh ticket, or the next connection would have none.
  int resumed = 0;
  for (int i = 0; i < 16; ++i) {
    TlsClientOptions options = verified();
    options.session = session;
    TlsClient again(veer->port(), options);
    ASSERT_TRUE(again.handshake()) << again.error();
    ASSERT_TRUE(again.request("GET", "/again"));
    resumed += again.resumed() ? 1 : 0;
    session = again.session();
  }
  EXPECT_EQ(resumed, 16) << "every connection resumes, whichever worker accepted it";
}

// Polls new connections until their certificate's fingerprint is not `old`, for up to
// `limit`; returns how long that took, or nullopt.
std::optional<std::chrono::milliseconds> until_served(std::uint16_t port, const std::string& old,
                                                      std::chrono::milliseconds limit) {
  const auto started = Clock::now();
  const bool served = poll_until(
      [&] {
        TlsClient probe(port, TlsClientOptions{});
        return probe.handshake() && probe.peer_fingerprint_sha256() != old;
      },
      limit);
  if (!served) return std::nullopt;
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
}

std::string served_fingerprint(std::uint16_t port) {
  TlsClient probe(port, TlsClientOptions{});
  return probe.handshake() ? probe.peer_fingerprint_sha256() : "";
}

TEST_P(Tls, CertificateReplacedOnDiskServesNewConnectionsWithoutDroppingOpenOnes) {
  const IssuedCert server = pki.issue("server");
  auto veer = start(tls_table(server));
  TlsClient keep_alive(veer->port(), verified());
  ASSERT_TRUE(keep_alive.handshake()) << keep_alive.error();
  ASSERT_TRUE(keep_alive.request("GET", "/before"));
  WssClient tunnel(veer->port(), pki.ca_file());
  ASSERT_EQ(tunnel.echo("before"), "before");
  const std::string old = keep_alive.peer_fingerprint_sha256();

  pki.issue("server");  // a new key and certificate renamed into place, as certbot does
  const auto took = until_served(veer->port(), old, std::chrono::seconds(2));
  ASSERT_TRUE(took) << "the new certificate was not served within 2 s\n" << veer->log_text();
  std::printf("new certificate served after %lld ms\n", static_cast<long long>(took->count()));

  const auto after = keep_alive.request("GET", "/after");
  ASSERT_TRUE(after) << "the open keep-alive connection was dropped";
  EXPECT_EQ(after->status, 200);
  EXPECT_EQ(tunnel.echo("after"), "after") << "the open wss tunnel was dropped";
}

TEST_P(Tls, BrokenReplacementKeepsTheOldCertificate) {
  const IssuedCert server = pki.issue("server");
  auto veer = start(tls_table(server));
  const std::string old = served_fingerprint(veer->port());
  ASSERT_FALSE(old.empty());
  pki.write_file("server.crt", "-----BEGIN CERTIFICATE-----\nnot base64\n");
  ASSERT_TRUE(veer->wait_for_log("certificate reload refused", std::chrono::seconds(3)))
      << veer->log_text();
  EXPECT_EQ(served_fingerprint(veer->port()), old) << "the old certificate must stay in use";

  // A key that does not match the certificate is refused the same way.
  const IssuedCert other = pki.issue("other");
  std::filesystem::copy_file(other.cert, server.cert + ".new");
  std::filesystem::rename(server.cert + ".new", server.cert);
  const std::size_t mark = veer->log_size();
  ASSERT_TRUE(veer->wait_for_line(
      [](const std::string& line) {
        return line.find("certificate reload refused") != std::string::npos;
      },
      std::chrono::seconds(3), mark))
      << veer->log_text();
  EXPECT_EQ(served_fingerprint(veer->port()), old);

  pki.issue("server");  // a good pair again
  EXPECT_TRUE(until_served(veer->port(), old, std::chrono::seconds(2))) << veer->log_text();
}

TEST_P(Tls, SighupReloadsCertificates) {
  const IssuedCert server = pki.issue("server");
  auto veer = start(tls_table(server));
  const std::string old = served_fingerprint(veer->port());
  pki.issue("server");
  veer->signal(SIGHUP);
  EXPECT_TRUE(until_served(veer->port(), old, std::chrono::seconds(2))) << veer->log_text();
}

// Capabilities together: a broken certificate on disk must not block an autoscaler's
// admin change (the old certificate stays in use), while a reload is refused by it.
TEST_P(Tls, AdminChangesGoOnWhileACertificateOnDiskIsBroken) {
  const IssuedCert server = pki.issue("server");
  TestBackend second{"second"};
  TestConfig config{
      .backends = {backend.address(), second.address()}, .workers = 2, .io_engine = GetParam()};
  config.listener_tls = tls_table(server);
  Admin admin = start_with_admin(config);
  const std::uint16_t port = admin.veer->port();
  const std::string old = served_fingerprint(port);
  pki.write_file("server.crt", "-----BEGIN CERTIFICATE-----\nbroken\n");
  ASSERT_TRUE(admin.veer->wait_for_log("certificate reload refused", std::chrono::seconds(3)))
      << admin.veer->log_text();
  const auto change =
      admin.call("PUT", "/api/v1/pools/main/backends/" + second.address(), "{\"weight\":0}");
  ASSERT_TRUE(change);
  EXPECT_EQ(change->status, 200) << change->body;
  EXPECT_EQ(served_fingerprint(port), old);
  for (int i = 0; i < 10; ++i) {
    TlsClient client(port, verified());
    ASSERT_TRUE(client.handshake()) << client.error();
    const auto r = client.request("GET", "/");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "tls-backend") << "the weight change is in force";
  }
  const auto reload = admin.call("POST", "/api/v1/reload", "{}");
  ASSERT_TRUE(reload);
  EXPECT_NE(reload->status, 200) << "a reload must refuse the broken certificate: " << reload->body;
  EXPECT_EQ(served_fingerprint(port), old);
}

TEST_P(Tls, RequiredClientCertificateIsVerifiedAndPassedOn) {
  const IssuedCert server = pki.issue("server");
  const IssuedCert client_cert = pki.issue(
      "client",
      IssueOptions{.names = {"client.test"}, .client = true, .common_name = "rpc-user-7"});
  TestPki stranger("stranger CA");
  const IssuedCert foreign = stranger.issue("client", IssueOptions{.client = true});
  auto veer = start(tls_table(server, "client_ca = \"" + pki.ca_file() +
                                          "\", verify = \"required\", client_subject_header = "
                                          "\"X-Client-Subject\", client_fingerprint_header = "
                                          "\"X-Client-Fingerprint\""));
  {
    TlsClient anonymous(veer->port(), verified());
    const bool handshake = anonymous.handshake();
    // TLS 1.3 reports the refusal on the first read.
    EXPECT_FALSE(handshake && anonymous.request("GET", "/")) << "no certificate must be refused";
  }
  {
    TlsClientOptions options = verified();
    options.cert_file = foreign.cert;
    options.key_file = foreign.key;
    TlsClient wrong(veer->port(), options);
    const bool handshake = wrong.handshake();
    EXPECT_FALSE(handshake && wrong.request("GET", "/")) << "an unknown CA must be refused";
  }
  TlsClientOptions options = verified();
  options.cert_file = client_cert.cert;
  options.key_file = client_cert.key;
  TlsClient good(veer->port(), options);
  ASSERT_TRUE(good.handshake()) << good.error();
  const auto r =
      good.request("GET", "/", {"X-Client-Subject: CN=admin", "X-Client-Fingerprint: 00"});
  ASSERT_TRUE(r) << good.error();
  EXPECT_EQ(r->status, 200);
  const BackendRequest seen = last_request();
  EXPECT_EQ(seen.count("X-Client-Subject"), 1u) << "the client's own field must be dropped";
  EXPECT_NE(seen.header("X-Client-Subject").find("CN=rpc-user-7"), std::string::npos)
      << seen.header("X-Client-Subject");
  EXPECT_EQ(seen.count("X-Client-Fingerprint"), 1u);
  EXPECT_EQ(seen.header("X-Client-Fingerprint").size(), 64u);
}

TEST_P(Tls, OptionalClientCertificate) {
  const IssuedCert server = pki.issue("server");
  const IssuedCert client_cert = pki.issue("client", IssueOptions{.client = true});
  auto veer = start(tls_table(server, "client_ca = \"" + pki.ca_file() +
                                          "\", verify = \"optional\", client_subject_header = "
                                          "\"X-Client-Subject\""));
  TlsClient anonymous(veer->port(), verified());
  ASSERT_TRUE(anonymous.handshake()) << anonymous.error();
  const auto r = anonymous.request("GET", "/", {"X-Client-Subject: CN=forged"});
  ASSERT_TRUE(r) << anonymous.error();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(last_request().count("X-Client-Subject"), 0u)
      << "a forged field is dropped even without a certificate";
  TlsClientOptions options = verified();
  options.cert_file = client_cert.cert;
  options.key_file = client_cert.key;
  TlsClient with_cert(veer->port(), options);
  ASSERT_TRUE(with_cert.handshake()) << with_cert.error();
  ASSERT_TRUE(with_cert.request("GET", "/"));
  EXPECT_EQ(last_request().count("X-Client-Subject"), 1u);
}

INSTANTIATE_TEST_SUITE_P(Engines, Tls, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace veer::test
