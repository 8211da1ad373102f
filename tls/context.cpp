#include "tls/context.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <ctime>
#include <stdexcept>

#include "tls/detail.hpp"
#include "tls/session.hpp"

namespace veer::tls {

namespace {

// ALPN wire format: length-prefixed names. Only http/1.1 today; h2 would go first.
// The same value in every context, so that a ticket issued by one worker's context is
// accepted by another's (OpenSSL refuses a session whose id context differs).
constexpr unsigned char kSessionIdContext[] = {'v', 'e', 'e', 'r'};

TicketKeys::Key random_key() {
  TicketKeys::Key k;
  if (RAND_bytes(k.name.data(), static_cast<int>(k.name.size())) != 1 ||
      RAND_bytes(k.aes.data(), static_cast<int>(k.aes.size())) != 1 ||
      RAND_bytes(k.hmac.data(), static_cast<int>(k.hmac.size())) != 1) {
    throw std::runtime_error("TLS: the random generator failed to make a ticket key");
  }
  return k;
}

void cleanse(TicketKeys::Key& k) {
  OPENSSL_cleanse(&k, sizeof k);
}

// Selects http/1.1 when the client offers it. Any other list gets no ALPN at all
// (NOACK), not a handshake failure: the client then speaks HTTP/1.1 or finds out.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, detail::kAlpnHttp11, sizeof detail::kAlpnHttp11, in,
                            inlen) == OPENSSL_NPN_NEGOTIATED) {
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

bool set_hmac(EVP_MAC_CTX* hctx, TicketKeys::Key& k) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac.data(), k.key_size),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

const EVP_CIPHER* ticket_cipher(const TicketKeys::Key& k) {
  return k.key_size == 16 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
}

// OpenSSL 3's ticket-key callback. Returns 1 (key set), 2 (key set, and issue a fresh
// ticket: decrypted with an old key, or any TLS 1.3 resumption), 0 (unknown key: full handshake),
// -1 (error). OpenSSL calls the callback of the SSL's initial context, but `ssl`'s current context
// may be another one chosen by SNI: every context of a listener carries the same TicketKeys as app
// data, so either lookup finds the same keys.
int ticket_key_cb(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cctx,
                  EVP_MAC_CTX* hctx, int enc) {
  auto* keys = static_cast<TicketKeys*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (keys == nullptr) return -1;
  if (enc != 0) {
    TicketKeys::Key k = keys->current();
    const EVP_CIPHER* cipher = ticket_cipher(k);
    int ok = RAND_bytes(iv, EVP_CIPHER_get_iv_length(cipher)) == 1 &&
             EVP_EncryptInit_ex(cctx, cipher, nullptr, k.aes.data(), iv) == 1 && set_hmac(hctx, k);
    std::memcpy(key_name, k.name.data(), k.name.size());
    cleanse(k);
    return ok ? 1 : -1;
  }
  bool is_current = false;
  std::optional<TicketKeys::Key> k = keys->find(key_name, &is_current);
  if (!k) return 0;
  int ok = set_hmac(hctx, *k) &&
           EVP_DecryptInit_ex(cctx, ticket_cipher(*k), nullptr, k->aes.data(), iv) == 1;
  cleanse(*k);
  if (!ok) return -1;
  // TLS 1.3 sends a NewSessionTicket after a resumption only when asked to renew:
  // without one, a client that uses each ticket once (RFC 8446 C.4; browsers, OpenSSL)
  // has none left for its next connection and falls back to a full handshake.
  return is_current && SSL_version(ssl) < TLS1_3_VERSION ? 1 : 2;
}

}  // namespace

namespace detail {

bool parse_min_version(const std::string& v, int& out, std::string& error) {
  if (v == "1.2") {
    out = TLS1_2_VERSION;
  } else if (v == "1.3") {
    out = TLS1_3_VERSION;
  } else {
    error = "min_version must be \"1.2\" or \"1.3\", not \"";
    error += v;
    error += "\"";
    return false;
  }
  return true;
}

// veer's fixed settings. The session cache is off here: tickets carry the session
// state, so resumption works on any worker without a cache shared between threads.
// ServerTls turns a cache on for ticket-less clients when configured.
void apply_server_settings(SSL_CTX* ctx, int min_version, TicketKeys* keys) {
  SSL_CTX_set_min_proto_version(ctx, min_version);
  SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(
      ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // RELEASE_BUFFERS frees the SSL's record buffers (about 34 KiB) while a connection
  // is idle: keep-alive connections are mostly idle.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_session_id_context(ctx, kSessionIdContext, sizeof kSessionIdContext);
  SSL_CTX_set_alpn_select_cb(ctx, select_alpn, nullptr);
  SSL_CTX_set_app_data(ctx, keys);
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb);
}

bool install_chain(SSL_CTX* ctx, const std::vector<X509Ptr>& certs, EVP_PKEY* key) {
  // use_certificate selects the slot of the leaf's key type (RSA, EC, ...); the chain
  // and the key then go to that slot, so an RSA and an EC chain coexist in one context.
  if (SSL_CTX_use_certificate(ctx, certs.front().get()) != 1) return false;
  for (std::size_t i = 1; i < certs.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, certs[i].get()) != 1) return false;
  }
  return SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
}

}  // namespace detail

std::shared_ptr<TicketKeys> TicketKeys::generate() {
  auto keys = std::make_shared<TicketKeys>();
  keys->keys_.push_back(random_key());
  return keys;
}

std::shared_ptr<TicketKeys> TicketKeys::from_file(const std::string& path, std::string* error) {
  std::string bytes;
  std::string e;
  if (!detail::read_file(path, bytes, e)) {
    if (error != nullptr) *error = e;
    return nullptr;
  }
  Key k;
  if (bytes.size() == 80) {
    std::memcpy(k.name.data(), bytes.data(), 16);
    std::memcpy(k.hmac.data(), bytes.data() + 16, 32);
    std::memcpy(k.aes.data(), bytes.data() + 48, 32);
  } else if (bytes.size() == 48) {
    k.key_size = 16;
    std::memcpy(k.name.data(), bytes.data(), 16);
    std::memcpy(k.aes.data(), bytes.data() + 16, 16);
    std::memcpy(k.hmac.data(), bytes.data() + 32, 16);
  } else {
    if (error != nullptr) {
      *error = detail::file_error(
          path, "a ticket key file must be 80 or 48 bytes, not " + std::to_string(bytes.size()));
    }
    OPENSSL_cleanse(bytes.data(), bytes.size());
    return nullptr;
  }
  OPENSSL_cleanse(bytes.data(), bytes.size());
  auto keys = std::make_shared<TicketKeys>();
  keys->keys_.push_back(k);
  cleanse(k);
  return keys;
}

void TicketKeys::rotate() {
  TicketKeys::Key k = random_key();
  std::lock_guard lock(mu_);
  keys_.insert(keys_.begin(), k);
  while (keys_.size() > kMaxKeys) {
    cleanse(keys_.back());
    keys_.pop_back();
  }
  cleanse(k);
}

TicketKeys::Key TicketKeys::current() const {
  std::lock_guard lock(mu_);
  return keys_.front();
}

std::optional<TicketKeys::Key> TicketKeys::find(const unsigned char* name, bool* is_current) const {
  std::lock_guard lock(mu_);
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (std::memcmp(keys_[i].name.data(), name, keys_[i].name.size()) == 0) {
      *is_current = i == 0;
      return keys_[i];
    }
  }
  return std::nullopt;
}

TlsContextResult TlsContext::load(const TlsServerOptions& options,
                                  std::shared_ptr<TicketKeys> keys) {
  TlsContextResult r;
  int min_version = 0;
  detail::LoadedPair pair;
  std::vector<std::string> warnings;  // TlsContext has no place for them; ServerTls has
  if (!detail::parse_min_version(options.min_version, min_version, r.error) ||
      !detail::load_pair(options.cert_file, options.key_file, std::time(nullptr), pair, warnings,
                         r.error)) {
    return r;
  }
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) throw std::bad_alloc();
  detail::apply_server_settings(ctx.get(), min_version, keys.get());
  if (!detail::install_chain(ctx.get(), pair.certs, pair.key.get())) {
    r.error = detail::file_error(
        options.cert_file, "OpenSSL refused the certificate or key: " + detail::openssl_reason());
    return r;
  }
  r.context = std::make_shared<TlsContext>(Key{}, std::move(ctx), std::move(keys));
  return r;
}

std::unique_ptr<TlsSession> TlsContext::new_session() const {
  SslPtr ssl(SSL_new(ctx_.get()));
  if (!ssl) throw std::bad_alloc();
  SSL_set_accept_state(ssl.get());
  return std::make_unique<TlsSession>(std::move(ssl), shared_from_this());
}

}  // namespace veer::tls
