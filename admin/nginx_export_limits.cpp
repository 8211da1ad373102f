// Rate-limit policies as limit_req_zone / limit_req, the per-client connection cap as
// limit_conn_zone / limit_conn.

#include <algorithm>

#include "admin/nginx_export_detail.hpp"

namespace veer::admin::nginx {
namespace {

// nginx keeps about 16,000 one-key states per megabyte of zone (64-byte states).
constexpr std::uint64_t kStatesPerMegabyte = 16'000;

std::string zone_name(const conf::RateLimitPolicyConfig& policy) {
  return "veer_limit_" + policy.name;
}

// "100r/s", "6r/m"; "" when nginx cannot say it exactly (per hour, not a whole per-minute).
std::string rate_text(const conf::RateLimitPolicyConfig& policy) {
  using namespace std::chrono_literals;
  if (policy.per == 1s) return std::to_string(policy.rate) + "r/s";
  if (policy.per == 60s) return std::to_string(policy.rate) + "r/m";
  if (policy.per == 3600s && policy.rate % 60 == 0) return std::to_string(policy.rate / 60) + "r/m";
  return "";
}

// The zone's key: the policy's parts joined with '|', each as veer reads it.
std::string key_text(Context& ctx, const conf::RateLimitPolicyConfig& policy,
                     const std::string& where, Writer& out) {
  std::string key;
  for (const std::string& part : policy.key) {
    std::string variable;
    if (part == "client_ip") {
      variable = "$binary_remote_addr";
      if (policy.ipv4_prefix != 32 || policy.ipv6_prefix != 128)
        out.gap(where, "client_ip grouped by /" + std::to_string(policy.ipv4_prefix) +
                           " (IPv4) and /" + std::to_string(policy.ipv6_prefix) +
                           " (IPv6): nginx keys each whole address");
    } else if (part == "route") {
      variable = "$veer_route";  // set in every location (nginx_export_servers.cpp)
    } else {
      variable = ctx.key_variable(part, where, out);
    }
    if (variable.empty()) continue;
    key += (key.empty() ? "" : "|") + variable;
  }
  return key.empty() ? "$binary_remote_addr" : key;
}

void write_zone(Context& ctx, const conf::RateLimitPolicyConfig& policy, Writer& out) {
  const std::string where = "limits " + policy.name;
  std::string rate = rate_text(policy);
  if (rate.empty()) {
    rate = std::to_string((policy.rate + 59) / 60) + "r/m";
    out.gap(where, "rate " + std::to_string(policy.rate) +
                       "/h: nginx counts per second or minute; " + rate + " is the nearest above");
  }
  if (policy.scope == conf::RateLimitPolicyConfig::Scope::cluster)
    out.gap(where, "scope cluster: nginx zones are per instance");
  const std::uint64_t megabytes =
      std::max<std::uint64_t>(1, (policy.max_keys + kStatesPerMegabyte - 1) / kStatesPerMegabyte);
  out.comment("Policy " + policy.name + ": max_keys " + std::to_string(policy.max_keys) +
              " at ~16,000 states per MB.");
  out.directive("limit_req_zone " + quote(key_text(ctx, policy, where, out)) +
                " zone=" + zone_name(policy) + ":" + std::to_string(megabytes) + "m rate=" + rate);
}

}  // namespace

void write_limit_zones(Context& ctx, Writer& out) {
  const auto& policies = ctx.config.limits.policies;
  const bool conn_caps =
      std::any_of(ctx.config.listeners.begin(), ctx.config.listeners.end(),
                  [](const conf::ListenerConfig& l) { return l.max_connections_per_client > 0; });
  if (policies.empty() && !conn_caps) return;
  for (const conf::RateLimitPolicyConfig& policy : policies)
    write_zone(ctx, policy, out);
  out.comment("veer answers a refusal with 429 (and Retry-After, RateLimit headers, a");
  out.comment("JSON-RPC error for JSON-RPC calls: nginx sends its own 429 page).");
  out.directive("limit_req_status 429");
  out.directive("limit_conn_status 429");
  out.blank();
}

// One limit_req: veer lets `burst` through at once and holds `delay` more; nginx's burst
// is the whole excess and delay= how much of it goes at once.
std::string limit_req_line(Context& ctx, const conf::RateLimitPolicyConfig& policy,
                           const std::string& where, Writer& out) {
  std::string line = "limit_req zone=veer_limit_" + policy.name;
  const std::uint64_t burst = policy.burst + policy.delay;
  if (burst > 0) line += " burst=" + std::to_string(burst);
  if (policy.delay == 0) {
    if (burst > 0) line += " nodelay";
  } else if (ctx.supports(Feature::limit_req_delay)) {
    if (policy.burst > 0) line += " delay=" + std::to_string(policy.burst);
  } else {
    out.gap(where, "limits " + policy.name + " delay: limit_req delay= needs nginx 1.15.7");
  }
  return line;
}

void write_limit_reqs(Context& ctx, const std::vector<std::string>& names, const std::string& where,
                      Writer& out) {
  std::vector<const conf::RateLimitPolicyConfig*> policies;
  for (const std::string& name : names) {
    if (const conf::RateLimitPolicyConfig* p = ctx.config.limits.find_policy(name))
      policies.push_back(p);
  }
  if (policies.empty()) return;
  const bool all_dry_run =
      std::all_of(policies.begin(), policies.end(), [](const auto* p) { return p->dry_run; });
  const bool dry_run_here = all_dry_run && ctx.supports(Feature::limit_req_dry_run);
  for (const conf::RateLimitPolicyConfig* policy : policies) {
    if (policy->dry_run && !dry_run_here) {
      // Enforcing a policy meant to refuse nothing would change what clients get.
      out.gap(where,
              "limits " + policy->name + " dry_run: " +
                  (all_dry_run
                       ? std::string("limit_req_dry_run needs nginx 1.17.1")
                       : std::string(
                             "nginx's limit_req_dry_run covers every limit_req of a location")) +
                  "; left out");
      continue;
    }
    out.directive(limit_req_line(ctx, *policy, where, out));
  }
  if (dry_run_here) out.directive("limit_req_dry_run on");
}

void write_limit_conn(Context& ctx, const conf::ListenerConfig& listener, Writer& out) {
  if (listener.max_connections_per_client == 0) return;
  // veer counts by the connection's origin, never by X-Forwarded-For.
  std::string origin = "$binary_remote_addr";
  if (listener.proxy_protocol) {
    origin = "$proxy_protocol_addr";
  } else if (!listener.trusted_proxies.empty()) {
    origin = "$realip_remote_addr";
  }
  std::string& zone = ctx.made["conn:" + listener.name];
  if (zone.empty()) {
    zone = ctx.unique_variable("veer_conn_" + listener.name);
    ctx.maps.directive("limit_conn_zone " + origin + " zone=" + zone + ":10m");
  }
  out.comment("max_connections_per_client: nginx counts connections with a request in progress.");
  out.directive("limit_conn " + zone + " " + std::to_string(listener.max_connections_per_client));
}

}  // namespace veer::admin::nginx
