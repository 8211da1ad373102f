// Rate limits in the file: the named policies ([limits.NAME], sub-tables beside the
// scalar keys of [limits]), where listeners and routes attach them, the per-client and
// per-route caps, and [cluster], the shared engine of scope = "cluster" policies.

#include <algorithm>
#include <string>
#include <vector>

#include "conf/key_suggest.hpp"
#include "conf/rate_limit.hpp"
#include "conf/toml_reader.hpp"

namespace veer::conf::detail {
namespace {

void load_rate(TableReader& r, const toml::node& table, RateLimitPolicyConfig& policy) {
  const toml::node* node = r.take("rate");
  if (node == nullptr) {
    r.diag().error(table.source(), r.path() + ": missing key \"rate\" (such as \"100/s\")");
    return;
  }
  std::string why = "expected a string such as \"100/s\"";
  std::optional<Rate> rate;
  if (node->is_string()) rate = parse_rate(node->as_string()->get(), &why);
  if (!rate) {
    r.diag().error(node->source(), r.path_of("rate") + ": " + why);
    return;
  }
  policy.rate = rate->count;
  policy.per = rate->per;
}

// key = "client_ip" or key = ["client_ip", "header:X-Api-Key"].
void load_key(TableReader& r, RateLimitPolicyConfig& policy) {
  const toml::node* node = r.take("key");
  if (node == nullptr) return;
  const std::string path = r.path_of("key");
  std::vector<const toml::node*> items;
  if (const toml::array* list = node->as_array()) {
    for (const toml::node& item : *list)
      items.push_back(&item);
    if (items.empty()) {
      r.diag().error(node->source(), path + ": expected at least one part, such as \"client_ip\"");
      return;
    }
  } else {
    items.push_back(node);
  }
  std::vector<std::string> parts;
  for (const toml::node* item : items) {
    std::string why;
    if (!item->is_string()) {
      r.diag().error(item->source(), path + ": expected a string or an array of strings such as " +
                                         "[\"client_ip\", \"header:X-Api-Key\"]");
      return;
    }
    const std::string& part = item->as_string()->get();
    if (!valid_limit_key_part(part, &why)) {
      r.diag().error(item->source(), path + ": " + why);
      return;
    }
    const bool twice = std::any_of(parts.begin(), parts.end(), [&](const std::string& other) {
      return same_limit_key_part(other, part);
    });
    if (twice) {
      r.diag().error(item->source(), path + ": \"" + part + "\" is named twice");
      return;
    }
    parts.push_back(part);
  }
  policy.key = std::move(parts);
}

void load_scope(TableReader& r, const Config& config, RateLimitPolicyConfig& policy) {
  std::string scope;
  if (!r.read_string("scope", scope)) return;
  const toml::node* node = r.take("scope");
  if (scope == "local") {
    policy.scope = RateLimitPolicyConfig::Scope::local;
  } else if (scope == "cluster") {
    policy.scope = RateLimitPolicyConfig::Scope::cluster;
    if (!config.cluster.enabled) {
      r.diag().error(
          node->source(),
          r.path_of("scope") + ": \"cluster\" needs a [cluster] table with redis = \"host:port\"");
    }
  } else {
    r.diag().error(node->source(),
                   r.path_of("scope") + ": \"" + scope + "\" is not one of local, cluster");
  }
}

void load_policy(std::string_view name, const toml::node& node, Diagnostics& diag, Config& config) {
  RateLimitPolicyConfig policy;
  std::optional<TableReader> reader = open_named_table("limits", name, node, diag, policy);
  if (!reader) return;
  TableReader& r = *reader;
  load_rate(r, node, policy);
  r.read_uint("burst", policy.burst, 0, kMaxBurst);
  r.read_uint("delay", policy.delay, 0, kMaxBurst);
  load_key(r, policy);
  std::uint64_t prefix = policy.ipv4_prefix;
  if (r.read_uint("ipv4_prefix", prefix, 1, 32))
    policy.ipv4_prefix = static_cast<std::uint32_t>(prefix);
  prefix = policy.ipv6_prefix;
  if (r.read_uint("ipv6_prefix", prefix, 1, 128))
    policy.ipv6_prefix = static_cast<std::uint32_t>(prefix);
  load_scope(r, config, policy);
  r.read_bool("dry_run", policy.dry_run);
  r.read_uint("max_keys", policy.max_keys, 1, kMaxPolicyKeys);
  load_method_costs(r, policy);
  r.finish();
  // Kept even with errors, so that references to it are not reported as unknown too.
  config.limits.policies.push_back(std::move(policy));
}

// limits = ["per_client", ...] of a listener or a route: policies that exist, each once.
void load_policy_names(TableReader& r, const Config& config, std::vector<std::string>& names,
                       SourcePos& pos) {
  const toml::node* node = r.take("limits");
  if (node == nullptr) return;
  pos = position_of(node->source());
  const std::string path = r.path_of("limits");
  const toml::array* list = node->as_array();
  if (list == nullptr) {
    r.diag().error(node->source(),
                   path + ": expected an array of policy names, such as " + "[\"per_client\"]");
    return;
  }
  std::vector<std::string_view> known;
  for (const RateLimitPolicyConfig& policy : config.limits.policies)
    known.push_back(policy.name);
  for (const toml::node& item : *list) {
    if (!item.is_string()) {
      r.diag().error(item.source(), path + ": expected the name of a [limits.NAME] policy");
      continue;
    }
    const std::string& name = item.as_string()->get();
    if (config.limits.find_policy(name) == nullptr) {
      std::string message = path + ": no policy named \"" + name + "\"";
      if (const auto meant = closest_key(name, known))
        message += " (did you mean \"" + std::string(*meant) + "\"?)";
      else if (known.empty())
        message += " (define it as a [limits." + name + "] table)";
      r.diag().error(item.source(), std::move(message));
      continue;
    }
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      r.diag().error(item.source(), path + ": \"" + name + "\" is named twice");
      continue;
    }
    names.push_back(name);
  }
}

}  // namespace

void load_rate_policies(TableReader& limits, Config& config) {
  // Every sub-table is a policy; the scalar keys were asked for already, so a misspelt
  // scalar (not a table) is still reported by finish() with its suggestion.
  for (auto&& [key, node] : limits.table()) {
    if (!node.is_table() || limits.asked(key.str())) continue;
    limits.take(key.str());
    load_policy(key.str(), node, limits.diag(), config);
  }
  std::sort(config.limits.policies.begin(), config.limits.policies.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
}

void load_listener_limits(TableReader& r, const Config& config, ListenerConfig& listener) {
  load_policy_names(r, config, listener.limits, listener.limits_pos);
  std::uint64_t per_client = listener.max_connections_per_client;
  if (r.read_uint("max_connections_per_client", per_client, 0, 10'000'000))
    listener.max_connections_per_client = static_cast<std::uint32_t>(per_client);
}

void load_route_limits(TableReader& r, const Config& config, RouteConfig& route) {
  load_policy_names(r, config, route.limits, route.limits_pos);
  r.read_uint("max_in_flight", route.max_in_flight, 0, 10'000'000);
}

void load_cluster(TableReader& root, Config& config) {
  const toml::node* node = root.take("cluster");
  if (node == nullptr) return;
  std::optional<TableReader> reader =
      open_table(*node, "cluster", "{ redis = \"127.0.0.1:6379\" }", root.diag());
  if (!reader) return;
  TableReader& r = *reader;
  ClusterConfig& out = config.cluster;
  out.enabled = true;
  out.pos = position_of(node->source());
  if (r.read_string("redis", out.redis)) {
    std::string why;
    std::optional<HostPort> hp = parse_host_port(out.redis, &why);
    if (hp && hp->port == 0) why = "port 0 is not a Redis port (1-65535)";
    if (!hp || hp->port == 0) {
      root.diag().error(r.take("redis")->source(), "cluster.redis: " + why);
    } else {
      out.redis_host_port = std::move(*hp);
    }
  } else if (r.take("redis") == nullptr) {
    root.diag().error(node->source(),
                      "cluster: missing key \"redis\" (\"host:port\" of the Redis server)");
  }
  std::uint64_t instances = out.instances;
  if (r.read_uint("instances", instances, 0, 10'000))
    out.instances = static_cast<std::uint32_t>(instances);
  r.read_uint("lease", out.lease, 0, kMaxBurst);
  r.read_duration("timeout", out.timeout, Duration{1});
  if (r.read_string("key_prefix", out.key_prefix)) {
    const bool plain =
        out.key_prefix.size() <= 128 && std::all_of(out.key_prefix.begin(), out.key_prefix.end(),
                                                    [](char c) { return c > 0x20 && c < 0x7f; });
    if (!plain) {
      root.diag().error(r.take("key_prefix")->source(),
                        "cluster.key_prefix: at most 128 printable ASCII characters, no spaces");
    }
  }
  r.finish();
}

void warn_unused_policies(const toml::table& root, const Config& config, Diagnostics& diag) {
  const toml::table* limits = root["limits"].as_table();
  for (const RateLimitPolicyConfig& policy : config.limits.policies) {
    bool used = false;
    for (const ListenerConfig& listener : config.listeners) {
      const auto names = [&](const std::vector<std::string>& list) {
        return std::find(list.begin(), list.end(), policy.name) != list.end();
      };
      used = used || names(listener.limits) ||
             std::any_of(listener.routes.begin(), listener.routes.end(),
                         [&](const RouteConfig& route) { return names(route.limits); });
    }
    const toml::node* node = limits != nullptr ? limits->get(policy.name) : nullptr;
    if (!used && node != nullptr) {
      diag.warning(node->source(),
                   "limits." + policy.name + ": no listener or route uses this policy");
    }
  }
}

}  // namespace veer::conf::detail
