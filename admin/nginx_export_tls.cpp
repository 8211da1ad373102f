// TLS: a listener's certificates (grouped by the names they serve, RSA and ECDSA side
// by side), protocols, ciphers, client certificates and sessions; TLS to a pool.

#include <algorithm>

#include "admin/nginx_export_detail.hpp"

namespace veer::admin::nginx {
namespace {

// nginx keeps about 4,000 sessions per megabyte of shared cache.
constexpr std::uint32_t kSessionsPerMegabyte = 4000;
// veer's TLS 1.2 list when `ciphers` is empty (tls/server_tls.cpp).
constexpr const char* kVeerDefaultCiphers = "ECDHE+AESGCM:ECDHE+CHACHA20";
// Debian's bundle of the system's trust store, for "ca = \"\"".
constexpr const char* kSystemTrustStore = "/etc/ssl/certs/ca-certificates.crt";

std::vector<std::string> names_of(const Context& ctx, const conf::CertKeyConfig& cert) {
  if (!ctx.options.certificate_names) return {};
  std::vector<std::string> names = ctx.options.certificate_names(cert.cert);
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

void write_protocols(Context& ctx, const conf::ListenerTlsConfig& tls, const std::string& where,
                     Writer& out) {
  out.directive(tls.min_version == "1.3" ? "ssl_protocols TLSv1.3"
                                         : "ssl_protocols TLSv1.2 TLSv1.3");
  out.directive("ssl_ciphers " + quote(tls.ciphers.empty() ? kVeerDefaultCiphers : tls.ciphers));
  out.directive("ssl_prefer_server_ciphers on");
  if (!tls.ciphersuites.empty()) {
    if (ctx.supports(Feature::ssl_conf_command)) {
      out.directive("ssl_conf_command Ciphersuites " + quote(tls.ciphersuites));
    } else {
      out.gap(where, "ciphersuites " + tls.ciphersuites + ": ssl_conf_command needs nginx 1.19.4");
    }
  }
  if (!tls.curves.empty()) out.directive("ssl_ecdh_curve " + quote(tls.curves));
}

void write_client_certificates(Context& ctx, const conf::ListenerTlsConfig& tls,
                               const std::string& where, Writer& out) {
  if (tls.verify == conf::ListenerTlsConfig::Verify::off && tls.client_ca.empty()) return;
  if (!tls.client_ca.empty()) out.directive("ssl_client_certificate " + quote(tls.client_ca));
  const char* verify = tls.verify == conf::ListenerTlsConfig::Verify::required   ? "on"
                       : tls.verify == conf::ListenerTlsConfig::Verify::optional ? "optional"
                                                                                 : "off";
  out.directive(std::string("ssl_verify_client ") + verify);
  if (!tls.client_fingerprint_header.empty())
    out.gap(where, "client_fingerprint_header " + tls.client_fingerprint_header +
                       ": nginx's $ssl_client_fingerprint is SHA-1, veer sends SHA-256");
  (void)ctx;
}

void write_sessions(const conf::ListenerConfig& listener, const std::string& where, Writer& out) {
  const conf::ListenerTlsConfig& tls = *listener.tls;
  if (tls.session_cache == 0) {
    out.directive("ssl_session_cache off");
  } else {
    const std::uint32_t mb = std::max<std::uint32_t>(
        1, (tls.session_cache + kSessionsPerMegabyte - 1) / kSessionsPerMegabyte);
    out.directive("ssl_session_cache shared:veer_tls_" + listener.name + ":" + std::to_string(mb) +
                  "m");
  }
  out.directive(std::string("ssl_session_tickets ") + (tls.session_tickets ? "on" : "off"));
  if (!tls.session_tickets) return;
  if (!tls.ticket_key_file.empty()) {
    out.gap(where,
            "ticket_key_file " + tls.ticket_key_file +
                ": veer's key file format is its own; give nginx ssl_session_ticket_key files");
  } else {
    out.gap(where, "ticket key rotation every " + duration(tls.ticket_key_rotation) +
                       ": nginx keeps its generated key until a restart");
  }
}

}  // namespace

std::vector<CertificateGroup> certificate_groups(const Context& ctx,
                                                 const conf::ListenerTlsConfig& tls) {
  std::vector<CertificateGroup> groups;
  groups.push_back(
      CertificateGroup{names_of(ctx, tls.default_certificate), {&tls.default_certificate}});
  for (const conf::CertKeyConfig& cert : tls.certificates) {
    std::vector<std::string> names = names_of(ctx, cert);
    auto same = std::find_if(groups.begin(), groups.end(), [&](const CertificateGroup& g) {
      return !names.empty() && g.names == names;
    });
    if (same != groups.end()) {
      same->certificates.push_back(&cert);
    } else {
      groups.push_back(CertificateGroup{std::move(names), {&cert}});
    }
  }
  return groups;
}

void write_listener_tls(Context& ctx, const conf::ListenerConfig& listener,
                        const std::vector<const conf::CertKeyConfig*>& certificates,
                        const std::string& where, Writer& out) {
  const conf::ListenerTlsConfig& tls = *listener.tls;
  for (const conf::CertKeyConfig* cert : certificates) {
    out.directive("ssl_certificate " + quote(cert->cert));
    out.directive("ssl_certificate_key " + quote(cert->key));
  }
  write_protocols(ctx, tls, where, out);
  write_client_certificates(ctx, tls, where, out);
  write_sessions(listener, where, out);
}

void write_upstream_tls(Context& ctx, const conf::PoolConfig& pool, const std::string& where,
                        Writer& out) {
  if (!pool.tls) return;
  const conf::UpstreamTlsConfig& tls = *pool.tls;
  out.comment("TLS to pool " + pool.name + ".");
  out.directive(std::string("proxy_ssl_verify ") + (tls.verify ? "on" : "off"));
  if (tls.verify) {
    out.directive("proxy_ssl_trusted_certificate " +
                  quote(tls.ca.empty() ? kSystemTrustStore : tls.ca));
    out.directive("proxy_ssl_verify_depth 8");
  }
  if (!tls.sni.empty()) {
    out.directive("proxy_ssl_server_name on");
    out.directive("proxy_ssl_name " + quote(tls.sni));
  } else if (tls.verify) {
    out.gap(where, "pool " + pool.name +
                       " verifies each backend's own host name: nginx checks one name "
                       "(proxy_ssl_name), here the upstream's");
  }
  if (!tls.cert.empty()) {
    out.directive("proxy_ssl_certificate " + quote(tls.cert));
    out.directive("proxy_ssl_certificate_key " + quote(tls.key));
  }
  (void)ctx;
}

}  // namespace veer::admin::nginx
