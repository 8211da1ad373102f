#include <vector>

#include "conf/toml_reader.hpp"

namespace veer::conf::detail {

void validate_references(const toml::table& root, Config& config, Diagnostics& diag) {
  std::vector<bool> used(config.pools.size(), false);
  for (const ListenerConfig& listener : config.listeners) {
    for (std::size_t i = 0; i < listener.routes.size(); ++i) {
      const RouteConfig& route = listener.routes[i];
      if (route.target.empty()) continue;  // already reported
      const PoolConfig* pool = config.find_pool(route.target);
      if (pool == nullptr) {
        diag.error(route.target_pos, "listeners." + listener.name + ".routes[" + std::to_string(i) +
                                         "].target: no pool named \"" + route.target + "\"");
        continue;
      }
      used[static_cast<std::size_t>(pool - config.pools.data())] = true;
    }
  }
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
