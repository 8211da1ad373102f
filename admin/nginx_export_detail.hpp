#pragma once

// Shared by the parts of the nginx export (admin/nginx_export*.cpp): the context they
// write through, the version-gated features, and the variables that several blocks use.

#include <map>
#include <string>
#include <string_view>

#include "admin/nginx_export.hpp"
#include "admin/nginx_writer.hpp"
#include "conf/config.hpp"

namespace veer::admin::nginx {

// What the export uses only from a given nginx version on (the table in
// docs/OPERATIONS.md, "Export to nginx").
enum class Feature {
  limit_req_delay,             // limit_req ... delay=N
  limit_req_dry_run,           // limit_req_dry_run on
  upstream_keepalive_timeout,  // keepalive_timeout in an upstream
  proxy_protocol_server_port,  // $proxy_protocol_server_port
  ssl_reject_handshake,        // refuse unknown SNI
  ssl_conf_command,            // TLS 1.3 suites (ssl_conf_command Ciphersuites)
  least_time,                  // least_time in OSS (the 1.31)
};
NginxVersion feature_since(Feature feature);
const char* feature_name(Feature feature);

struct Context {
  Context(const conf::Config& c, const NginxExportOptions& o) : config(c), options(o) {}
  const conf::Config& config;
  const NginxExportOptions& options;
  Writer maps{1};  // http-level map, geo and split_clients blocks, written on demand
  bool underscores_in_headers = false;
  // What was written once and is used again: "split:NAME", "conn:LISTENER",
  // "trusted:LISTENER" -> the variable or zone name.
  std::map<std::string, std::string> made;

  bool supports(Feature feature) const { return options.version >= feature_since(feature); }
  // The variable holding a request key as runtime/request_key.cpp reads it: client_ip,
  // header:NAME or cookie:NAME, falling back to the client address when absent or
  // empty. "" (and a gap in `out`) when nginx cannot read that header or cookie.
  std::string key_variable(std::string_view spec, const std::string& where, Writer& out);
  // $http_name for a header, "" (and a gap) when nginx has no variable for it.
  std::string header_variable(std::string_view name, const std::string& where, Writer& out);
  // A variable holding cookie `name`'s value ("" when absent).
  std::string cookie_variable(std::string_view name);
  // A fresh name for a regex capture ("veer_c3").
  std::string capture_name() { return "veer_c" + std::to_string(++captures_); }
  // `base` made into a variable name (letters, digits, '_') not handed out before.
  std::string unique_variable(std::string_view base);
  // The same as a variable reference: "$veer_split_rpc_pool".
  std::string new_variable(std::string_view base) {
    std::string variable = "$";  // appended: GCC 12 warns falsely (-Wrestrict) on "$" + string
    variable += unique_variable(base);
    return variable;
  }

 private:
  std::map<std::string, std::string> key_variables_;  // spec -> variable
  std::map<std::string, std::string> used_names_;
  int captures_ = 0;
};

// Parts of the http block, in the order export_nginx writes them.
void write_common_http(Context& ctx, Writer& out);  // nginx_export_http.cpp
void write_limit_zones(Context& ctx, Writer& out);  // nginx_export_limits.cpp
void write_upstreams(Context& ctx, Writer& out);    // nginx_export_upstreams.cpp
void write_servers(Context& ctx, Writer& out);      // nginx_export_servers.cpp

// In a server or location: limit_req for the policies `names` (nginx_export_limits.cpp).
void write_limit_reqs(Context& ctx, const std::vector<std::string>& names, const std::string& where,
                      Writer& out);
// In a server: the per-client connection cap of `listener`.
void write_limit_conn(Context& ctx, const conf::ListenerConfig& listener, Writer& out);

// In a server: realip for trusted_proxies, and the headers veer sends to the backend
// (nginx_export_headers.cpp).
void write_real_ip(Context& ctx, const conf::ListenerConfig& listener, Writer& out);
void write_proxy_headers(Context& ctx, const conf::ListenerConfig& listener, Writer& out);

// In a server: the listener's TLS (nginx_export_tls.cpp). `certificates`: the ones
// this server block presents (the default's group or an SNI group).
void write_listener_tls(Context& ctx, const conf::ListenerConfig& listener,
                        const std::vector<const conf::CertKeyConfig*>& certificates,
                        const std::string& where, Writer& out);
// The certificates of a TLS listener grouped by the names they serve: the default
// certificate's group first ("" names: unknown), then one group per other name set.
struct CertificateGroup {
  std::vector<std::string> names;  // DNS names (SANs or CN); empty when not known
  std::vector<const conf::CertKeyConfig*> certificates;
};
std::vector<CertificateGroup> certificate_groups(const Context& ctx,
                                                 const conf::ListenerTlsConfig& tls);
// In a location proxying to `pool`: proxy_ssl_* when the pool speaks TLS.
void write_upstream_tls(Context& ctx, const conf::PoolConfig& pool, const std::string& where,
                        Writer& out);

// The variable naming the pool a split sends the request to, its maps written into
// ctx.maps on first use (nginx_export_splits.cpp).
std::string split_pool_variable(Context& ctx, const conf::SplitConfig& split, Writer& out);

}  // namespace veer::admin::nginx
