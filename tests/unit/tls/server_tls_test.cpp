#include "tls/server_tls.hpp"

#include "tls/detail.hpp"
#include "unit/tls/test_certs.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

namespace veer::tls {
namespace {

using testing::MemClient;
using testing::run_handshake;
using Hs = TlsSession::Handshake;
using Config = conf::ListenerTlsConfig;

// One CA and the listener's certificates, made once: key generation is the slow part.
struct Files {
  testing::TempDir dir;
  testing::TestCa ca;
  EvpPkeyPtr ec = testing::make_ec_key();
  EvpPkeyPtr rsa = testing::make_rsa_key();
  conf::CertKeyConfig pair(const std::string& stem, EVP_PKEY* key, const std::string& san) const {
    X509Ptr leaf = ca.issue(key, stem, san);
    conf::CertKeyConfig c;
    c.cert = dir.write_certs(stem + ".crt", {leaf.get()});
    c.key = dir.write_key(stem + ".key", key);
    return c;
  }
  conf::CertKeyConfig fallback = pair("default", ec.get(), "DNS:default.example");
  conf::CertKeyConfig a = pair("a", ec.get(), "DNS:a.example,DNS:www.a.example");
  conf::CertKeyConfig a_rsa = pair("a-rsa", rsa.get(), "DNS:www.a.example,DNS:A.example");
  conf::CertKeyConfig b = pair("b", ec.get(), "DNS:b.example");
  conf::CertKeyConfig wild = pair("wild", ec.get(), "DNS:*.w.example");
};
const Files& files() {
  static const Files f;
  return f;
}

Config listener() {
  Config c;
  c.default_certificate = files().fallback;
  c.certificates = {files().a, files().a_rsa, files().b, files().wild};
  return c;
}

std::shared_ptr<const ServerTls> load_ok(
    const Config& c, std::shared_ptr<TicketKeys> keys = TicketKeys::generate()) {
  ServerTlsResult r = ServerTls::load(c, std::move(keys));
  EXPECT_TRUE(r.tls) << r.error;
  EXPECT_TRUE(r.warnings.empty()) << r.warnings.front();
  if (!r.tls) throw std::runtime_error(r.error);
  return r.tls;
}

// A client trusting the test CA; `sni` empty for none.
struct Client {
  SslCtxPtr ctx{SSL_CTX_new(TLS_client_method())};
  std::unique_ptr<MemClient> mem;
  explicit Client(const std::string& sni, int max_version = 0) {
    SSL_CTX_set_max_proto_version(ctx.get(), max_version);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), files().ca.cert());
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    mem = std::make_unique<MemClient>(ctx.get());
    if (!sni.empty()) SSL_set_tlsext_host_name(mem->ssl(), sni.c_str());
  }
  // The names of the certificate the server presented.
  std::vector<std::string> server_names() const {
    X509* cert = SSL_get0_peer_certificate(mem->ssl());
    return cert != nullptr ? detail::dns_names(cert) : std::vector<std::string>{};
  }
  std::string server_key_type() const {
    return detail::key_type(X509_get0_pubkey(SSL_get0_peer_certificate(mem->ssl())));
  }
};

std::vector<std::string> names_for(const ServerTls& tls, const std::string& sni) {
  Client client(sni);
  auto server = tls.new_session();
  EXPECT_EQ(run_handshake(*client.mem, *server), Hs::done) << sni << ": " << server->error();
  return client.server_names();
}

TEST(ServerTls, SniPicksTheCertificateByExactNameThenWildcard) {
  auto tls = load_ok(listener());
  using V = std::vector<std::string>;
  EXPECT_EQ(names_for(*tls, "a.example"), (V{"a.example", "www.a.example"}));
  EXPECT_EQ(names_for(*tls, "WWW.A.Example"), (V{"a.example", "www.a.example"}));
  EXPECT_EQ(names_for(*tls, "b.example"), (V{"b.example"}));
  EXPECT_EQ(names_for(*tls, "x.w.example"), (V{"*.w.example"}));
  EXPECT_EQ(names_for(*tls, "default.example"), (V{"default.example"}));
}

TEST(ServerTls, NoSniOrUnknownNameGetsTheDefault) {
  auto tls = load_ok(listener());
  using V = std::vector<std::string>;
  EXPECT_EQ(names_for(*tls, ""), (V{"default.example"}));
  EXPECT_EQ(names_for(*tls, "unknown.example"), (V{"default.example"}));
  EXPECT_EQ(names_for(*tls, "a.b.w.example"), (V{"default.example"})) << "one label only";
  EXPECT_EQ(names_for(*tls, "w.example"), (V{"default.example"}));
}

TEST(ServerTls, WildcardAndExactLookups) {
  auto tls = load_ok(listener());
  EXPECT_NE(tls->context_for("y.w.example"), nullptr);
  EXPECT_NE(tls->context_for("Y.W.EXAMPLE."), nullptr);
  EXPECT_EQ(tls->context_for(".w.example"), nullptr);
  EXPECT_EQ(tls->context_for("w.example"), nullptr);
  EXPECT_EQ(tls->context_for("a.a.example"), nullptr);
  EXPECT_EQ(tls->context_for("a.example"), tls->context_for("www.a.example"));
  EXPECT_NE(tls->context_for("a.example"), tls->context_for("b.example"));
}

TEST(ServerTls, RefuseModeFailsUnknownNamesButNotMissingSni) {
  Config c = listener();
  c.unknown_sni = Config::UnknownSni::refuse;
  auto tls = load_ok(c);
  {
    Client client("unknown.example");
    auto server = tls->new_session();
    EXPECT_EQ(run_handshake(*client.mem, *server), Hs::failed);
    EXPECT_NE(server->error().find("unrecognized name"), std::string::npos) << server->error();
  }
  EXPECT_EQ(names_for(*tls, ""), (std::vector<std::string>{"default.example"}));
  EXPECT_EQ(names_for(*tls, "b.example"), (std::vector<std::string>{"b.example"}));
}

TEST(ServerTls, RsaAndEcdsaForTheSameNamesChosenBySignatureAlgorithms) {
  auto tls = load_ok(listener());
  ASSERT_EQ(tls->certificates().size(), 5u);
  EXPECT_EQ(tls->certificates()[1].key_type, "EC P-256");
  EXPECT_EQ(tls->certificates()[2].key_type, "RSA 2048");
  struct Case {
    int version;
    const char* sigalgs;
    const char* key_type;
  };
  for (const Case& k : {Case{TLS1_3_VERSION, "ecdsa_secp256r1_sha256", "EC P-256"},
                        Case{TLS1_3_VERSION, "rsa_pss_rsae_sha256", "RSA 2048"},
                        Case{TLS1_2_VERSION, "ECDSA+SHA256", "EC P-256"},
                        Case{TLS1_2_VERSION, "RSA+SHA256", "RSA 2048"}}) {
    SCOPED_TRACE(k.sigalgs);
    Client client("a.example", k.version);
    ASSERT_EQ(SSL_set1_sigalgs_list(client.mem->ssl(), k.sigalgs), 1);
    auto server = tls->new_session();
    ASSERT_EQ(run_handshake(*client.mem, *server), Hs::done) << server->error();
    EXPECT_EQ(client.server_key_type(), k.key_type);
    // The RSA certificate lists the same names in another order and case: one group.
    std::vector<std::string> names = client.server_names();
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"a.example", "www.a.example"}));
  }
}

}  // namespace
}  // namespace veer::tls
