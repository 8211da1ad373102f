#pragma once

// Everything a TLS listener needs, loaded once per configuration or certificate change
// and immutable after: one SSL_CTX per group of certificates that share their names
// (an RSA and an ECDSA certificate for the same names sit in one context, and OpenSSL
// picks by what the client supports), chosen per handshake by SNI against the
// certificates' SANs (exact names, then wildcards), with the default certificate for
// clients without SNI or with an unknown name, or a refusal if so configured. Shared
// by all workers; sessions keep it alive through their owner pointer.

#include <openssl/ssl.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "conf/config.hpp"
#include "tls/context.hpp"
#include "tls/session.hpp"

namespace veer::tls {

// What GET /api/v1/certificates and `veer check` show of one certificate.
struct CertificateInfo {
  std::string cert_file;
  std::string subject;             // one line, RFC 2253 ("CN=a.example,O=Example")
  std::vector<std::string> names;  // DNS SANs (the CN when there is no SAN)
  std::string issuer;
  std::int64_t not_before = 0;     // Unix time
  std::int64_t not_after = 0;      // Unix time
  std::string key_type;            // "RSA 2048", "EC P-256"
  std::string fingerprint_sha256;  // lower-case hex, no separators
};

class ServerTls;

struct ServerTlsResult {
  std::shared_ptr<const ServerTls> tls;  // null when loading failed
  std::string error;                     // names the file and the problem, never key material
  std::vector<std::string> warnings;     // key file readable by others, expiring soon
};

class ServerTls : public std::enable_shared_from_this<ServerTls> {
 public:
  // `keys` must not be null; every listener of a process shares one TicketKeys unless
  // the listener names a ticket_key_file.
  static ServerTlsResult load(const conf::ListenerTlsConfig& config,
                              std::shared_ptr<TicketKeys> keys);

  // A server-side session for one accepted connection.
  std::unique_ptr<TlsSession> new_session() const;

  const conf::ListenerTlsConfig& config() const;
  // The default certificate first, then `certificates` in configured order.
  const std::vector<CertificateInfo>& certificates() const;

  // Public for make_shared only: the key is private, so only load() can call it.
  class Key {
    friend class ServerTls;
    Key() = default;
  };
  ServerTls(Key, conf::ListenerTlsConfig config, std::shared_ptr<TicketKeys> keys)
      : config_(std::move(config)), keys_(std::move(keys)) {}
  ServerTls(const ServerTls&) = delete;
  ServerTls& operator=(const ServerTls&) = delete;
  ~ServerTls() = default;

  // The context a client naming `host` (SNI) gets, or null for an unknown name.
  // Exact names first, then wildcards; case-insensitive. Public for tests.
  SSL_CTX* context_for(std::string_view host) const;

 private:
  // The certificates that share one set of names, in one context: at most one per key
  // type (OpenSSL keeps one certificate per slot: RSA, EC, ...).
  struct Group {
    SslCtxPtr ctx;
    std::vector<std::string> names;  // sorted
    std::vector<int> key_types;      // EVP_PKEY base ids installed
  };

  bool build(std::string& error, std::vector<std::string>& warnings);
  Group* group_for(const std::vector<std::string>& names, int min_version, std::string& error);
  bool configure(SSL_CTX* ctx, std::string& error) const;
  bool configure_client_auth(SSL_CTX* ctx, std::string& error) const;
  void configure_initial(SSL_CTX* ctx) const;
  void index_names();
  static int on_servername(SSL* ssl, int* alert, void* arg);

  conf::ListenerTlsConfig config_;
  std::shared_ptr<TicketKeys> keys_;  // every context's app data points at it
  // groups_[0] holds the default certificate, and its context is the initial context
  // of every session: its session cache and ticket callback are the ones OpenSSL
  // uses, whatever context SNI then switches to.
  std::vector<Group> groups_;
  std::unordered_map<std::string, std::size_t> exact_;     // name -> group index
  std::unordered_map<std::string, std::size_t> wildcard_;  // "example.com" for "*.example.com"
  std::vector<CertificateInfo> certificates_;
};

}  // namespace veer::tls
