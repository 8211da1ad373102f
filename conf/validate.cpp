#include <optional>
#include <string>
#include <vector>

#include "conf/toml_reader.hpp"

namespace veer::conf::detail {

void validate_references(const toml::table& root, Config& config, Diagnostics& diag) {
  std::vector<bool> used(config.pools.size(), false);
  auto use = [&](const PoolConfig* pool) {
    used[static_cast<std::size_t>(pool - config.pools.data())] = true;
  };
  for (const SplitConfig& split : config.splits) {
    if (config.find_pool(split.name) != nullptr) {
      diag.error(split.pos, "splits." + split.name +
                                ": a pool has the same name; route targets "
                                "name either, so names must differ");
    }
    for (const SplitTargetConfig& target : split.targets) {
      const PoolConfig* pool = config.find_pool(target.pool);
      if (pool == nullptr) {
        diag.error(target.pos, "splits." + split.name + ".targets." + target.pool +
                                   ": no pool named \"" + target.pool + "\"" +
                                   (config.find_split(target.pool) != nullptr
                                        ? " (a split cannot target another split)"
                                        : ""));
        continue;
      }
      use(pool);
    }
  }
  for (const ListenerConfig& listener : config.listeners) {
    for (std::size_t i = 0; i < listener.routes.size(); ++i) {
      const RouteConfig& route = listener.routes[i];
      if (route.target.empty()) continue;  // already reported
      if (config.find_split(route.target) != nullptr) continue;
      const PoolConfig* pool = config.find_pool(route.target);
      if (pool == nullptr) {
        diag.error(route.target_pos, "listeners." + listener.name + ".routes[" + std::to_string(i) +
                                         "].target: no pool or split named \"" + route.target +
                                         "\"");
        continue;
      }
      use(pool);
    }
  }
  validate_jsonrpc_targets(root, config, diag, used);
  const toml::node* pools = root.get("pools");
  for (std::size_t i = 0; i < config.pools.size(); ++i) {
    const PoolConfig& pool = config.pools[i];
    const toml::node* node = pools != nullptr ? pools->as_table()->get(pool.name) : nullptr;
    if (node == nullptr) continue;
    if (!used[i]) diag.warning(node->source(), "pools." + pool.name + ": no route uses this pool");
    if (pool.backends.empty()) {
      diag.warning(node->source(),
                   "pools." + pool.name + ": no backends; requests routed here get 503");
    }
  }
}

namespace {

// Marks the pools a route target names: the pool itself, or every pool of the split.
void mark_target(const Config& config, const std::string& target, std::vector<bool>& marked) {
  const auto mark = [&](const PoolConfig* pool) {
    if (pool != nullptr) marked[static_cast<std::size_t>(pool - config.pools.data())] = true;
  };
  if (const SplitConfig* split = config.find_split(target)) {
    for (const SplitTargetConfig& t : split->targets)
      mark(config.find_pool(t.pool));
    return;
  }
  mark(config.find_pool(target));
}

// The pools that serve JSON-RPC: a jsonrpc health check, or a jsonrpc route reaches them.
std::vector<bool> jsonrpc_pools(const Config& config) {
  std::vector<bool> marked(config.pools.size(), false);
  for (std::size_t i = 0; i < config.pools.size(); ++i) {
    const PoolConfig& pool = config.pools[i];
    if (pool.health && pool.health->type == HealthConfig::Type::jsonrpc) marked[i] = true;
  }
  for (const ListenerConfig& listener : config.listeners) {
    for (const RouteConfig& route : listener.routes) {
      if (!route.jsonrpc) continue;
      mark_target(config, route.target, marked);
      mark_target(config, route.jsonrpc->archive, marked);
      for (const MethodRouteConfig& method_route : route.method_routes)
        mark_target(config, method_route.target, marked);
    }
  }
  return marked;
}

}  // namespace

void resolve_outlier_defaults(Config& config) {
  const std::vector<bool> jsonrpc = jsonrpc_pools(config);
  for (std::size_t i = 0; i < config.pools.size(); ++i) {
    std::optional<OutlierConfig>& outlier = config.pools[i].outlier;
    if (!outlier || outlier->failure_percent_set) continue;
    outlier->failure_percent = jsonrpc[i] ? kJsonRpcFailurePercent : 0;
  }
}

}  // namespace veer::conf::detail
