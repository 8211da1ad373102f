#include "tls/session.hpp"

#include "unit/tls/test_certs.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace veer::tls {
namespace {

using testing::MemClient;
using testing::run_handshake;
using Hs = TlsSession::Handshake;

// Keys and certificates are made once: RSA key generation is the slow part.
struct Certs {
  testing::TempDir dir;
  EvpPkeyPtr ec_key = testing::make_ec_key();
  EvpPkeyPtr rsa_key = testing::make_rsa_key();
  testing::CertFiles ec = testing::write_pair(dir, "ec", ec_key.get());
  testing::CertFiles rsa = testing::write_pair(dir, "rsa", rsa_key.get());
};
const Certs& certs() {
  static const Certs c;
  return c;
}

std::shared_ptr<const TlsContext> server_context(
    const testing::CertFiles& f, std::shared_ptr<TicketKeys> keys = TicketKeys::generate()) {
  TlsServerOptions o;
  o.cert_file = f.cert;
  o.key_file = f.key;
  TlsContextResult r = TlsContext::load(o, std::move(keys));
  if (!r.context) throw std::runtime_error(r.error);
  return r.context;
}

// The test's client: no verification (self-signed), versions as asked.
SslCtxPtr client_context(int min_version = 0, int max_version = 0) {
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_min_proto_version(ctx.get(), min_version);
  SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  return ctx;
}

// Client -> server: writes `data` in `piece`-sized writes, the server reads into an
// 8 KiB buffer; returns what the server read.
std::string client_to_server(MemClient& client, TlsSession& server, const std::string& data,
                             std::size_t piece) {
  std::string got;
  std::vector<char> buf(8192);
  for (std::size_t off = 0; off < data.size(); off += piece) {
    std::size_t n = std::min(piece, data.size() - off);
    std::size_t written = 0;
    EXPECT_EQ(SSL_write_ex(client.ssl(), data.data() + off, n, &written), 1);
    client.exchange(server);
    for (;;) {
      TlsSession::IoResult r = server.read_plain(buf);
      if (r.status != TlsSession::Io::ok) {
        EXPECT_EQ(r.status, TlsSession::Io::want_input) << server.error();
        break;
      }
      got.append(buf.data(), r.bytes);
    }
  }
  return got;
}

// Server -> client, symmetrically.
std::string server_to_client(MemClient& client, TlsSession& server, const std::string& data,
                             std::size_t piece) {
  std::string got;
  std::vector<char> buf(8192);
  for (std::size_t off = 0; off < data.size(); off += piece) {
    std::size_t n = std::min(piece, data.size() - off);
    TlsSession::IoResult w = server.write_plain({data.data() + off, n});
    EXPECT_EQ(w.status, TlsSession::Io::ok);
    EXPECT_EQ(w.bytes, n);
    client.exchange(server);
    EXPECT_TRUE(server.pending_output().empty());
    std::size_t r = 0;
    while (SSL_read_ex(client.ssl(), buf.data(), buf.size(), &r) == 1)
      got.append(buf.data(), r);
    ERR_clear_error();
  }
  return got;
}

TEST(TlsSession, HandshakeTls13EcdsaAndDataBothWays) {
  auto ctx = client_context();
  MemClient client(ctx.get());
  auto server_session = server_context(certs().ec)->new_session();
  TlsSession& server = *server_session;
  EXPECT_EQ(server.handshake(), Hs::want_input) << "nothing fed yet";
  ASSERT_EQ(run_handshake(client, server), Hs::done) << server.error();
  EXPECT_TRUE(server.handshake_done());
  EXPECT_EQ(server.version(), "TLSv1.3");
  EXPECT_FALSE(server.cipher().empty());
  EXPECT_FALSE(server.resumed());
  EXPECT_EQ(client_to_server(client, server, "GET / HTTP/1.1\r\n\r\n", 100),
            "GET / HTTP/1.1\r\n\r\n");
  EXPECT_EQ(server_to_client(client, server, "HTTP/1.1 200 OK\r\n\r\n", 100),
            "HTTP/1.1 200 OK\r\n\r\n");
}

TEST(TlsSession, HandshakeTls12Rsa) {
  auto ctx = client_context(TLS1_2_VERSION, TLS1_2_VERSION);
  MemClient client(ctx.get());
  auto server_session = server_context(certs().rsa)->new_session();
  TlsSession& server = *server_session;
  ASSERT_EQ(run_handshake(client, server), Hs::done) << server.error();
  EXPECT_EQ(server.version(), "TLSv1.2");
  EXPECT_NE(server.cipher().find("RSA"), std::string_view::npos) << server.cipher();
  EXPECT_EQ(client_to_server(client, server, "ping", 4), "ping");
}

TEST(TlsSession, OneMebibyteEachWayInPieces) {
  auto ctx = client_context();
  MemClient client(ctx.get());
  auto server_session = server_context(certs().ec)->new_session();
  TlsSession& server = *server_session;
  ASSERT_EQ(run_handshake(client, server), Hs::done) << server.error();
  std::string payload(1 << 20, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<char>((i * 131) ^ (i >> 9));
  }
  // Uneven pieces so that records and reads do not line up.
  EXPECT_EQ(client_to_server(client, server, payload, 10000), payload);
  EXPECT_EQ(server_to_client(client, server, payload, 65537), payload);
}

TEST(TlsSession, Tls11ClientIsRefused) {
  auto ctx = client_context(TLS1_VERSION, TLS1_1_VERSION);
  // Debian's default security level forbids TLS 1.1 in the client itself; lower it so
  // that the ClientHello is sent and it is veer that refuses it.
  SSL_CTX_set_security_level(ctx.get(), 0);
  SSL_CTX_set_cipher_list(ctx.get(), "DEFAULT:@SECLEVEL=0");
  MemClient client(ctx.get());
  auto server_session = server_context(certs().ec)->new_session();
  TlsSession& server = *server_session;
  int client_ret = 0;
  EXPECT_EQ(run_handshake(client, server, &client_ret), Hs::failed);
  EXPECT_NE(client_ret, 1);
  EXPECT_EQ(server.error(), "unsupported protocol");
  EXPECT_FALSE(server.handshake_done());
}

TEST(TlsSession, AlpnHttp11WhenOfferedAndNoneOtherwise) {
  {
    auto ctx = client_context();
    static const unsigned char offer[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_CTX_set_alpn_protos(ctx.get(), offer, sizeof offer);
    MemClient client(ctx.get());
    auto server_session = server_context(certs().ec)->new_session();
    TlsSession& server = *server_session;
    ASSERT_EQ(run_handshake(client, server), Hs::done) << server.error();
    EXPECT_EQ(server.alpn(), "http/1.1");
  }
  {
    auto ctx = client_context();
    static const unsigned char offer[] = {2, 'h', '2'};
    SSL_CTX_set_alpn_protos(ctx.get(), offer, sizeof offer);
    MemClient client(ctx.get());
    auto server_session = server_context(certs().ec)->new_session();
    TlsSession& server = *server_session;
    ASSERT_EQ(run_handshake(client, server), Hs::done) << server.error();
    EXPECT_EQ(server.alpn(), "") << "no match is no ALPN, not a failure";
  }
}

// A full handshake against `server_ctx`, then the client's resumable session.
SSL_SESSION* ticket_from(const std::shared_ptr<const TlsContext>& server_ctx, SSL_CTX* cctx) {
  MemClient client(cctx);
  auto server_session = server_ctx->new_session();
  TlsSession& server = *server_session;
  if (run_handshake(client, server) != Hs::done) return nullptr;
  // TLS 1.3 tickets come after the handshake: let the client read them.
  client.exchange(server);
  char byte;
  std::size_t n = 0;
  SSL_read_ex(client.ssl(), &byte, 1, &n);
  ERR_clear_error();
  SSL_SESSION* session = SSL_get1_session(client.ssl());
  // A client freed without close_notify marks its session not resumable (OpenSSL
  // treats it as possibly truncated), so close properly.
  SSL_shutdown(client.ssl());
  return session;
}

bool resumes_on(const std::shared_ptr<const TlsContext>& server_ctx, SSL_CTX* cctx,
                SSL_SESSION* session) {
  MemClient client(cctx);
  SSL_set_session(client.ssl(), session);
  auto server_session = server_ctx->new_session();
  TlsSession& server = *server_session;
  EXPECT_EQ(run_handshake(client, server), Hs::done) << server.error();
  EXPECT_EQ(server.resumed(), SSL_session_reused(client.ssl()) == 1);
  return server.resumed();
}

TEST(TlsSession, TicketFromOneContextResumesOnAnotherSharingKeysOnly) {
  for (int version : {TLS1_3_VERSION, TLS1_2_VERSION}) {
    SCOPED_TRACE(version);
    auto cctx = client_context(version, version);
    auto shared = TicketKeys::generate();
    auto worker_a = server_context(certs().ec, shared);
    auto worker_b = server_context(certs().ec, shared);
    auto stranger = server_context(certs().ec);  // its own keys
    SSL_SESSION* session = ticket_from(worker_a, cctx.get());
    ASSERT_NE(session, nullptr);
    EXPECT_TRUE(SSL_SESSION_is_resumable(session));
    EXPECT_TRUE(resumes_on(worker_b, cctx.get(), session));
    EXPECT_FALSE(resumes_on(stranger, cctx.get(), session)) << "full handshake instead";
    SSL_SESSION_free(session);
  }
}

TEST(TlsSession, TicketWithRotatedOutKeyMeansFullHandshake) {
  auto cctx = client_context(TLS1_3_VERSION, TLS1_3_VERSION);
  auto keys = TicketKeys::generate();
  auto server_ctx = server_context(certs().ec, keys);
  SSL_SESSION* session = ticket_from(server_ctx, cctx.get());
  ASSERT_NE(session, nullptr);
  keys->rotate();
  EXPECT_TRUE(resumes_on(server_ctx, cctx.get(), session)) << "previous key still decrypts";
  for (std::size_t i = 0; i < TicketKeys::kMaxKeys; ++i)
    keys->rotate();
  EXPECT_FALSE(resumes_on(server_ctx, cctx.get(), session));
  SSL_SESSION_free(session);
}

TEST(TlsSession, PlainHttpInsteadOfClientHelloFailsWithReason) {
  auto server_session = server_context(certs().ec)->new_session();
  TlsSession& server = *server_session;
  std::string http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  server.feed(http);
  EXPECT_EQ(server.handshake(), Hs::failed);
  EXPECT_EQ(server.error(), "http request");
}

TEST(TlsSession, GarbageInsteadOfClientHelloFailsWithReason) {
  {
    auto server_session = server_context(certs().ec)->new_session();
    TlsSession& server = *server_session;
    std::string garbage(64, '\x7f');
    server.feed(garbage);
    EXPECT_EQ(server.handshake(), Hs::failed);
    EXPECT_FALSE(server.error().empty());
  }
  {
    // A well-framed handshake record whose content is nonsense: refused with an alert.
    auto server_session = server_context(certs().ec)->new_session();
    TlsSession& server = *server_session;
    std::string record = {'\x16', '\x03', '\x01', '\x00', '\x20'};
    record.append(32, '\x7f');
    server.feed(record);
    EXPECT_EQ(server.handshake(), Hs::failed);
    EXPECT_FALSE(server.error().empty());
    EXPECT_FALSE(server.pending_output().empty()) << "an alert for the client";
  }
}

TEST(TlsSession, CloseNotifyFromClientThenFromServer) {
  auto ctx = client_context();
  MemClient client(ctx.get());
  auto server_session = server_context(certs().ec)->new_session();
  TlsSession& server = *server_session;
  ASSERT_EQ(run_handshake(client, server), Hs::done) << server.error();
  EXPECT_EQ(SSL_shutdown(client.ssl()), 0) << "sent, not yet answered";
  client.exchange(server);
  char buf[64];
  TlsSession::IoResult r = server.read_plain(buf);
  EXPECT_EQ(r.status, TlsSession::Io::closed);
  EXPECT_TRUE(server.close_notify()) << "both directions closed";
  client.exchange(server);
  EXPECT_EQ(SSL_shutdown(client.ssl()), 1) << "the client saw the server's close_notify";
}

TEST(TlsSession, CloseNotifyFromServerFirst) {
  auto ctx = client_context();
  MemClient client(ctx.get());
  auto server_session = server_context(certs().ec)->new_session();
  TlsSession& server = *server_session;
  ASSERT_EQ(run_handshake(client, server), Hs::done) << server.error();
  EXPECT_FALSE(server.close_notify()) << "the client has not answered yet";
  client.exchange(server);
  char buf[64];
  std::size_t n = 0;
  EXPECT_EQ(SSL_read_ex(client.ssl(), buf, sizeof buf, &n), 0);
  EXPECT_EQ(SSL_get_error(client.ssl(), 0), SSL_ERROR_ZERO_RETURN);
  ERR_clear_error();
  EXPECT_EQ(SSL_shutdown(client.ssl()), 1);
  client.exchange(server);
  EXPECT_TRUE(server.close_notify());
}

}  // namespace
}  // namespace veer::tls
