#include "tls/server_tls.hpp"

#include <openssl/err.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <new>

#include "tls/detail.hpp"

namespace veer::tls {

namespace {

// Forward secrecy and AEAD only, for TLS 1.2 (TLS 1.3's suites all qualify). ECDSA
// and RSA certificates both match: the authentication is left open.
constexpr const char* kDefaultCiphers = "ECDHE+AESGCM:ECDHE+CHACHA20";

CertificateInfo describe(const detail::LoadedPair& pair) {
  X509* leaf = pair.certs.front().get();
  CertificateInfo info;
  info.cert_file = pair.cert_file;
  info.subject = detail::name_rfc2253(X509_get_subject_name(leaf));
  info.names = detail::dns_names(leaf);
  info.issuer = detail::name_rfc2253(X509_get_issuer_name(leaf));
  info.not_before = detail::unix_time(X509_get0_notBefore(leaf));
  info.not_after = detail::unix_time(X509_get0_notAfter(leaf));
  info.key_type = detail::key_type(pair.key.get());
  info.fingerprint_sha256 = detail::fingerprint_sha256(leaf);
  return info;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
  return v;
}

std::string setting_error(const char* key, const std::string& value) {
  std::string e = key;
  e += ": OpenSSL refused \"";
  e += value;
  e += "\" (";
  e += detail::openssl_reason();
  e += ")";
  return e;
}

}  // namespace

ServerTlsResult ServerTls::load(const conf::ListenerTlsConfig& config,
                                std::shared_ptr<TicketKeys> keys) {
  ServerTlsResult r;
  auto self = std::make_shared<ServerTls>(Key{}, config, std::move(keys));
  if (self->build(r.error, r.warnings)) r.tls = std::move(self);
  return r;
}

bool ServerTls::build(std::string& error, std::vector<std::string>& warnings) {
  int min_version = 0;
  if (!detail::parse_min_version(config_.min_version, min_version, error)) return false;
  std::vector<const conf::CertKeyConfig*> all{&config_.default_certificate};
  for (const conf::CertKeyConfig& c : config_.certificates)
    all.push_back(&c);
  const std::int64_t now = std::time(nullptr);
  for (const conf::CertKeyConfig* c : all) {
    detail::LoadedPair pair;
    if (!detail::load_pair(c->cert, c->key, now, pair, warnings, error)) return false;
    certificates_.push_back(describe(pair));
    if (certificates_.back().names.empty() && c != all.front()) {
      warnings.push_back(detail::file_error(c->cert, "no DNS name: SNI never selects it"));
    }
    Group* group = group_for(sorted(certificates_.back().names), min_version, error);
    if (group == nullptr) return false;
    const int type = EVP_PKEY_get_base_id(pair.key.get());
    if (std::find(group->key_types.begin(), group->key_types.end(), type) !=
        group->key_types.end()) {
      error = detail::file_error(c->cert, "another certificate has the same names and key type");
      return false;
    }
    if (!detail::install_chain(group->ctx.get(), pair.certs, pair.key.get())) {
      error = detail::file_error(
          c->cert, "OpenSSL refused the certificate or key: " + detail::openssl_reason());
      return false;
    }
    group->key_types.push_back(type);
  }
  configure_initial(groups_.front().ctx.get());
  index_names();
  return true;
}

// The group with exactly these names, or a new one with a configured context.
ServerTls::Group* ServerTls::group_for(const std::vector<std::string>& names, int min_version,
                                       std::string& error) {
  for (Group& g : groups_) {
    if (g.names == names) return &g;
  }
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) throw std::bad_alloc();
  detail::apply_server_settings(ctx.get(), min_version, keys_.get());
  if (!configure(ctx.get(), error)) return nullptr;
  groups_.push_back({std::move(ctx), names, {}});
  return &groups_.back();
}

// The listener's settings, the same on every context: the SSL takes some from its
// initial context at SSL_new (versions, options, groups, verify mode) and others from
// its current one (ciphers, certificates, CA names), so all must agree.
bool ServerTls::configure(SSL_CTX* ctx, std::string& error) const {
  const std::string ciphers = config_.ciphers.empty() ? kDefaultCiphers : config_.ciphers;
  if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1) {
    error = setting_error("ciphers", ciphers);
    return false;
  }
  if (!config_.ciphersuites.empty() &&
      SSL_CTX_set_ciphersuites(ctx, config_.ciphersuites.c_str()) != 1) {
    error = setting_error("ciphersuites", config_.ciphersuites);
    return false;
  }
  if (!config_.curves.empty() && SSL_CTX_set1_groups_list(ctx, config_.curves.c_str()) != 1) {
    error = setting_error("curves", config_.curves);
    return false;
  }
  if (!config_.session_tickets) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    // Without a cache TLS 1.3's stateful tickets could never be redeemed: send none.
    if (config_.session_cache == 0) SSL_CTX_set_num_tickets(ctx, 0);
  }
  if (config_.session_cache > 0) {
    // The cache itself is the initial context's (configure_initial), but OpenSSL reads
    // the mode from the SSL's current context when deciding whether to issue a session
    // id at all: a context chosen by SNI without the mode would make every session
    // single-use.
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  }
  if (config_.ticket_key_file.empty()) {
    // Generated keys stay usable for two rotation periods after they stop being current
    // (TicketKeys::kMaxKeys): the lifetime hint tells clients not to offer older tickets.
    const auto lifetime =
        std::chrono::duration_cast<std::chrono::seconds>(2 * config_.ticket_key_rotation);
    if (lifetime.count() > 0) SSL_CTX_set_timeout(ctx, static_cast<long>(lifetime.count()));
  }
  return configure_client_auth(ctx, error);
}

bool ServerTls::configure_client_auth(SSL_CTX* ctx, std::string& error) const {
  using Verify = conf::ListenerTlsConfig::Verify;
  if (config_.verify == Verify::off) return true;
  if (config_.client_ca.empty()) {
    error = "client_ca: required when verify is \"optional\" or \"required\"";
    return false;
  }
  std::string pem;
  if (!detail::read_file(config_.client_ca, pem, error)) return false;
  STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config_.client_ca.c_str());
  if (SSL_CTX_load_verify_file(ctx, config_.client_ca.c_str()) != 1 || names == nullptr) {
    sk_X509_NAME_pop_free(names, X509_NAME_free);
    error = detail::file_error(config_.client_ca,
                               "no CA certificate OpenSSL can use: " + detail::openssl_reason());
    return false;
  }
  SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
  int mode = SSL_VERIFY_PEER;
  if (config_.verify == Verify::required) mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
  SSL_CTX_set_verify(ctx, mode, nullptr);
  return true;
}

// What only the initial context does: choose by SNI, and hold the session cache.
void ServerTls::configure_initial(SSL_CTX* ctx) const {
  SSL_CTX_set_tlsext_servername_callback(ctx, on_servername);
  SSL_CTX_set_tlsext_servername_arg(ctx, const_cast<ServerTls*>(this));
  if (config_.session_cache > 0) {
    // For clients without tickets (and TLS 1.2 full handshakes, which OpenSSL also
    // caches). One cache for all workers, since they share this ServerTls: a session
    // resumes on any worker, but every insertion and lookup takes the context's lock
    // (and every 255th handshake flushes expired entries under it). A reload starts an
    // empty cache; tickets survive reloads through the shared TicketKeys.
    SSL_CTX_sess_set_cache_size(ctx, static_cast<long>(config_.session_cache));
  }
}

// First come first served: a name in two groups goes to the earlier (the default's, then
// the configured order).
void ServerTls::index_names() {
  for (std::size_t i = 0; i < groups_.size(); ++i) {
    for (const std::string& name : groups_[i].names) {
      if (name.size() > 2 && name.compare(0, 2, "*.") == 0) {
        wildcard_.emplace(name.substr(2), i);
      } else {
        exact_.emplace(name, i);
      }
    }
  }
}

SSL_CTX* ServerTls::context_for(std::string_view host) const {
  const std::string name = detail::normalize_host(host);
  if (auto it = exact_.find(name); it != exact_.end()) return groups_[it->second].ctx.get();
  const std::size_t dot = name.find('.');
  if (dot == std::string::npos || dot == 0) return nullptr;
  if (auto it = wildcard_.find(name.substr(dot + 1)); it != wildcard_.end()) {
    return groups_[it->second].ctx.get();
  }
  return nullptr;
}

// Runs in the handshake of the worker that owns `ssl`; reads only immutable state.
int ServerTls::on_servername(SSL* ssl, int* alert, void* arg) {
  const auto* self = static_cast<const ServerTls*>(arg);
  const char* host = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (host == nullptr) return SSL_TLSEXT_ERR_OK;  // no SNI: the default, already in place
  SSL_CTX* ctx = self->context_for(host);
  if (ctx == nullptr) {
    if (self->config_.unknown_sni == conf::ListenerTlsConfig::UnknownSni::use_default) {
      return SSL_TLSEXT_ERR_OK;
    }
    // Queued so that TlsSession::error() says why rather than "callback failed".
    ERR_raise(ERR_LIB_SSL, SSL_R_TLSV1_UNRECOGNIZED_NAME);
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  if (ctx != SSL_get_SSL_CTX(ssl)) {
    SSL_set_SSL_CTX(ssl, ctx);
    // SSL_set_SSL_CTX copies the certificates, not the verify settings: the contexts
    // agree on them today, and this keeps it true if one ever differs.
    SSL_set_verify(ssl, SSL_CTX_get_verify_mode(ctx), SSL_CTX_get_verify_callback(ctx));
    SSL_set_verify_depth(ssl, SSL_CTX_get_verify_depth(ctx));
  }
  return SSL_TLSEXT_ERR_OK;
}

std::unique_ptr<TlsSession> ServerTls::new_session() const {
  SslPtr ssl(SSL_new(groups_.front().ctx.get()));
  if (!ssl) throw std::bad_alloc();
  SSL_set_accept_state(ssl.get());
  return std::make_unique<TlsSession>(std::move(ssl), shared_from_this());
}

const conf::ListenerTlsConfig& ServerTls::config() const {
  return config_;
}

const std::vector<CertificateInfo>& ServerTls::certificates() const {
  return certificates_;
}

}  // namespace veer::tls
