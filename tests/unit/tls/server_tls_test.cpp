#include "tls/server_tls.hpp"

#include "tls/detail.hpp"
#include "unit/tls/test_certs.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <algorithm>
#include <ctime>
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

TEST(ServerTls, Tls11ClientIsRefused) {
  auto tls = load_ok(listener());
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_1_VERSION);
  SSL_CTX_set_security_level(ctx.get(), 0);  // let the client send it: veer must refuse
  SSL_CTX_set_cipher_list(ctx.get(), "DEFAULT:@SECLEVEL=0");
  MemClient client(ctx.get());
  auto server = tls->new_session();
  EXPECT_EQ(run_handshake(client, *server), Hs::failed);
  EXPECT_EQ(server->error(), "unsupported protocol");
}

// A full handshake with a fresh session of `tls`, then the client's resumable session.
SSL_SESSION* session_from(const ServerTls& tls, SSL_CTX* cctx, const std::string& sni) {
  MemClient client(cctx);
  SSL_set_tlsext_host_name(client.ssl(), sni.c_str());
  auto server = tls.new_session();
  if (run_handshake(client, *server) != Hs::done) return nullptr;
  client.exchange(*server);  // TLS 1.3 tickets come after the handshake
  char byte;
  std::size_t n = 0;
  SSL_read_ex(client.ssl(), &byte, 1, &n);
  ERR_clear_error();
  SSL_SESSION* session = SSL_get1_session(client.ssl());
  SSL_shutdown(client.ssl());  // else OpenSSL marks the session not resumable
  return session;
}

bool resumes(const ServerTls& tls, SSL_CTX* cctx, SSL_SESSION* session, const std::string& sni) {
  MemClient client(cctx);
  SSL_set_tlsext_host_name(client.ssl(), sni.c_str());
  SSL_set_session(client.ssl(), session);
  auto server = tls.new_session();
  EXPECT_EQ(run_handshake(client, *server), Hs::done) << server->error();
  EXPECT_EQ(server->resumed(), SSL_session_reused(client.ssl()) == 1);
  SSL_shutdown(client.ssl());  // keeps `session` resumable for the next attempt
  return server->resumed();
}

SslCtxPtr version_client(int version) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), version);
  SSL_CTX_set_max_proto_version(ctx.get(), version);
  return ctx;
}

// Tickets are encrypted in the initial context's callback and SNI then switches the
// context: resumption must survive that, within one ServerTls (two workers) and across
// two sharing TicketKeys (a reload, or two listeners).
TEST(ServerTls, TicketsResumeAcrossSessionsAndAcrossServerTlsSharingKeys) {
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    for (const char* sni : {"b.example", "default.example", "x.w.example"}) {
      SCOPED_TRACE(std::string(sni) + " " + std::to_string(version));
      auto cctx = version_client(version);
      auto keys = TicketKeys::generate();
      Config no_cache = listener();
      no_cache.session_cache = 0;  // tickets only, so that nothing resumes from a cache
      auto first = load_ok(no_cache, keys);
      auto reloaded = load_ok(no_cache, keys);
      auto stranger = load_ok(no_cache);
      SSL_SESSION* session = session_from(*first, cctx.get(), sni);
      ASSERT_NE(session, nullptr);
      EXPECT_TRUE(resumes(*first, cctx.get(), session, sni));
      EXPECT_TRUE(resumes(*reloaded, cctx.get(), session, sni));
      EXPECT_FALSE(resumes(*stranger, cctx.get(), session, sni));
      SSL_SESSION_free(session);
    }
  }
}

// Two instances reading one nginx-format key file resume each other's tickets.
TEST(ServerTls, TicketsFromAKeyFileResumeAcrossInstances) {
  std::string bytes(80, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = static_cast<char>(i * 7 + 1);
  for (std::size_t size : {80u, 48u}) {
    SCOPED_TRACE(size);
    const std::string path = files().dir.file("ticket-" + std::to_string(size) + ".key");
    testing::write_bytes(path, bytes.substr(0, size));
    std::string error;
    auto keys_a = TicketKeys::from_file(path, &error);
    auto keys_b = TicketKeys::from_file(path, &error);
    ASSERT_TRUE(keys_a && keys_b) << error;
    auto a = load_ok(listener(), keys_a);
    auto b = load_ok(listener(), keys_b);
    for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
      auto cctx = version_client(version);
      SSL_SESSION* session = session_from(*a, cctx.get(), "b.example");
      ASSERT_NE(session, nullptr);
      EXPECT_TRUE(resumes(*b, cctx.get(), session, "b.example")) << version;
      SSL_SESSION_free(session);
    }
  }
}

TEST(ServerTls, SessionCacheResumesWithoutTicketsAndCanBeOff) {
  Config c = listener();
  c.session_tickets = false;
  c.session_cache = 100;
  auto cached = load_ok(c);
  c.session_cache = 0;
  auto uncached = load_ok(c);
  EXPECT_EQ(SSL_CTX_sess_get_cache_size(cached->context_for("default.example")), 100);
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    SCOPED_TRACE(version);
    auto cctx = version_client(version);
    SSL_SESSION* session = session_from(*cached, cctx.get(), "b.example");
    ASSERT_NE(session, nullptr);
    // Issued under the context SNI chose, found in the initial context's cache.
    SSL_CTX* initial = cached->context_for("default.example");
    const long hits = SSL_CTX_sess_hits(initial);
    EXPECT_TRUE(resumes(*cached, cctx.get(), session, "b.example"));
    EXPECT_TRUE(resumes(*cached, cctx.get(), session, "default.example"));
    EXPECT_EQ(SSL_CTX_sess_hits(initial), hits + 2) << "from the cache, not a ticket";
    SSL_SESSION_free(session);
    session = session_from(*uncached, cctx.get(), "b.example");
    if (session != nullptr) {
      EXPECT_FALSE(resumes(*uncached, cctx.get(), session, "b.example"));
      SSL_SESSION_free(session);
    }
  }
}

TEST(ServerTls, BadCipherSettingsAreLoadErrorsNamingTheKey) {
  struct Case {
    std::string Config::*field;
    const char* key;
  };
  for (const Case& k :
       {Case{&Config::ciphers, "ciphers"}, Case{&Config::ciphersuites, "ciphersuites"},
        Case{&Config::curves, "curves"}}) {
    Config c = listener();
    c.*k.field = "NOT-A-THING";
    ServerTlsResult r = ServerTls::load(c, TicketKeys::generate());
    EXPECT_FALSE(r.tls) << k.key;
    EXPECT_EQ(r.error.rfind(std::string(k.key) + ": ", 0), 0u) << r.error;
    EXPECT_NE(r.error.find("NOT-A-THING"), std::string::npos) << r.error;
  }
  Config c = listener();
  c.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256";
  c.ciphersuites = "TLS_CHACHA20_POLY1305_SHA256";
  c.curves = "X25519:P-256";
  c.min_version = "1.3";
  auto tls = load_ok(c);
  Client client("b.example");
  auto server = tls->new_session();
  ASSERT_EQ(run_handshake(*client.mem, *server), Hs::done) << server->error();
  EXPECT_EQ(server->cipher(), "TLS_CHACHA20_POLY1305_SHA256");
}

TEST(ServerTls, FileProblemsAreErrorsNamingTheFiles) {
  const Files& f = files();
  Config c = listener();
  c.certificates[1].key = f.dir.file("absent.key");
  ServerTlsResult r = ServerTls::load(c, TicketKeys::generate());
  EXPECT_FALSE(r.tls);
  EXPECT_EQ(r.error, f.dir.file("absent.key") + ": cannot open: No such file or directory");

  c = listener();
  c.certificates[0].key = f.a_rsa.key;  // an RSA key for the EC certificate
  r = ServerTls::load(c, TicketKeys::generate());
  EXPECT_FALSE(r.tls);
  EXPECT_NE(r.error.find(f.a_rsa.key), std::string::npos) << r.error;
  EXPECT_NE(r.error.find(f.a.cert), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("does not match"), std::string::npos) << r.error;
  EXPECT_EQ(r.error.find("PRIVATE"), std::string::npos) << r.error;

  c = listener();
  c.certificates.push_back(f.pair("b2", f.ec.get(), "DNS:b.example"));
  r = ServerTls::load(c, TicketKeys::generate());
  EXPECT_FALSE(r.tls) << "two EC certificates for the same names";
  EXPECT_NE(r.error.find("b2.crt"), std::string::npos) << r.error;
}

TEST(ServerTls, KeyReadableByOthersIsAWarning) {
  const Files& f = files();
  Config c;
  c.default_certificate = f.pair("open", f.ec.get(), "DNS:open.example");
  ::chmod(c.default_certificate.key.c_str(), 0644);
  ServerTlsResult r = ServerTls::load(c, TicketKeys::generate());
  ASSERT_TRUE(r.tls) << r.error;
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0],
            c.default_certificate.key + ": readable by other users (mode 0644); chmod 600");
}

TEST(ServerTls, ExpiredIsAnErrorExpiringSoonAWarning) {
  const Files& f = files();
  Config c;
  X509Ptr expired = f.ca.issue(f.ec.get(), "old", "DNS:old.example", -10 * 86400, -86400);
  c.default_certificate.cert = f.dir.write_certs("expired.crt", {expired.get()});
  c.default_certificate.key = f.fallback.key;
  ServerTlsResult r = ServerTls::load(c, TicketKeys::generate());
  EXPECT_FALSE(r.tls);
  EXPECT_EQ(r.error, c.default_certificate.cert + ": the certificate has expired");

  X509Ptr soon = f.ca.issue(f.ec.get(), "soon", "DNS:soon.example", -86400, 5 * 86400 + 60);
  c.default_certificate.cert = f.dir.write_certs("soon.crt", {soon.get()});
  r = ServerTls::load(c, TicketKeys::generate());
  ASSERT_TRUE(r.tls) << r.error;
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0], c.default_certificate.cert + ": the certificate expires in 5 days");
}

TEST(ServerTls, CertificateInfo) {
  auto tls = load_ok(listener());
  const std::vector<CertificateInfo>& infos = tls->certificates();
  ASSERT_EQ(infos.size(), 5u);
  const CertificateInfo& a = infos[1];
  EXPECT_EQ(a.cert_file, files().a.cert);
  EXPECT_EQ(a.subject, "CN=a,O=veer tests");
  EXPECT_EQ(a.issuer, "CN=veer test CA,O=veer tests");
  EXPECT_EQ(a.names, (std::vector<std::string>{"a.example", "www.a.example"}));
  EXPECT_EQ(a.key_type, "EC P-256");
  EXPECT_EQ(a.fingerprint_sha256.size(), 64u);
  EXPECT_EQ(a.fingerprint_sha256.find_first_not_of("0123456789abcdef"), std::string::npos);
  const std::int64_t now = std::time(nullptr);
  EXPECT_NEAR(static_cast<double>(a.not_before), static_cast<double>(now - 3600), 120);
  EXPECT_NEAR(static_cast<double>(a.not_after), static_cast<double>(now + 30 * 86400), 120);
  EXPECT_EQ(infos[0].names, (std::vector<std::string>{"default.example"}));
  EXPECT_EQ(infos[4].names, (std::vector<std::string>{"*.w.example"}));
}

TEST(ServerTls, CommonNameWhenNoSubjectAltName) {
  const Files& f = files();
  Config c;
  c.default_certificate = f.pair("CN-Only.Example", f.ec.get(), "");
  auto tls = load_ok(c);
  EXPECT_EQ(tls->certificates()[0].names, (std::vector<std::string>{"cn-only.example"}));
  EXPECT_NE(tls->context_for("cn-only.example"), nullptr);
}

TEST(ServerTls, FullChainIsSentAndVerifiesAgainstTheRoot) {
  const Files& f = files();
  testing::TestCa intermediate("veer test intermediate", &f.ca);
  X509Ptr leaf = intermediate.issue(f.ec.get(), "chained", "DNS:chained.example");
  Config c;
  c.default_certificate.cert = f.dir.write_certs("chain.crt", {leaf.get(), intermediate.cert()});
  c.default_certificate.key = f.fallback.key;
  auto tls = load_ok(c);
  Client client("chained.example");  // trusts the root only
  auto server = tls->new_session();
  ASSERT_EQ(run_handshake(*client.mem, *server), Hs::done) << server->error();
  EXPECT_EQ(SSL_get_verify_result(client.mem->ssl()), X509_V_OK);
  EXPECT_EQ(sk_X509_num(SSL_get_peer_cert_chain(client.mem->ssl())), 2);

  c.default_certificate.cert = f.dir.write_certs("reversed.crt", {intermediate.cert(), leaf.get()});
  ServerTlsResult r = ServerTls::load(c, TicketKeys::generate());
  EXPECT_FALSE(r.tls) << "the key matches the first certificate, which is the wrong one";
}

// mTLS: a client certificate from the client CA, presented by a MemClient.
struct MtlsClient : Client {
  explicit MtlsClient(bool with_cert) : Client("b.example") {
    if (!with_cert) return;
    SSL_use_certificate(mem->ssl(), cert.get());
    SSL_use_PrivateKey(mem->ssl(), files().ec.get());
  }
  X509Ptr cert = files().ca.issue(files().ec.get(), "client one", "");
};

TEST(ServerTls, ClientCertificatesRequiredAndOptional) {
  const Files& f = files();
  Config c = listener();
  c.client_ca = f.dir.write_certs("client-ca.crt", {f.ca.cert()});
  c.verify = Config::Verify::required;
  auto required = load_ok(c);
  c.verify = Config::Verify::optional;
  auto optional = load_ok(c);
  {
    MtlsClient client(false);
    auto server = required->new_session();
    Hs s = run_handshake(*client.mem, *server);
    // TLS 1.3: the server fails after the client's Finished; either way no request.
    EXPECT_EQ(s, Hs::failed);
    EXPECT_FALSE(server->peer_verified());
  }
  for (const auto* tls : {&required, &optional}) {
    MtlsClient client(true);
    auto server = (*tls)->new_session();
    ASSERT_EQ(run_handshake(*client.mem, *server), Hs::done) << server->error();
    EXPECT_TRUE(server->peer_verified());
    EXPECT_EQ(server->peer_subject(), "CN=client one,O=veer tests");
    EXPECT_EQ(server->peer_fingerprint_sha256(), detail::fingerprint_sha256(client.cert.get()));
  }
  {
    MtlsClient client(false);
    auto server = optional->new_session();
    ASSERT_EQ(run_handshake(*client.mem, *server), Hs::done) << server->error();
    EXPECT_FALSE(server->peer_verified());
    EXPECT_EQ(server->peer_subject(), "");
    EXPECT_EQ(server->peer_fingerprint_sha256(), "");
  }
  {
    testing::TestCa other("other CA");
    MtlsClient client(false);
    X509Ptr stranger = other.issue(f.ec.get(), "stranger", "");
    SSL_use_certificate(client.mem->ssl(), stranger.get());
    SSL_use_PrivateKey(client.mem->ssl(), f.ec.get());
    auto server = optional->new_session();
    EXPECT_EQ(run_handshake(*client.mem, *server), Hs::failed);
    EXPECT_NE(server->error().find("certificate verify failed: "), std::string::npos)
        << server->error();
  }
}

TEST(ServerTls, VerifyWithoutClientCaIsAnError) {
  Config c = listener();
  c.verify = Config::Verify::required;
  ServerTlsResult r = ServerTls::load(c, TicketKeys::generate());
  EXPECT_FALSE(r.tls);
  EXPECT_EQ(r.error.rfind("client_ca: ", 0), 0u) << r.error;
  c.client_ca = files().dir.file("absent-ca.crt");
  r = ServerTls::load(c, TicketKeys::generate());
  EXPECT_FALSE(r.tls);
  EXPECT_EQ(r.error, c.client_ca + ": cannot open: No such file or directory");
}

TEST(ServerTls, HasBufferedInputUntilReadPlainDrainsIt) {
  auto tls = load_ok(listener());
  Client client("b.example");
  auto server = tls->new_session();
  ASSERT_EQ(run_handshake(*client.mem, *server), Hs::done) << server->error();
  EXPECT_FALSE(server->has_buffered_input());
  std::string data(1000, 'x');
  std::size_t written = 0;
  ASSERT_EQ(SSL_write_ex(client.mem->ssl(), data.data(), data.size(), &written), 1);
  ASSERT_EQ(SSL_write_ex(client.mem->ssl(), data.data(), data.size(), &written), 1);
  client.mem->exchange(*server);
  EXPECT_TRUE(server->has_buffered_input()) << "two records fed, none read";
  char buf[600];
  std::size_t total = 0;
  while (server->has_buffered_input()) {
    TlsSession::IoResult r = server->read_plain(buf);
    ASSERT_EQ(r.status, TlsSession::Io::ok) << server->error();
    total += r.bytes;
  }
  EXPECT_EQ(total, 2000u);
  EXPECT_EQ(server->read_plain(buf).status, TlsSession::Io::want_input);
}

}  // namespace
}  // namespace veer::tls
