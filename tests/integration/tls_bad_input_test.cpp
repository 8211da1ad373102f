// Hostile and broken clients on a TLS listener: plain HTTP, garbage, an oversized
// ClientHello, a handshake that stalls, a connection that says nothing, old protocol
// versions, an unknown name. Each gets its defined outcome within its timeout, is
// counted in /metrics by reason, and a well-behaved keep-alive client on the same
// listener keeps working throughout.
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <random>

#include "support/admin_client.hpp"
#include "support/config_builder.hpp"
#include "support/http_client.hpp"
#include "support/poll.hpp"
#include "support/test_backend.hpp"
#include "support/test_pki.hpp"
#include "support/tls_client.hpp"

namespace veer::test {
namespace {

using Clock = std::chrono::steady_clock;
using testing::IssuedCert;
using testing::TestPki;

// The bytes of a real ClientHello, from an OpenSSL client over memory BIOs.
std::string client_hello() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out);
  SSL_set_tlsext_host_name(ssl, "localhost");
  SSL_connect(ssl);  // wants to read the ServerHello: the ClientHello is in `out`
  std::string hello;
  char chunk[4096];
  int n = 0;
  while ((n = BIO_read(out, chunk, sizeof chunk)) > 0)
    hello.append(chunk, static_cast<std::size_t>(n));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return hello;
}

class TlsBadInput : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    const IssuedCert server = pki.issue("server");
    TestConfig config{.backends = {backend.address()}, .workers = 2, .io_engine = GetParam()};
    config.listener_tls = "{ cert = \"" + server.cert + "\", key = \"" + server.key +
                          "\", unknown_sni = \"refuse\" }";
    config.timeouts = "tls_handshake = \"1s\"\nclient_header = \"5s\"";
    admin = start_with_admin(config);
    port = admin.veer->port();
    good = std::make_unique<TlsClient>(port, TlsClientOptions{.ca_file = pki.ca_file()});
    ASSERT_TRUE(good->handshake()) << good->error() << admin.veer->log_text();
  }

  // The well-behaved client still gets answers on its kept-alive connection.
  void expect_good_client_unaffected() {
    const auto r = good->request("GET", "/still-fine");
    ASSERT_TRUE(r) << "the good client's connection broke: " << good->error();
    EXPECT_EQ(r->status, 200);
  }

  double failures(const std::string& reason) {
    const auto r = admin.call("GET", "/metrics", "", {});
    if (!r) return -1;
    return sample(r->body, "veer_tls_handshake_failures_total{reason=\"" + reason + "\"}")
        .value_or(0);
  }

  // Waits (bounded) until the failure counter of `reason` reaches `at_least`.
  bool counted(const std::string& reason, double at_least) {
    return poll_until([&] { return failures(reason) >= at_least; }, std::chrono::seconds(3));
  }

  TestPki pki;
  TestBackend backend{"backend"};
  Admin admin;
  std::uint16_t port = 0;
  std::unique_ptr<TlsClient> good;
};

TEST_P(TlsBadInput, PlainHttpGetsNginxs400AndAClose) {
  Client plain(port, std::chrono::seconds(3));
  ASSERT_TRUE(plain.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  const auto r = plain.read_response();
  ASSERT_TRUE(r) << "no answer to plain HTTP";
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("plain HTTP request was sent to HTTPS port"), std::string::npos)
      << r->body;
  EXPECT_TRUE(plain.wait_closed(std::chrono::seconds(3)));
  EXPECT_TRUE(counted("plain_http", 1));
  expect_good_client_unaffected();
}

TEST_P(TlsBadInput, GarbageIsClosedAtOnce) {
  std::mt19937 random(7);
  std::string garbage(4096, '\0');
  for (char& c : garbage)
    c = static_cast<char>(random());
  garbage[0] = 0x16;  // looks like a handshake record, then is not
  Client client(port, std::chrono::seconds(3));
  const auto started = Clock::now();
  client.send(garbage);
  EXPECT_TRUE(client.wait_closed(std::chrono::seconds(3)));
  EXPECT_LT(Clock::now() - started, std::chrono::milliseconds(900))
      << "refused before tls_handshake (1 s) passed, not timed out";
  EXPECT_TRUE(counted("other", 1));
  expect_good_client_unaffected();
}

TEST_P(TlsBadInput, OversizedClientHelloIsRefused) {
  // A ClientHello that claims 16 MiB, then keeps coming in full-size records.
  std::string record = std::string("\x16\x03\x01\x40\x00", 5) + std::string("\x01\xff\xff\xff", 4);
  record.resize(5 + 0x4000, 'A');
  Client client(port, std::chrono::seconds(3));
  const auto started = Clock::now();
  for (int i = 0; i < 64 && client.send(record); ++i) {
    record = std::string("\x16\x03\x01\x40\x00", 5) + std::string(0x4000, 'A');
  }
  EXPECT_TRUE(client.wait_closed(std::chrono::seconds(3)));
  EXPECT_LT(Clock::now() - started, std::chrono::milliseconds(900));
  expect_good_client_unaffected();
}

TEST_P(TlsBadInput, StalledHandshakeEndsAtTlsHandshakeTimeout) {
  const std::string hello = client_hello();
  ASSERT_GT(hello.size(), 40u);
  Client slow(port, std::chrono::seconds(5));
  Client silent(port, std::chrono::seconds(5));
  const auto started = Clock::now();
  slow.send(hello.substr(0, 30));  // half a ClientHello, then nothing (slowloris)
  EXPECT_TRUE(slow.wait_closed(std::chrono::seconds(4)));
  EXPECT_TRUE(silent.wait_closed(std::chrono::seconds(4)));
  const auto took = Clock::now() - started;
  EXPECT_GE(took, std::chrono::milliseconds(900)) << "closed before tls_handshake";
  EXPECT_LT(took, std::chrono::seconds(3)) << "not closed at tls_handshake (1 s)";
  EXPECT_TRUE(counted("timeout", 2));
  expect_good_client_unaffected();
}

TEST_P(TlsBadInput, OldVersionsAndUnknownNamesAreRefusedAndCounted) {
  for (int version : {TLS1_VERSION, TLS1_1_VERSION}) {
    TlsClient old(port, TlsClientOptions{.max_version = version});
    EXPECT_FALSE(old.handshake());
  }
  EXPECT_TRUE(counted("protocol_version", 2));
  TlsClient unknown(port, TlsClientOptions{.sni = "not-mine.test"});
  EXPECT_FALSE(unknown.handshake());
  EXPECT_TRUE(counted("unknown_sni", 1));
  expect_good_client_unaffected();
}

INSTANTIATE_TEST_SUITE_P(Engines, TlsBadInput, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace veer::test
