// The nginx export's top level: the version, the version-gated features, the file's
// frame (summary table, events, http) and the certificate names the callers read.

#include "admin/nginx_export.hpp"

#include <array>
#include <charconv>

#include "admin/nginx_export_detail.hpp"
#include "tls/detail.hpp"

namespace veer::admin {
namespace nginx {
namespace {

struct FeatureRow {
  Feature feature;
  NginxVersion since;
  const char* name;
};

// Every version-gated feature the export uses (docs/OPERATIONS.md keeps the same table).
constexpr std::array kFeatures{
    FeatureRow{Feature::limit_req_delay, {1, 15, 7}, "limit_req delay="},
    FeatureRow{Feature::limit_req_dry_run, {1, 17, 1}, "limit_req_dry_run"},
    FeatureRow{Feature::upstream_keepalive_timeout, {1, 15, 3}, "upstream keepalive_timeout"},
    FeatureRow{Feature::proxy_protocol_server_port, {1, 17, 6}, "$proxy_protocol_server_port"},
    FeatureRow{Feature::ssl_reject_handshake, {1, 19, 4}, "ssl_reject_handshake"},
    FeatureRow{Feature::ssl_conf_command, {1, 19, 4}, "ssl_conf_command"},
    FeatureRow{Feature::least_time, {1, 31, 0}, "least_time (OSS)"},
};

const FeatureRow& row_of(Feature feature) {
  for (const FeatureRow& row : kFeatures) {
    if (row.feature == feature) return row;
  }
  return kFeatures.front();
}

// The comment table on top: every gap, where it applies and what it is.
void write_summary(const std::vector<NginxExportGap>& gaps, const NginxExportOptions& options,
                   Writer& out) {
  out.comment("nginx configuration exported by veer (veer export nginx) for nginx " +
              to_string(options.version) + ".");
  out.comment("Gaps are what nginx OSS cannot express; each is also a \"GAP:\" comment where");
  out.comment("it applies. Check with: nginx -t -c THIS_FILE");
  out.comment("");
  if (gaps.empty()) {
    out.comment("No gaps: everything carried over.");
    return;
  }
  out.comment(std::to_string(gaps.size()) + " gap" + (gaps.size() == 1 ? "" : "s") + ":");
  std::size_t width = 5;
  for (const NginxExportGap& gap : gaps)
    width = std::max(width, gap.where.size());
  std::string head = "where";
  head.resize(width, ' ');
  out.comment("| " + head + " | what did not carry over");
  for (const NginxExportGap& gap : gaps) {
    std::string where = gap.where;
    where.resize(width, ' ');
    out.comment("| " + where + " | " + gap.what);
  }
}

// Main context: what veer's [server] and [timeouts].drain map to.
void write_main(const conf::Config& config, Writer& out) {
  out.directive("worker_processes " + (config.server.workers == 0
                                           ? std::string("auto")
                                           : std::to_string(config.server.workers)));
  out.comment("[timeouts].drain: workers finish requests in flight for at most this long.");
  out.directive("worker_shutdown_timeout " + duration(config.timeouts.drain));
  out.blank();
  out.open("events");
  out.comment("veer's limits.max_connections (" + std::to_string(config.limits.max_connections) +
              ") counts client connections of the whole process;");
  out.comment("nginx counts clients and upstream connections per worker.");
  out.close();
}

}  // namespace

NginxVersion feature_since(Feature feature) {
  return row_of(feature).since;
}

const char* feature_name(Feature feature) {
  return row_of(feature).name;
}

}  // namespace nginx

std::optional<NginxVersion> parse_nginx_version(std::string_view text) {
  NginxVersion version;
  int* parts[] = {&version.major, &version.minor, &version.patch};
  std::size_t given = 0;
  while (given < 3) {
    const std::size_t dot = text.find('.');
    const std::string_view part = text.substr(0, dot);
    const auto [end, error] =
        std::from_chars(part.data(), part.data() + part.size(), *parts[given]);
    if (part.empty() || part.size() > 4 || error != std::errc() || end != part.data() + part.size())
      return std::nullopt;
    ++given;
    if (dot == std::string_view::npos) break;
    text.remove_prefix(dot + 1);
    if (given == 3) return std::nullopt;
  }
  // Older nginx lacks what every export uses (map values mixing text and variables,
  // escape=json, worker_shutdown_timeout, proxy_next_upstream_tries).
  constexpr NginxVersion kOldest{1, 14, 0};
  if (given < 2 || version.major != 1 || version < kOldest) return std::nullopt;
  return version;
}

std::string to_string(const NginxVersion& version) {
  return std::to_string(version.major) + "." + std::to_string(version.minor) + "." +
         std::to_string(version.patch);
}

std::vector<std::string> certificate_file_names(const std::string& cert_file) {
  std::vector<tls::X509Ptr> certs;
  std::string error;
  if (!tls::detail::load_certs(cert_file, certs, error) || certs.empty()) return {};
  return tls::detail::dns_names(certs.front().get());
}

NginxExport export_nginx(const conf::Config& config, const NginxExportOptions& options) {
  nginx::Context ctx(config, options);
  nginx::Writer upstreams(1), servers(1), limits(1), common(1);
  nginx::write_upstreams(ctx, upstreams);
  nginx::write_servers(ctx, servers);
  nginx::write_limit_zones(ctx, limits);
  nginx::write_common_http(ctx, common);

  NginxExport result;
  for (const nginx::Writer* w : {&common, &ctx.maps, &limits, &upstreams, &servers})
    result.gaps.insert(result.gaps.end(), w->gaps().begin(), w->gaps().end());
  nginx::Writer top;
  nginx::write_summary(result.gaps, options, top);
  top.blank();
  nginx::write_main(config, top);
  result.text = top.text() + "\nhttp {\n";
  for (const nginx::Writer* w : {&common, &ctx.maps, &limits, &upstreams, &servers}) {
    if (w->text().empty()) continue;
    result.text += w->text();
    if (!w->text().ends_with("\n\n")) result.text += '\n';
  }
  result.text += "}\n";
  return result;
}

}  // namespace veer::admin
