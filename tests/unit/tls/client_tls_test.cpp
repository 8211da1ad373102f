#include "tls/client_tls.hpp"

#include "tls/detail.hpp"
#include "tls/server_tls.hpp"
#include "unit/tls/test_certs.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <string>

namespace veer::tls {
namespace {

using testing::handshake_pair;
using Hs = TlsSession::Handshake;

// A backend's ServerTls with a certificate from the test CA, and the CA file.
struct Backend {
  testing::TempDir dir;
  testing::TestCa ca;
  EvpPkeyPtr key = testing::make_ec_key();
  std::string ca_file = dir.write_certs("ca.crt", {ca.cert()});
  std::shared_ptr<const ServerTls> server = make_server();

  std::shared_ptr<const ServerTls> make_server(conf::ListenerTlsConfig c = {}) const {
    X509Ptr leaf = ca.issue(key.get(), "backend", "DNS:backend.internal,IP:127.0.0.1");
    c.default_certificate.cert = dir.write_certs("backend.crt", {leaf.get()});
    c.default_certificate.key = dir.write_key("backend.key", key.get());
    ServerTlsResult r = ServerTls::load(c, TicketKeys::generate());
    if (!r.tls) throw std::runtime_error(r.error);
    return r.tls;
  }
};
const Backend& backend() {
  static const Backend b;
  return b;
}

std::shared_ptr<const ClientTls> client(const conf::UpstreamTlsConfig& c) {
  ClientTlsResult r = ClientTls::load(c);
  if (!r.tls) throw std::runtime_error(r.error);
  return r.tls;
}

conf::UpstreamTlsConfig trusting_ca() {
  conf::UpstreamTlsConfig c;
  c.ca = backend().ca_file;
  return c;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return s;
}

TEST(ClientTls, VerifiesTheBackendByNameAndByAddress) {
  auto tls = client(trusting_ca());
  for (const char* host : {"backend.internal", "127.0.0.1"}) {
    SCOPED_TRACE(host);
    auto c = tls->new_session(host);
    auto s = backend().server->new_session();
    auto [ch, sh] = handshake_pair(*c, *s);
    ASSERT_EQ(ch, Hs::done) << c->error();
    EXPECT_EQ(sh, Hs::done) << s->error();
    EXPECT_TRUE(c->peer_verified());
    EXPECT_EQ(c->peer_subject(), "CN=backend,O=veer tests");
    EXPECT_EQ(c->alpn(), "http/1.1");
    EXPECT_EQ(c->version(), "TLSv1.3");
  }
}

TEST(ClientTls, WrongNameFailsWithHostnameMismatch) {
  auto tls = client(trusting_ca());
  auto c = tls->new_session("other.internal");
  auto s = backend().server->new_session();
  auto [ch, sh] = handshake_pair(*c, *s);
  EXPECT_EQ(ch, Hs::failed);
  EXPECT_NE(sh, Hs::done);
  EXPECT_EQ(lower(c->error()), "certificate verify failed: hostname mismatch");

  auto ip = tls->new_session("127.0.0.2");
  s = backend().server->new_session();
  EXPECT_EQ(handshake_pair(*ip, *s).first, Hs::failed);
  EXPECT_NE(lower(ip->error()).find("ip address mismatch"), std::string::npos) << ip->error();
}

TEST(ClientTls, SniSettingOverridesTheBackendHost) {
  conf::UpstreamTlsConfig cfg = trusting_ca();
  cfg.sni = "backend.internal";
  auto tls = client(cfg);
  auto c = tls->new_session("10.0.0.7");
  auto s = backend().server->new_session();
  EXPECT_EQ(handshake_pair(*c, *s).first, Hs::done) << c->error();
}

TEST(ClientTls, UnknownCaFailsUnlessVerifyIsOff) {
  testing::TestCa other("other CA");
  conf::UpstreamTlsConfig cfg;
  cfg.ca = backend().dir.write_certs("other-ca.crt", {other.cert()});
  auto c = client(cfg)->new_session("backend.internal");
  auto s = backend().server->new_session();
  EXPECT_EQ(handshake_pair(*c, *s).first, Hs::failed);
  EXPECT_EQ(lower(c->error()), "certificate verify failed: unable to get local issuer certificate");

  cfg.verify = false;
  c = client(cfg)->new_session("wrong.name");
  s = backend().server->new_session();
  EXPECT_EQ(handshake_pair(*c, *s).first, Hs::done) << c->error();
  EXPECT_FALSE(c->peer_verified());
  EXPECT_EQ(c->peer_subject(), "");
}

TEST(ClientTls, ClientCertificateForABackendThatRequiresOne) {
  const Backend& b = backend();
  conf::ListenerTlsConfig server_cfg;
  server_cfg.client_ca = b.ca_file;
  server_cfg.verify = conf::ListenerTlsConfig::Verify::required;
  auto server = b.make_server(server_cfg);

  X509Ptr cert = b.ca.issue(b.key.get(), "veer proxy", "");
  conf::UpstreamTlsConfig cfg = trusting_ca();
  cfg.cert = b.dir.write_certs("proxy.crt", {cert.get()});
  cfg.key = b.dir.write_key("proxy.key", b.key.get());
  auto c = client(cfg)->new_session("backend.internal");
  auto s = server->new_session();
  auto [ch, sh] = handshake_pair(*c, *s);
  ASSERT_EQ(ch, Hs::done) << c->error();
  ASSERT_EQ(sh, Hs::done) << s->error();
  EXPECT_EQ(s->peer_subject(), "CN=veer proxy,O=veer tests");
  EXPECT_EQ(s->peer_fingerprint_sha256(), detail::fingerprint_sha256(cert.get()));

  // Data both ways through two TlsSessions.
  ASSERT_EQ(c->write_plain(std::string_view("ping")).status, TlsSession::Io::ok);
  testing::pump(*c, *s);
  char buf[16];
  TlsSession::IoResult r = s->read_plain(buf);
  ASSERT_EQ(r.status, TlsSession::Io::ok) << s->error();
  EXPECT_EQ(std::string(buf, r.bytes), "ping");
}

TEST(ClientTls, LoadErrorsNameTheFile) {
  conf::UpstreamTlsConfig cfg;
  cfg.ca = backend().dir.file("absent-ca.crt");
  ClientTlsResult r = ClientTls::load(cfg);
  EXPECT_FALSE(r.tls);
  EXPECT_EQ(r.error, cfg.ca + ": cannot open: No such file or directory");
  cfg = trusting_ca();
  cfg.cert = backend().ca_file;
  cfg.key = backend().dir.file("absent.key");
  r = ClientTls::load(cfg);
  EXPECT_FALSE(r.tls);
  EXPECT_EQ(r.error, cfg.key + ": cannot open: No such file or directory");
  cfg.key = "";
  r = ClientTls::load(cfg);
  EXPECT_FALSE(r.tls);
}

}  // namespace
}  // namespace veer::tls
