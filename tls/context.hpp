#pragma once

// The server side of TLS, compiled once (no Asio): a TlsContext is one SSL_CTX built
// from a certificate chain and key in PEM files, with veer's fixed settings. Sessions
// (tls_session.hpp) are created from it. The context is immutable after load(), so a
// reload builds a new one and swaps it in; sessions keep the old one alive through
// their shared_ptr until they end.

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace veer::tls {

// RAII for the OpenSSL objects the TLS layer owns.
struct SslCtxFree {
  void operator()(SSL_CTX* p) const { SSL_CTX_free(p); }
};
struct SslFree {
  void operator()(SSL* p) const { SSL_free(p); }
};
struct EvpPkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyFree>;
using X509Ptr = std::unique_ptr<X509, X509Free>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

// Session-ticket keys, held outside any one SSL_CTX so that every worker's context
// (and, through from_file, several veer instances) encrypts and decrypts
// tickets with the same keys: a client then resumes on whichever worker accepts it.
// Shared by shared_ptr; thread-safe, since workers' handshakes call it concurrently.
class TicketKeys {
 public:
  struct Key {
    std::array<unsigned char, 16> name{};  // sent in the clear inside the ticket
    std::array<unsigned char, 32> aes{};   // AES-256-CBC
    std::array<unsigned char, 32> hmac{};  // HMAC-SHA256
    // 32: AES-256 and a 32-byte HMAC key; 16: nginx's legacy 48-byte key files
    // (AES-128, a 16-byte HMAC key, using the first 16 bytes of each array).
    std::size_t key_size = 32;
  };

  // One random key. Throws std::runtime_error if the RNG fails.
  static std::shared_ptr<TicketKeys> generate();

  // One key from a file in nginx's ssl_session_ticket_key format, so that several veer
  // (or nginx) instances behind one address share tickets: 80 bytes (16 name, 32 HMAC,
  // 32 AES-256) or the legacy 48 (16 name, 16 AES-128, 16 HMAC). Null with `error` set
  // ("PATH: ...", never key bytes) when unreadable or of another size. Such keys are
  // rotated by replacing the file and reloading, not by rotate().
  static std::shared_ptr<TicketKeys> from_file(const std::string& path, std::string* error);

  // Makes a new random key current; the previous ones still decrypt (tickets they
  // issued are renewed on use), up to kMaxKeys in all.
  void rotate();

  Key current() const;
  // The key named `name` (16 bytes) and whether it is the current one.
  std::optional<Key> find(const unsigned char* name, bool* is_current) const;

  static constexpr std::size_t kMaxKeys = 3;

 private:
  // A mutex, not an atomic pointer swap: it is taken once per full or resumed
  // handshake, never per record, and rotation is rare.
  mutable std::mutex mu_;
  std::vector<Key> keys_;  // keys_.front() is current
};

struct TlsServerOptions {
  std::string cert_file;            // PEM: the leaf first, then the intermediates
  std::string key_file;             // PEM: an unencrypted private key
  std::string min_version = "1.2";  // "1.2" or "1.3"; 1.0 and 1.1 are never allowed
};

class TlsContext;

struct TlsContextResult {
  std::shared_ptr<const TlsContext> context;  // null when loading failed
  std::string error;                          // names the file and the problem, never key material
};

class TlsSession;

class TlsContext : public std::enable_shared_from_this<TlsContext> {
 public:
  // Loads and checks the certificate chain and key, and builds the SSL_CTX.
  // `keys` must not be null.
  static TlsContextResult load(const TlsServerOptions& options, std::shared_ptr<TicketKeys> keys);

  // Public for make_shared only: the key is private, so only load() can call it.
  class Key {
    friend class TlsContext;
    Key() = default;
  };
  TlsContext(Key, SslCtxPtr ctx, std::shared_ptr<TicketKeys> keys)
      : ctx_(std::move(ctx)), keys_(std::move(keys)) {}

  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;
  ~TlsContext() = default;

  // A server-side session (accept state) that keeps this context alive.
  std::unique_ptr<TlsSession> new_session() const;

  SSL_CTX* native() const { return ctx_.get(); }
  TicketKeys& ticket_keys() const { return *keys_; }

 private:
  SslCtxPtr ctx_;
  std::shared_ptr<TicketKeys> keys_;
};

}  // namespace veer::tls
