#pragma once

// `veer check`'s TLS part: every TLS listener's certificates checked against its routes
// (tls/certificate_check.hpp), then the listeners' and pools' TLS material loaded the
// way `veer run` loads it (runtime/tls_set.hpp), so that a file veer would refuse at
// start (unreadable, key not matching, a bad cipher string) is an error here too.
// Messages name the listener or pool and the file, never key material. Main thread.

#include <cstdint>
#include <vector>

#include "conf/config.hpp"
#include "conf/load.hpp"

namespace veer::admin {

struct TlsCheck {
  std::vector<conf::ConfigError> errors;    // `veer run` would refuse the file
  std::vector<conf::ConfigError> warnings;  // it would start, but look (expiry, permissions)
};

// `now`: Unix time, so tests can move the clock. Each message once, at the position of
// the listener's or pool's tls table, prefixed with its key ("listeners.public.tls: ").
TlsCheck check_tls(const conf::Config& config, std::int64_t now);

}  // namespace veer::admin
