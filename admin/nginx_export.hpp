#pragma once

// The running configuration as an nginx configuration (GET /api/v1/export/nginx and
// `veer export nginx FILE`), for teams that run nginx. What nginx OSS cannot express is
// kept as a comment where it applies and listed as a gap: `--strict` fails on any gap.

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.hpp"
#include "conf/overrides.hpp"

namespace veer::admin {

// The nginx the export is for: what it can express depends on the version (Debian 12
// ships 1.22, the default).
struct NginxVersion {
  int major = 1;
  int minor = 22;
  int patch = 0;
  friend auto operator<=>(const NginxVersion&, const NginxVersion&) = default;
};

// "1.22", "1.25.3" (a missing patch level is 0), from 1.14 on; nullopt for anything else.
std::optional<NginxVersion> parse_nginx_version(std::string_view text);

struct NginxExportOptions {
  NginxVersion version;
  // The DNS names (SANs, else the CN) of a certificate file, so that certificates chosen
  // by SNI get server blocks with those names; unset or empty: not known (a gap). The
  // CLI and the admin API read the files (certificate_file_names); tests pass fakes.
  std::function<std::vector<std::string>(const std::string& cert_file)> certificate_names;
  // Backends held through the admin API (PATCH {"state": "drain" | "down"}), by (pool,
  // backend address as written): written `down`. The holds live in the runtime's
  // overrides, not in the configuration the export reads.
  std::map<std::pair<std::string, std::string>, conf::AdminState> held;
};

// The DNS names of the leaf certificate in PEM file `cert_file`; empty when unreadable.
std::vector<std::string> certificate_file_names(const std::string& cert_file);

// "1.22.1": what parse_nginx_version reads back.
std::string to_string(const NginxVersion& version);

// Something of veer's configuration that did not carry over to nginx.
struct NginxExportGap {
  std::string where;  // "upstream rpc-blue", "server :8545 location /", "limits public"
  std::string what;   // "active health check (http GET /health every 2s)"
};

struct NginxExport {
  std::string text;  // a complete nginx.conf (events and http blocks), summary table on top
  std::vector<NginxExportGap> gaps;
};

// Never throws for a configuration that loaded; pure (no files read or written).
NginxExport export_nginx(const conf::Config& config, const NginxExportOptions& options);

}  // namespace veer::admin
