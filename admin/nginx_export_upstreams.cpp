// Pools as upstream blocks: the strategy, weights, backup backends, passive health as
// max_fails/fail_timeout, keep-alive; what has no OSS equivalent becomes a gap.

#include <algorithm>

#include "admin/nginx_export_detail.hpp"

namespace veer::admin::nginx {
namespace {

std::string health_text(const conf::HealthConfig& h) {
  std::string text;
  switch (h.type) {
    case conf::HealthConfig::Type::http:
      text = "http " + h.http_method + " " + h.path;
      break;
    case conf::HealthConfig::Type::tcp:
      text = "tcp connect";
      break;
    case conf::HealthConfig::Type::jsonrpc:
      text = "jsonrpc " + h.rpc_method + " to " + h.path;
      if (h.max_lag_blocks != 0)
        text += ", at most " + std::to_string(h.max_lag_blocks) + " blocks behind";
      break;
  }
  return text + " every " + duration(h.interval) + ", rise " + std::to_string(h.rise) + ", fall " +
         std::to_string(h.fall);
}

// The balancing directive; returns whether the method takes `backup` servers.
bool write_strategy(Context& ctx, const conf::PoolConfig& pool, const std::string& where,
                    Writer& out) {
  const std::string& s = pool.strategy;
  if (s == "round_robin") {
    out.comment("round_robin: nginx's default (veer's round_robin ignores weights).");
  } else if (s == "weighted") {
    out.comment("weighted: nginx's default smooth weighted round robin, with weight=.");
  } else if (s == "least_connections") {
    out.directive("least_conn");
  } else if (s == "least_response_time" && ctx.supports(Feature::least_time)) {
    out.comment("least_response_time: least_time in nginx OSS from 1.31 (as issue 15 states).");
    out.directive("least_time header");
  } else if (s == "least_response_time") {
    out.gap(where,
            "least_response_time (peak-EWMA latency): least_conn is the nearest before nginx 1.31");
    out.directive("least_conn");
  } else if (s == "ip_hash") {
    out.comment("ip_hash with key " + pool.hash_key +
                ": a consistent hash of the same key. nginx's own ip_hash hashes only the");
    out.comment("first three octets of an IPv4 address, which is not veer's key: not used.");
    const std::string key = ctx.key_variable(pool.hash_key, where, out);
    out.directive("hash " + (key.empty() ? std::string("$remote_addr") : key) + " consistent");
    out.comment("veer's Maglev table and nginx's ketama ring move different keys on a change.");
    return false;
  }
  return true;
}

// The address veer connects to: a host name was resolved once at load, so nginx gets the
// same single address rather than resolving the name itself (to every address it has).
std::string server_address(const conf::BackendConfig& b) {
  if (b.resolved.length == 0) return b.address;
  const std::string resolved = b.resolved.to_string();
  return resolved.empty() ? b.address : resolved;
}

std::string server_line(Context& ctx, const conf::PoolConfig& pool, const conf::BackendConfig& b,
                        bool weights) {
  std::string line = "server " + server_address(b);
  if (b.weight == 0) return line + " down";  // weight 0 takes no traffic in veer
  // Drained or down through the admin API: veer sends it no new requests.
  if (ctx.options.held.contains({pool.name, b.address})) return line + " down";
  if (weights && b.weight != 1) line += " weight=" + std::to_string(b.weight);
  if (pool.outlier) {
    line += " max_fails=" + std::to_string(pool.outlier->consecutive_failures) +
            " fail_timeout=" + duration(pool.outlier->base_ejection);
  } else {
    line += " max_fails=0";  // no outlier table: veer never ejects on failed requests
  }
  return line;
}

void write_backends(Context& ctx, const conf::PoolConfig& pool, bool backup_ok,
                    const std::string& where, Writer& out) {
  const bool weights = pool.strategy == "weighted" || pool.strategy == "ip_hash";
  const bool has_primary = std::any_of(pool.backends.begin(), pool.backends.end(),
                                       [](const conf::BackendConfig& b) { return !b.backup; });
  if (!has_primary && !pool.backends.empty()) {
    out.comment("Backup backends only: veer routes to them when no primary is routable, and");
    out.comment("nginx refuses an upstream without a primary server, so they are written as");
    out.comment("primaries.");
  }
  for (const conf::BackendConfig& b : pool.backends) {
    const std::string line = server_line(ctx, pool, b, weights);
    if (server_address(b) != b.address) out.comment("backend " + b.address + ", resolved at load");
    if (const auto held = ctx.options.held.find({pool.name, b.address});
        held != ctx.options.held.end())
      out.comment("backend " + b.address + " has admin state " + conf::to_string(held->second) +
                  (held->second == conf::AdminState::drain
                       ? " (nginx has no drain; down takes no new requests, as veer does)"
                       : ""));
    if (!b.backup || !has_primary) {
      out.directive(line);
    } else if (backup_ok) {
      out.directive(line + " backup");
    } else {
      out.gap(where,
              "backup backend " + b.address + ": nginx's hash method takes no backup servers");
      out.comment(line + " backup;");
    }
  }
  if (pool.backends.empty()) {
    out.gap(where, "a pool without backends: nginx needs a server, this one is marked down");
    out.directive("server 127.0.0.1:1 down");
  }
}

void write_pool_gaps(const conf::PoolConfig& pool, const std::string& where, Writer& out) {
  if (pool.health) out.gap(where, "active health check (" + health_text(*pool.health) + ")");
  if (pool.outlier) {
    out.comment("Passive health: nginx counts max_fails failures within fail_timeout (veer:");
    out.comment("consecutive), and ejects for fail_timeout each time (veer: n x " +
                duration(pool.outlier->base_ejection) + " up to " +
                duration(pool.outlier->max_ejection) + ", at most " +
                std::to_string(pool.outlier->max_ejected_percent) + "% ejected).");
    if (pool.outlier->failure_percent > 0)  // resolved: 0 on plain HTTP pools by default
      out.gap(where, "failure ratio (more than " + std::to_string(pool.outlier->failure_percent) +
                         "% of at least " + std::to_string(pool.outlier->failure_min_requests) +
                         " in " + duration(pool.outlier->failure_window) + ")");
  }
  if (pool.slow_start.count() > 0) out.gap(where, "slow_start " + duration(pool.slow_start));
  if ((pool.health || pool.outlier) && pool.panic_threshold > 0)
    out.gap(where, "panic_threshold " + std::to_string(pool.panic_threshold) +
                       "% (nginx tries every server only once all have failed)");
  if (pool.retries.attempts > 0)
    out.gap(where, "retry budget (" + std::to_string(pool.retries.budget_percent) + "% + " +
                       std::to_string(pool.retries.budget_min) + "/s): nginx retries without one");
}

void write_keepalive(Context& ctx, const std::string& where, Writer& out) {
  out.comment(
      "Pooled keep-alive connections (veer: limits.max_idle_upstream per backend per worker).");
  out.directive("keepalive " + std::to_string(ctx.config.limits.max_idle_upstream));
  if (ctx.supports(Feature::upstream_keepalive_timeout)) {
    out.directive("keepalive_timeout " + duration(ctx.config.timeouts.upstream_idle));
  } else {
    out.gap(where, "timeouts.upstream_idle: keepalive_timeout needs nginx 1.15.3");
  }
}

void write_upstream(Context& ctx, const conf::PoolConfig& pool, Writer& out) {
  const std::string where = "upstream " + pool.name;
  out.open("upstream " + pool.name);
  const bool backup_ok = write_strategy(ctx, pool, where, out);
  write_backends(ctx, pool, backup_ok, where, out);
  write_pool_gaps(pool, where, out);
  if (ctx.config.limits.max_idle_upstream == 0) {
    out.comment("limits.max_idle_upstream 0: no pooled keep-alive connections (nginx refuses");
    out.comment("keepalive 0, and without it closes each upstream connection).");
  } else {
    write_keepalive(ctx, where, out);
  }
  out.close();
}

}  // namespace

void write_upstreams(Context& ctx, Writer& out) {
  for (const conf::PoolConfig& pool : ctx.config.pools) {
    write_upstream(ctx, pool, out);
    out.blank();
  }
}

}  // namespace veer::admin::nginx
