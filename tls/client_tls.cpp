#include "tls/client_tls.hpp"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <ctime>
#include <new>

#include "tls/detail.hpp"

namespace veer::tls {

namespace {

bool is_ip_address(const std::string& host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 ||
         ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// "[::1]" as written in an address -> "::1".
std::string bare_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return std::string(host);
}

bool configure_trust(SSL_CTX* ctx, const conf::UpstreamTlsConfig& config, std::string& error) {
  if (!config.verify) {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    return true;
  }
  if (config.ca.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
      error = "ca: cannot load the system's trust store: " + detail::openssl_reason();
      return false;
    }
  } else {
    std::string pem;
    if (!detail::read_file(config.ca, pem, error)) return false;
    if (SSL_CTX_load_verify_file(ctx, config.ca.c_str()) != 1) {
      error = detail::file_error(config.ca,
                                 "no CA certificate OpenSSL can use: " + detail::openssl_reason());
      return false;
    }
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  // No partial wildcards ("a*.example"), as browsers and curl.
  X509_VERIFY_PARAM_set_hostflags(SSL_CTX_get0_param(ctx), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return true;
}

// The client certificate, for backends that require one. The same checks as a
// listener's certificates (key matches, chain order, not expired).
bool configure_client_certificate(SSL_CTX* ctx, const conf::UpstreamTlsConfig& config,
                                  std::string& error) {
  if (config.cert.empty() && config.key.empty()) return true;
  if (config.cert.empty() || config.key.empty()) {
    error = "cert and key: both or neither";
    return false;
  }
  detail::LoadedPair pair;
  std::vector<std::string> warnings;  // no place to report them; `veer check` does
  if (!detail::load_pair(config.cert, config.key, std::time(nullptr), pair, warnings, error)) {
    return false;
  }
  if (!detail::install_chain(ctx, pair.certs, pair.key.get())) {
    error = detail::file_error(
        config.cert, "OpenSSL refused the certificate or key: " + detail::openssl_reason());
    return false;
  }
  return true;
}

}  // namespace

ClientTlsResult ClientTls::load(const conf::UpstreamTlsConfig& config) {
  ClientTlsResult r;
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) throw std::bad_alloc();
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  // No client-side session reuse yet: it would need a session kept per backend.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  if (SSL_CTX_set_alpn_protos(ctx.get(), detail::kAlpnHttp11, sizeof detail::kAlpnHttp11) != 0)
    throw std::bad_alloc();
  if (!configure_trust(ctx.get(), config, r.error) ||
      !configure_client_certificate(ctx.get(), config, r.error)) {
    return r;
  }
  r.tls = std::make_shared<ClientTls>(Key{}, config, std::move(ctx));
  return r;
}

std::unique_ptr<TlsSession> ClientTls::new_session(std::string_view backend_host) const {
  SslPtr ssl(SSL_new(ctx_.get()));
  if (!ssl) throw std::bad_alloc();
  const std::string name = config_.sni.empty() ? bare_host(backend_host) : config_.sni;
  const bool ip = is_ip_address(name);
  // RFC 6066: SNI carries host names only, never an address. A name OpenSSL refuses
  // (over 255 bytes) goes without SNI and fails verification instead.
  if (!ip && !name.empty() && SSL_set_tlsext_host_name(ssl.get(), name.c_str()) != 1) {
    ERR_clear_error();
  }
  if (config_.verify && !name.empty()) {
    const int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), name.c_str())
                      : SSL_set1_host(ssl.get(), name.c_str());
    if (ok != 1) throw std::bad_alloc();
  }
  SSL_set_connect_state(ssl.get());
  return std::make_unique<TlsSession>(std::move(ssl), shared_from_this());
}

const conf::UpstreamTlsConfig& ClientTls::config() const {
  return config_;
}

}  // namespace veer::tls
