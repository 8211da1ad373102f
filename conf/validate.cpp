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

}  // namespace veer::conf::detail
