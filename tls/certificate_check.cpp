#include "tls/certificate_check.hpp"

#include "tls/detail.hpp"

namespace veer::tls {

namespace {

// A route host may carry a port ("api.example:8443"); IPv6 literals ("[::1]:443") keep
// their brackets off.
std::string host_without_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    std::size_t end = host.find(']');
    return std::string(host.substr(1, end == std::string_view::npos ? host.npos : end - 1));
  }
  std::size_t colon = host.find(':');
  if (colon != std::string_view::npos && host.find(':', colon + 1) == std::string_view::npos) {
    host = host.substr(0, colon);
  }
  return std::string(host);
}

struct Covered {
  std::vector<std::string> names;  // every certificate's names
  std::vector<std::string> files;  // the certificate files, for the message
};

void check_route_hosts(const Covered& covered, const std::vector<std::string>& route_hosts,
                       CertificateReport& report) {
  std::string files;
  for (const std::string& f : covered.files) {
    if (!files.empty()) files += ", ";
    files += f;
  }
  for (const std::string& raw : route_hosts) {
    if (raw.empty()) continue;
    const std::string host = detail::normalize_host(host_without_port(raw));
    bool found = false;
    for (const std::string& pattern : covered.names) {
      found = found || detail::name_matches(pattern, host);
    }
    if (!found) {
      report.warnings.push_back("route host \"" + raw + "\" is in no certificate's names (" +
                                files + "): clients will see a name mismatch");
    }
  }
}

void check_client_ca(const conf::ListenerTlsConfig& config, CertificateReport& report) {
  if (config.verify == conf::ListenerTlsConfig::Verify::off || config.client_ca.empty()) return;
  std::vector<X509Ptr> cas;
  std::string error;
  if (!detail::load_certs(config.client_ca, cas, error)) report.errors.push_back(error);
}

}  // namespace

// The same per-file checks as ServerTls::load (detail::load_pair), at `now`, without
// stopping at the first bad file, plus what only `veer check` looks at: route hosts.
CertificateReport check_certificates(const conf::ListenerTlsConfig& config,
                                     const std::vector<std::string>& route_hosts,
                                     std::int64_t now) {
  CertificateReport report;
  std::vector<const conf::CertKeyConfig*> all{&config.default_certificate};
  for (const conf::CertKeyConfig& c : config.certificates)
    all.push_back(&c);
  Covered covered;
  for (const conf::CertKeyConfig* c : all) {
    detail::LoadedPair pair;
    std::string error;
    if (!detail::load_pair(c->cert, c->key, now, pair, report.warnings, error)) {
      report.errors.push_back(error);
    }
    // Names count even from a refused file: one error per problem, not a cascade.
    if (!pair.certs.empty()) {
      std::vector<std::string> names = detail::dns_names(pair.certs.front().get());
      covered.names.insert(covered.names.end(), names.begin(), names.end());
      covered.files.push_back(c->cert);
    }
  }
  check_client_ca(config, report);
  check_route_hosts(covered, route_hosts, report);
  return report;
}

}  // namespace veer::tls
