#include "admin/views.hpp"

#include <algorithm>
#include <boost/json.hpp>
#include <ctime>

#include "admin/state_file.hpp"
#include "core/backend_stats.hpp"
#include "health/reasons.hpp"
#include "runtime/metrics.hpp"

namespace veer::admin {
namespace json = boost::json;

json::object backend_json(const runtime::BackendRuntime& b, double rate) {
  const auto now = core::BackendStats::Clock::now();
  const double ewma = b.stats->latency.estimate_ns(now, core::kLatencyDecayNs);
  json::object o{
      {"address", b.address},
      {"weight", b.weight},
      {"backup", b.backup},
      {"state", core::state_name(b.stats->reasons.load(std::memory_order_relaxed))},
      {"active_connections", b.stats->active_connections.load(std::memory_order_relaxed)},
      {"in_flight", b.stats->in_flight.load(std::memory_order_relaxed)},
      {"requests_total", b.stats->requests.load(std::memory_order_relaxed)},
      {"requests_per_second", rate},
      {"retries_total", b.stats->retries.load(std::memory_order_relaxed)},
      {"ejections_total", b.stats->ejections.load(std::memory_order_relaxed)}};
  // Every reason the backend is out, not only the strongest one `state` names.
  json::array reasons;
  for (const health::ReasonNote& n : health::reasons_of(*b.stats)) {
    json::object r{{"reason", n.reason}, {"cause", n.cause}, {"since", health::utc_text(n.since)}};
    if (n.until) r["until"] = health::utc_text(*n.until);
    reasons.push_back(std::move(r));
  }
  o["reasons"] = std::move(reasons);
  o["latency_ewma_ms"] = ewma < 0 ? json::value(nullptr) : json::value(ewma / 1e6);
  return o;
}

void add_head_json(json::object& out, const runtime::PoolRuntime& pool,
                   const runtime::BackendRuntime& backend) {
  const bool tracked =
      pool.config->health && pool.config->health->type == conf::HealthConfig::Type::jsonrpc;
  const std::uint64_t head =
      tracked ? backend.stats->head_block.load(std::memory_order_relaxed) : 0;
  const std::uint64_t highest = pool.stats->head_block.load(std::memory_order_relaxed);
  out["head"] = head == 0 ? json::value(nullptr) : json::value(head);
  out["lag"] = head == 0 || highest == 0 ? json::value(nullptr)
                                         : json::value(highest > head ? highest - head : 0);
}

namespace {

json::array strings_json(const std::vector<std::string>& list) {
  json::array out;
  for (const std::string& s : list)
    out.push_back(json::string(s));
  return out;
}

// A JSON-RPC route's keys (docs/JSONRPC.md), present only on JSON-RPC routes.
void add_jsonrpc_json(const conf::RouteConfig& r, json::object& route) {
  if (!r.jsonrpc) return;
  const conf::JsonRpcRouteConfig& j = *r.jsonrpc;
  route["jsonrpc"] = json::object{{"max_batch", j.max_batch},
                                  {"allow", strings_json(j.allow)},
                                  {"deny", strings_json(j.deny)},
                                  {"local_accounts", j.local_accounts},
                                  {"pin_latest", j.pin_latest},
                                  {"recent_blocks", j.recent_blocks},
                                  {"archive", j.archive},
                                  {"max_logs_block_range", j.max_logs_block_range},
                                  {"max_subscriptions", j.max_subscriptions},
                                  {"max_queue_bytes", j.max_queue_bytes}};
  json::array method_routes;
  for (const conf::MethodRouteConfig& m : r.method_routes)
    method_routes.push_back(json::object{{"match", strings_json(m.match)}, {"target", m.target}});
  route["method_routes"] = std::move(method_routes);
}

json::object listeners_json(const conf::Config& c) {
  json::object listeners;
  for (const conf::ListenerConfig& l : c.listeners) {
    json::array routes;
    for (const conf::RouteConfig& r : l.routes) {
      json::object route{{"host", r.host}, {"path_prefix", r.path_prefix}, {"target", r.target}};
      add_jsonrpc_json(r, route);
      routes.push_back(std::move(route));
    }
    listeners[l.name] = json::object{{"address", l.address}, {"routes", std::move(routes)}};
  }
  return listeners;
}

json::object pool_config_json(const conf::PoolConfig& p) {
  json::array backends;
  for (const conf::BackendConfig& b : p.backends) {
    backends.push_back(
        json::object{{"address", b.address}, {"weight", b.weight}, {"backup", b.backup}});
  }
  json::object pool{{"strategy", p.strategy},
                    {"backends", std::move(backends)},
                    {"slow_start", conf::format_duration(p.slow_start)},
                    {"panic_threshold", p.panic_threshold},
                    {"retries", json::object{{"attempts", p.retries.attempts},
                                             {"budget_percent", p.retries.budget_percent},
                                             {"budget_min", p.retries.budget_min}}}};
  if (p.strategy == "ip_hash") pool["hash_key"] = p.hash_key;
  pool["health"] =
      p.health ? json::value(json::object{{"interval", conf::format_duration(p.health->interval)},
                                          {"timeout", conf::format_duration(p.health->timeout)},
                                          {"rise", p.health->rise},
                                          {"fall", p.health->fall}})
               : json::value(nullptr);
  pool["outlier"] = p.outlier
                        ? json::value(json::object{
                              {"consecutive_failures", p.outlier->consecutive_failures},
                              {"base_ejection", conf::format_duration(p.outlier->base_ejection)},
                              {"max_ejected_percent", p.outlier->max_ejected_percent},
                              // The resolved ratio: 3 by default on JSON-RPC pools, else 0.
                              {"failure_percent", p.outlier->failure_percent},
                              {"failure_min_requests", p.outlier->failure_min_requests},
                              {"failure_window", conf::format_duration(p.outlier->failure_window)}})
                        : json::value(nullptr);
  return pool;
}

json::object splits_json(const conf::Config& c) {
  json::object splits;
  for (const conf::SplitConfig& s : c.splits) {
    json::object targets;
    for (const conf::SplitTargetConfig& t : s.targets)
      targets[t.pool] = t.weight;
    splits[s.name] = json::object{{"targets", std::move(targets)},
                                  {"sticky", s.sticky},
                                  {"override_header", s.override_header},
                                  {"failover", s.failover}};
  }
  return splits;
}

json::object policies_json(const conf::Config& c) {
  json::object policies;
  for (const conf::RateLimitPolicyConfig& p : c.limits.policies) {
    json::array key;
    for (const std::string& part : p.key)
      key.push_back(json::string(part));
    policies[p.name] = json::object{
        {"rate", conf::format_rate({p.rate, p.per})},
        {"burst", p.burst},
        {"delay", p.delay},
        {"key", std::move(key)},
        {"ipv4_prefix", p.ipv4_prefix},
        {"ipv6_prefix", p.ipv6_prefix},
        {"scope", p.scope == conf::RateLimitPolicyConfig::Scope::cluster ? "cluster" : "local"},
        {"dry_run", p.dry_run},
        {"max_keys", p.max_keys}};
    json::object costs;
    for (const auto& [glob, cost] : p.method_costs)
      costs[glob] = cost;
    policies[p.name].as_object()["method_costs"] = std::move(costs);
  }
  return policies;
}

}  // namespace

json::object config_json(const conf::Config& c) {
  json::object pools;
  for (const conf::PoolConfig& p : c.pools)
    pools[p.name] = pool_config_json(p);
  const conf::Timeouts& t = c.timeouts;
  return json::object{
      {"server", json::object{{"workers", c.server.workers},
                              {"io_engine", conf::to_string(c.server.io_engine)},
                              {"io_uring_buffers", c.server.io_uring_buffers},
                              {"access_log", c.server.access_log},
                              {"state_file", c.server.state_file}}},
      {"timeouts", json::object{{"client_header", conf::format_duration(t.client_header)},
                                {"client_idle", conf::format_duration(t.client_idle)},
                                {"upstream_connect", conf::format_duration(t.upstream_connect)},
                                {"upstream_response", conf::format_duration(t.upstream_response)},
                                {"tunnel_idle", conf::format_duration(t.tunnel_idle)},
                                {"drain", conf::format_duration(t.drain)}}},
      {"limits", json::object{{"max_header_bytes", c.limits.max_header_bytes},
                              {"max_body_bytes", c.limits.max_body_bytes},
                              {"max_connections", c.limits.max_connections},
                              {"policies", policies_json(c)}}},
      {"listeners", listeners_json(c)},
      {"pools", std::move(pools)},
      {"splits", splits_json(c)},
      {"cluster", c.cluster.enabled ? json::value(json::object{
                                          {"redis", c.cluster.redis},
                                          {"instances", c.cluster.instances},
                                          {"lease", c.cluster.lease},
                                          {"timeout", conf::format_duration(c.cluster.timeout)},
                                          {"key_prefix", c.cluster.key_prefix}})
                                    : json::value(nullptr)}};
}

json::object split_json(const runtime::Snapshot& snapshot, const runtime::SplitRuntime& split,
                        std::map<std::string, std::uint64_t> assigned) {
  json::object targets;
  for (std::size_t i = 0; i < split.pools.size(); ++i) {
    const runtime::PoolRuntime& pool = snapshot.pools[split.pools[i]];
    std::int64_t in_flight = 0, connections = 0;
    std::uint64_t requests = 0;
    for (const runtime::BackendRuntime& b : pool.backends) {
      in_flight += b.stats->in_flight.load(std::memory_order_relaxed);
      connections += b.stats->active_connections.load(std::memory_order_relaxed);
      requests += b.stats->requests.load(std::memory_order_relaxed);
    }
    targets[pool.name] = json::object{{"weight", split.weights[i]},
                                      {"in_flight", in_flight},
                                      {"active_connections", connections},
                                      {"requests_total", requests},
                                      {"assignments_total", assigned[pool.name]}};
  }
  return json::object{{"name", split.name},
                      {"version", snapshot.version},
                      {"sticky", split.config->sticky},
                      {"override_header", split.config->override_header},
                      {"failover", split.config->failover},
                      {"targets", std::move(targets)}};
}

namespace {

// "2026-12-06T12:00:00Z", as the API writes every time. From time_t, not through
// system_clock: its nanoseconds end in 2262, before the 9999-12-31 notAfter of RFC 5280
// certificates "with no well-defined expiration date".
std::string utc_of_unix(std::int64_t t) {
  const std::time_t at = static_cast<std::time_t>(t);
  std::tm tm{};
  char text[32];
  if (gmtime_r(&at, &tm) == nullptr ||
      std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    return std::to_string(t);
  return text;
}

// Whole days until `not_after`, rounded down: 0 on the last day, -1 on the day after
// it expired, so that a negative number always means expired.
std::int64_t days_left(std::int64_t not_after, std::int64_t now) {
  constexpr std::int64_t kDay = 86400;
  const std::int64_t left = not_after - now;
  return left >= 0 ? left / kDay : -((-left + kDay - 1) / kDay);
}

json::object certificate_json(const tls::CertificateInfo& c, std::int64_t now) {
  json::array sans;
  for (const std::string& name : c.names)
    sans.push_back(json::string(name));
  return json::object{{"file", c.cert_file},
                      {"subject", c.subject},
                      {"sans", std::move(sans)},
                      {"issuer", c.issuer},
                      {"not_before", utc_of_unix(c.not_before)},
                      {"not_after", utc_of_unix(c.not_after)},
                      {"days_left", days_left(c.not_after, now)},
                      {"key_type", c.key_type},
                      {"fingerprint_sha256", c.fingerprint_sha256}};
}

}  // namespace

std::vector<ListenerCertificates> listener_certificates(const runtime::Snapshot& snapshot) {
  std::vector<ListenerCertificates> out;
  for (const runtime::ListenerRuntime& listener : snapshot.listeners) {
    if (listener.tls) out.push_back({listener.name, listener.tls->certificates()});
  }
  return out;
}

json::object certificates_json(const std::vector<ListenerCertificates>& listeners,
                               std::int64_t now) {
  json::array out;
  for (const ListenerCertificates& l : listeners) {
    json::array certificates;
    for (const tls::CertificateInfo& c : l.certificates)
      certificates.push_back(certificate_json(c, now));
    out.push_back(
        json::object{{"listener", l.listener}, {"certificates", std::move(certificates)}});
  }
  return json::object{{"listeners", std::move(out)}};
}

namespace {

const char* scope_name(conf::RateLimitPolicyConfig::Scope scope) {
  return scope == conf::RateLimitPolicyConfig::Scope::cluster ? "cluster" : "local";
}

const char* verdict_name(limits::Verdict verdict) {
  switch (verdict) {
    case limits::Verdict::allow:
      return "allow";
    case limits::Verdict::delay:
      return "delay";
    case limits::Verdict::refuse:
      return "refuse";
  }
  return "?";
}

double seconds_of(std::int64_t ns) {
  return static_cast<double>(ns) / 1e9;
}

// The listeners that attach `name` to all their routes, and the routes that name it.
json::object attached_json(const conf::Config& config, const std::string& name) {
  json::array listeners, routes;
  const auto names = [&name](const std::vector<std::string>& list) {
    return std::find(list.begin(), list.end(), name) != list.end();
  };
  for (const conf::ListenerConfig& listener : config.listeners) {
    if (names(listener.limits)) listeners.push_back(json::string(listener.name));
    for (const conf::RouteConfig& route : listener.routes) {
      if (!names(route.limits)) continue;
      const std::string label = runtime::route_label(route.host, route.path_prefix);
      routes.push_back(json::object{
          {"listener", listener.name}, {"route", label}, {"key", listener.name + ":" + label}});
    }
  }
  return json::object{{"listeners", std::move(listeners)}, {"routes", std::move(routes)}};
}

json::object stats_json(const conf::RateLimitPolicyConfig& config, const limits::LimiterStats& s) {
  json::object o{{"keys_in_use", s.keys_in_use},
                 {"capacity", s.capacity},
                 {"evictions", s.evictions},
                 {"table_bytes", s.table_bytes}};
  if (config.scope == conf::RateLimitPolicyConfig::Scope::cluster) {
    o["mode"] = std::string(s.mode);
    o["instances"] = s.instances;
    o["lease_block"] = s.lease_block;
    o["fallback_rate_divisor"] = s.fallback_rate_divisor;
    o["max_overshoot"] = s.lease_block * s.instances;
  }
  return o;
}

}  // namespace

std::int64_t retry_after_seconds(std::int64_t wait_ns) {
  constexpr std::int64_t kSecond = 1'000'000'000;
  return std::max<std::int64_t>(1, (std::max<std::int64_t>(0, wait_ns) + kSecond - 1) / kSecond);
}

json::object limit_json(const runtime::Snapshot& snapshot, const runtime::PolicyRuntime& policy,
                        const conf::LimitChange* change, std::int64_t now) {
  const conf::RateLimitPolicyConfig& c = *policy.config;
  json::array key;
  for (const std::string& part : c.key)
    key.push_back(json::string(part));
  json::object o{{"name", policy.name},
                 {"rate", conf::format_rate({c.rate, c.per})},
                 {"burst", c.burst},
                 {"delay", c.delay},
                 {"key", std::move(key)},
                 {"ipv4_prefix", c.ipv4_prefix},
                 {"ipv6_prefix", c.ipv6_prefix},
                 {"scope", scope_name(c.scope)},
                 {"dry_run", c.dry_run},
                 {"max_keys", c.max_keys},
                 {"ratelimit_policy", policy.policy_field},
                 {"attached", attached_json(snapshot.config, policy.name)},
                 {"stats", stats_json(c, policy.limiter->stats(now))}};
  o["file"] = change == nullptr
                  ? json::value(nullptr)
                  : json::value(json::object{{"rate", conf::format_rate(change->file_rate)},
                                             {"burst", change->file_burst},
                                             {"delay", change->file_delay}});
  return o;
}

json::object key_state_json(const std::string& text, const limits::KeyState& state) {
  const limits::Decision& d = state.now;
  json::object o{{"key", text},
                 {"known", state.known},
                 {"verdict", verdict_name(d.verdict)},
                 {"remaining", d.remaining},
                 {"reset_seconds", seconds_of(d.reset)}};
  if (d.verdict == limits::Verdict::refuse) o["retry_after"] = retry_after_seconds(d.wait);
  if (d.verdict == limits::Verdict::delay) o["delay_seconds"] = seconds_of(d.wait);
  return o;
}

json::object overrides_json(const conf::Overrides& changes) {
  json::array summary;
  for (const std::string& line : conf::describe(changes))
    summary.push_back(json::string(line));
  return json::object{{"overrides", json::parse(state_to_json(changes))},
                      {"summary", std::move(summary)}};
}

}  // namespace veer::admin
