// The http block's shared part: timeouts, sizes, the WebSocket and request-id maps, the
// access log, and the gaps of what veer runs beside the proxy (admin API, metrics...).

#include "admin/nginx_export_detail.hpp"

namespace veer::admin::nginx {
namespace {

void write_timeouts(const conf::Config& config, Writer& out) {
  const conf::Timeouts& t = config.timeouts;
  out.comment("[timeouts] and [limits]");
  out.directive("client_header_timeout " + duration(t.client_header));
  out.directive("client_body_timeout " + duration(t.client_body));
  out.directive("send_timeout " + duration(t.client_send));
  out.directive("keepalive_timeout " + duration(t.client_idle));
  out.directive("proxy_connect_timeout " + duration(t.upstream_connect));
  out.directive("proxy_read_timeout " + duration(t.upstream_response));
  out.directive("proxy_send_timeout " + duration(t.upstream_response));
  out.directive("client_max_body_size " + std::to_string(config.limits.max_body_bytes));
  out.comment("limits.max_header_bytes " + std::to_string(config.limits.max_header_bytes) +
              " bounds the whole head in veer; nginx bounds each line by its buffers.");
  if (t.tunnel_idle != t.upstream_response)
    out.gap("http", "timeouts.tunnel_idle " + duration(t.tunnel_idle) +
                        ": nginx closes an idle WebSocket after proxy_read_timeout (" +
                        duration(t.upstream_response) + ")");
  if (t.tls_handshake != t.client_header)
    out.comment("timeouts.tls_handshake " + duration(t.tls_handshake) +
                ": nginx bounds the handshake with client_header_timeout.");
}

// Requests go out as HTTP/1.1 on keep-alive connections; only a WebSocket upgrade
// passes (veer drops other Upgrade values, e.g. h2c), and without one the Connection
// header stays empty so the upstream connection is kept alive.
void write_upgrade_maps(Writer& out) {
  out.directive("proxy_http_version 1.1");
  out.open("map $http_upgrade $veer_upgrade");
  out.directive("\"~*^websocket$\" $http_upgrade");
  out.directive("default \"\"");
  out.close();
  out.open("map $http_upgrade $veer_connection_upgrade");
  out.directive("\"~*^websocket$\" upgrade");
  out.directive("default \"\"");
  out.close();
}

// veer keeps a valid X-Request-Id (at most 128 printable characters) or makes one, sends
// it to the backend and returns it to the client in place of the backend's.
void write_request_id(Writer& out) {
  out.open("map $http_x_request_id $veer_request_id");
  out.directive("\"~^[!-~]{1,128}$\" $http_x_request_id");
  out.directive("default $request_id");
  out.close();
  out.directive("proxy_hide_header X-Request-Id");
  out.directive("add_header X-Request-Id $veer_request_id always");
}

void write_access_log(const conf::Config& config, Writer& out) {
  out.line("log_format veer_json escape=json");
  out.line(
      "'{\"time\":\"$time_iso8601\",\"client\":\"$remote_addr\",\"method\":\"$request_method\",'");
  out.line("'\"path\":\"$request_uri\",\"status\":$status,\"bytes\":$body_bytes_sent,'");
  out.line("'\"duration_ms\":$request_time,\"backend\":\"$upstream_addr\",'");
  out.line("'\"request_id\":\"$veer_request_id\"}';");
  const std::string& log = config.server.access_log;
  if (log == "off") {
    out.directive("access_log off");
  } else {
    out.directive("access_log " + quote(log == "stdout" ? "/dev/stdout" : log) + " veer_json");
  }
}

void write_service_gaps(const conf::Config& config, Writer& out) {
  if (config.admin.enabled)
    out.gap("http", "admin API on " + config.admin.address +
                        " (runtime changes, drains, splits, rollouts): reload nginx instead");
  if (config.admin.enabled && config.admin.metrics)
    out.gap("http", "Prometheus /metrics (stub_status has a few counters)");
  if (!config.server.state_file.empty())
    out.gap("http",
            "state_file " + config.server.state_file + " (runtime changes kept across restarts)");
  if (config.cluster.enabled)
    out.gap("http", "[cluster] redis " + config.cluster.redis +
                        ": nginx shares no state between instances");
  out.comment("[server] io_engine " + std::string(conf::to_string(config.server.io_engine)) +
              ": nginx picks its own event method.");
}

}  // namespace

void write_common_http(Context& ctx, Writer& out) {
  write_service_gaps(ctx.config, out);
  write_timeouts(ctx.config, out);
  out.blank();
  write_upgrade_maps(out);
  write_request_id(out);
  if (ctx.underscores_in_headers) {
    out.comment("A key or override header has '_' in its name.");
    out.directive("underscores_in_headers on");
  }
  write_access_log(ctx.config, out);
  out.blank();
}

}  // namespace veer::admin::nginx
