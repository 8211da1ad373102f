#include "tls/context.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

namespace veer::tls {

namespace {

// ALPN wire format: length-prefixed names. Only http/1.1 today; h2 would go first.
constexpr unsigned char kAlpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

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

// Reads a whole file, with errno's text on failure: OpenSSL's own file BIO would say
// only "system lib".
bool read_file(const std::string& path, std::string& out, std::string& error) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    error = "cannot open '";
    error += path;
    error += "': ";
    error += std::strerror(errno);
    return false;
  }
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
    out.append(buf, n);
  const bool failed = std::ferror(f) != 0;
  std::fclose(f);
  if (failed) {
    error = "cannot read '";
    error += path;
    error += "'";
  }
  return !failed;
}

// Never lets OpenSSL prompt on the terminal for a passphrase: encrypted keys fail.
int no_passphrase(char*, int, int, void*) {
  return 0;
}

std::string file_error(const std::string& path, const char* what) {
  std::string e = "'";
  e += path;
  e += "': ";
  e += what;
  return e;
}

// The leaf and then the chain, in file order.
bool load_certs(const std::string& path, std::vector<X509Ptr>& certs, std::string& error) {
  std::string pem;
  if (!read_file(path, pem, error)) return false;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw std::bad_alloc();
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, no_passphrase, nullptr)) {
    certs.emplace_back(x);
  }
  ERR_clear_error();  // the loop ends on "no start line"
  if (certs.empty()) {
    error = file_error(path, "no PEM certificate in the file");
    return false;
  }
  return true;
}

bool load_key(const std::string& path, EvpPkeyPtr& key, std::string& error) {
  std::string pem;
  if (!read_file(path, pem, error)) return false;
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) throw std::bad_alloc();
  key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  OPENSSL_cleanse(pem.data(), pem.size());  // key material should not linger on the heap
  ERR_clear_error();
  if (!key) {
    error = file_error(path, "no unencrypted PEM private key in the file");
    return false;
  }
  return true;
}

// Expiry is refused at load so that a reload with an expired file keeps the old one.
bool check_validity(const std::string& path, X509* leaf, const EVP_PKEY* key, std::string& error) {
  if (X509_cmp_current_time(X509_get0_notAfter(leaf)) < 0) {
    error = file_error(path, "the certificate has expired");
    return false;
  }
  if (X509_cmp_current_time(X509_get0_notBefore(leaf)) > 0) {
    error = file_error(path, "the certificate is not valid yet");
    return false;
  }
  if (X509_check_private_key(leaf, key) != 1) {
    ERR_clear_error();
    error = file_error(path, "the private key does not match the certificate");
    return false;
  }
  return true;
}

// Selects http/1.1 when the client offers it. Any other list gets no ALPN at all
// (NOACK), not a handshake failure: the client then speaks HTTP/1.1 or finds out.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  unsigned char* chosen = nullptr;
  if (SSL_select_next_proto(&chosen, outlen, kAlpn, sizeof kAlpn, in, inlen) ==
      OPENSSL_NPN_NEGOTIATED) {
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

bool set_hmac(EVP_MAC_CTX* hctx, TicketKeys::Key& k) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac.data(), k.hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end()};
  return EVP_MAC_CTX_set_params(hctx, params) == 1;
}

// OpenSSL 3's ticket-key callback. Returns 1 (key set), 2 (decrypted with an old key:
// issue a fresh ticket), 0 (unknown key: full handshake), -1 (error).
int ticket_key_cb(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cctx,
                  EVP_MAC_CTX* hctx, int enc) {
  const auto* self = static_cast<const TlsContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  TicketKeys& keys = self->ticket_keys();
  const EVP_CIPHER* cipher = EVP_aes_256_cbc();
  if (enc != 0) {
    TicketKeys::Key k = keys.current();
    int ok = RAND_bytes(iv, EVP_CIPHER_get_iv_length(cipher)) == 1 &&
             EVP_EncryptInit_ex(cctx, cipher, nullptr, k.aes.data(), iv) == 1 && set_hmac(hctx, k);
    std::memcpy(key_name, k.name.data(), k.name.size());
    cleanse(k);
    return ok ? 1 : -1;
  }
  bool is_current = false;
  std::optional<TicketKeys::Key> k = keys.find(key_name, &is_current);
  if (!k) return 0;
  int ok = set_hmac(hctx, *k) && EVP_DecryptInit_ex(cctx, cipher, nullptr, k->aes.data(), iv) == 1;
  cleanse(*k);
  if (!ok) return -1;
  return is_current ? 1 : 2;
}

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

// veer's fixed settings. The session cache is off: tickets carry the session state,
// so resumption works on any worker without a cache shared between threads (a
// per-context cache would resume only on the worker that issued the session and costs
// memory and a lock per handshake). A shared cache for ticket-less clients is later work.
void apply_settings(SSL_CTX* ctx, int min_version) {
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
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_key_cb);
}

bool install_chain(SSL_CTX* ctx, std::vector<X509Ptr>& certs, EVP_PKEY* key) {
  if (SSL_CTX_use_certificate(ctx, certs.front().get()) != 1) return false;
  for (std::size_t i = 1; i < certs.size(); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, certs[i].get()) != 1) return false;
  }
  return SSL_CTX_use_PrivateKey(ctx, key) == 1 && SSL_CTX_check_private_key(ctx) == 1;
}

}  // namespace

std::shared_ptr<TicketKeys> TicketKeys::generate() {
  auto keys = std::make_shared<TicketKeys>();
  keys->keys_.push_back(random_key());
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
  std::vector<X509Ptr> certs;
  EvpPkeyPtr key;
  if (!parse_min_version(options.min_version, min_version, r.error) ||
      !load_certs(options.cert_file, certs, r.error) || !load_key(options.key_file, key, r.error) ||
      !check_validity(options.cert_file, certs.front().get(), key.get(), r.error)) {
    return r;
  }
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) throw std::bad_alloc();
  apply_settings(ctx.get(), min_version);
  if (!install_chain(ctx.get(), certs, key.get())) {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    r.error = file_error(options.cert_file, "OpenSSL refused the certificate or key: ");
    const char* reason = ERR_reason_error_string(e);
    r.error += reason != nullptr ? reason : "unknown reason";
    return r;
  }
  // The SSL_CTX points back at its owner for the ticket callback; the owner never moves.
  auto self = std::make_shared<TlsContext>(Key{}, std::move(ctx), std::move(keys));
  SSL_CTX_set_app_data(self->ctx_.get(), self.get());
  r.context = std::move(self);
  return r;
}

}  // namespace veer::tls
