#pragma once

// `veer check` on a listener's certificates: readable, key matches, chain in order
// (each certificate signed by the next), expiry (a warning under 14 days, an error once
// expired), and the listener's host routes covered by some certificate's SANs.

#include <cstdint>
#include <string>
#include <vector>

#include "conf/config.hpp"

namespace veer::tls {

struct CertificateReport {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

// `route_hosts`: the listener's routes' host values ("" entries are ignored).
// `now`: Unix time, so tests can move the clock.
CertificateReport check_certificates(const conf::ListenerTlsConfig& config,
                                     const std::vector<std::string>& route_hosts, std::int64_t now);

}  // namespace veer::tls
