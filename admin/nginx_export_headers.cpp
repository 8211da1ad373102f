// Client identity as veer derives it (docs/OPERATIONS.md, "Client identity"): realip for
// trusted_proxies, and X-Forwarded-*, X-Real-IP, Forwarded as veer sends them.

#include "admin/nginx_export_detail.hpp"

namespace veer::admin::nginx {
namespace {

std::string prefix_text(const core::IpPrefix& prefix) {
  char text[core::IpAddress::kMaxText];
  const std::size_t length = prefix.address.format(text);
  return std::string(text, length) + "/" + std::to_string(prefix.bits);
}

// The connection's origin: the PROXY protocol source, else the TCP peer.
std::string origin_variable(const conf::ListenerConfig& listener) {
  return listener.proxy_protocol ? "$proxy_protocol_addr" : "$realip_remote_addr";
}

// $veer_trusted_L: 1 when the origin is one of the listener's trusted proxies.
std::string trusted_variable(Context& ctx, const conf::ListenerConfig& listener) {
  std::string& variable = ctx.made["trusted:" + listener.name];
  if (!variable.empty()) return variable;
  variable = ctx.new_variable("veer_trusted_" + listener.name);
  ctx.maps.comment("Listener " + listener.name + ": is the origin a trusted proxy?");
  ctx.maps.open("geo " + origin_variable(listener) + " " + variable);
  ctx.maps.directive("default 0");
  for (const core::IpPrefix& p : listener.trusted_proxies)
    ctx.maps.directive(prefix_text(p) + " 1");
  ctx.maps.close();
  return variable;
}

// A header a trusted origin's value is kept for, else `fallback` (veer's own).
std::string kept_if_trusted(Context& ctx, const conf::ListenerConfig& listener,
                            std::string_view header, const std::string& kept,
                            const std::string& fallback) {
  std::string& variable = ctx.made["kept:" + listener.name + ":" + std::string(header)];
  if (!variable.empty()) return variable;
  const std::string trusted = trusted_variable(ctx, listener);
  const std::string source = "$http_" + std::string(header);
  variable = ctx.new_variable("veer_" + listener.name + "_" + std::string(header));
  const std::string capture = ctx.capture_name();
  ctx.maps.open("map " + quote(trusted + "|" + source) + " " + variable);
  // `kept` names the kept value "$kept": the capture takes its place.
  std::string value;
  for (std::size_t from = 0;;) {
    const std::size_t at = kept.find("$kept", from);
    value.append(kept, from, at == std::string::npos ? std::string::npos : at - from);
    if (at == std::string::npos) break;
    value.append("$").append(capture);
    from = at + 5;
  }
  ctx.maps.directive(quoted("~^1\\|(?<" + capture + ">.+)$") + " " + quote(value));
  ctx.maps.directive("default " + (fallback.empty() ? std::string("\"\"") : quote(fallback)));
  ctx.maps.close();
  return variable;
}

std::string port_variable(Context& ctx, const conf::ListenerConfig& listener, Writer& out) {
  if (!listener.proxy_protocol) return "$server_port";
  if (ctx.supports(Feature::proxy_protocol_server_port)) return "$proxy_protocol_server_port";
  out.gap("listener " + listener.name, "X-Forwarded-Port from the PROXY header needs nginx 1.17.6");
  return "$server_port";
}

void write_client_certificate_headers(Context& ctx, const conf::ListenerConfig& listener,
                                      Writer& out) {
  if (!listener.tls) return;
  const conf::ListenerTlsConfig& tls = *listener.tls;
  if (!tls.client_subject_header.empty()) {
    std::string& variable = ctx.made["subject:" + listener.name];
    if (variable.empty()) {
      variable = ctx.new_variable("veer_" + listener.name + "_client_subject");
      ctx.maps.open("map $ssl_client_verify " + variable);
      ctx.maps.directive("SUCCESS $ssl_client_s_dn");
      ctx.maps.directive("default \"\"");
      ctx.maps.close();
    }
    out.directive("proxy_set_header " + quote(tls.client_subject_header) + " " + variable);
  }
  if (!tls.client_fingerprint_header.empty())
    out.directive("proxy_set_header " + quote(tls.client_fingerprint_header) + " \"\"");
}

}  // namespace

void write_real_ip(Context& ctx, const conf::ListenerConfig& listener, Writer& out) {
  const std::string where = "listener " + listener.name;
  if (listener.trusted_proxies.empty()) return;
  for (const core::IpPrefix& p : listener.trusted_proxies)
    out.directive("set_real_ip_from " + prefix_text(p));
  if (listener.proxy_protocol) {
    out.directive("real_ip_header proxy_protocol");
    out.gap(where,
            "X-Forwarded-For behind the PROXY protocol: nginx's realip reads one source, "
            "the PROXY header; veer then walks X-Forwarded-For from a trusted PROXY source");
    out.gap(where,
            "PROXY protocol only from trusted_proxies: nginx takes a PROXY header from any peer");
  } else {
    out.directive("real_ip_header X-Forwarded-For");
    out.directive("real_ip_recursive on");
    out.comment(
        "veer also reads RFC 7239 Forwarded when X-Forwarded-For is absent; nginx does not.");
  }
  (void)ctx;
}

void write_proxy_headers(Context& ctx, const conf::ListenerConfig& listener, Writer& out) {
  out.directive("proxy_set_header Host $http_host");
  out.directive("proxy_set_header X-Real-IP $remote_addr");
  out.directive("proxy_set_header X-Request-Id $veer_request_id");
  out.directive("proxy_set_header Upgrade $veer_upgrade");
  out.directive("proxy_set_header Connection $veer_connection_upgrade");
  const std::string port = port_variable(ctx, listener, out);
  if (listener.trusted_proxies.empty()) {
    out.directive("proxy_set_header X-Forwarded-For $remote_addr");
    out.directive("proxy_set_header X-Forwarded-Proto $scheme");
    out.directive("proxy_set_header X-Forwarded-Host $http_host");
    out.directive("proxy_set_header X-Forwarded-Port " + port);
    out.directive("proxy_set_header Forwarded \"\"");
  } else {
    const std::string origin = origin_variable(listener);
    out.comment("From a trusted origin veer keeps these headers (and appends the origin to");
    out.comment("X-Forwarded-For); from any other it writes its own.");
    auto set = [&](std::string_view name, std::string_view var, const std::string& kept,
                   const std::string& fallback) {
      out.directive("proxy_set_header " + std::string(name) + " " +
                    kept_if_trusted(ctx, listener, var, kept, fallback));
    };
    set("X-Forwarded-For", "x_forwarded_for", "$kept, " + origin, "$remote_addr");
    set("X-Forwarded-Proto", "x_forwarded_proto", "$kept", "$scheme");
    set("X-Forwarded-Host", "x_forwarded_host", "$kept", "$http_host");
    set("X-Forwarded-Port", "x_forwarded_port", "$kept", port);
    set("Forwarded", "forwarded", "$kept", "");
  }
  write_client_certificate_headers(ctx, listener, out);
}

}  // namespace veer::admin::nginx
