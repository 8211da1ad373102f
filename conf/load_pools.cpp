#include <string>

#include "conf/toml_reader.hpp"
#include "strategies/strategy.hpp"

namespace veer::conf::detail {
namespace {

std::string strategy_names() {
  std::string names;
  for (const auto& info : strategies::all_strategies()) {
    if (!names.empty()) names += ", ";
    names += info.name;
  }
  return names;
}

void load_backend(const toml::node& node, const std::string& path, Diagnostics& diag,
                  PoolConfig& pool) {
  BackendConfig backend;
  backend.pos = position_of(node.source());
  const toml::node* address = &node;
  if (const toml::table* table = node.as_table()) {
    TableReader r(*table, path, diag);
    address = r.take("address");
    std::uint64_t weight = backend.weight;
    if (const toml::node* w = r.take("weight")) {
      if (w->is_integer() && w->as_integer()->get() < 0) {
        diag.error(w->source(), path + ".weight: must be >= 0 (0 takes no traffic)");
      } else if (read_uint_node(*w, path + ".weight", diag, weight, 0, kMaxBackendWeight)) {
        backend.weight = static_cast<std::uint32_t>(weight);
      }
    }
    r.read_bool("backup", backend.backup);
    r.finish();
    if (address == nullptr) {
      diag.error(node.source(), path + ": missing key \"address\"");
      return;
    }
  }
  if (!address->is_string()) {
    diag.error(address->source(),
               path + ": expected \"host:port\" or { address = \"host:port\", weight = N }");
    return;
  }
  backend.address = address->as_string()->get();
  std::string why;
  std::optional<HostPort> hp = parse_host_port(backend.address, &why);
  if (hp && hp->port == 0) why = "port 0 is not a backend port (1-65535)";
  if (!hp || hp->port == 0) {
    diag.error(address->source(), path + ": " + backend.address + ": " + why);
    return;
  }
  std::optional<SocketAddress> resolved = resolve(*hp, &why);
  if (!resolved) {
    diag.error(address->source(), path + ": " + why);
    return;
  }
  for (const BackendConfig& other : pool.backends) {
    if (other.address == backend.address || other.resolved == *resolved) {
      diag.error(address->source(), path + ": duplicate address " + backend.address +
                                        " (first at line " + std::to_string(other.pos.line) + ")");
      return;
    }
  }
  backend.host_port = std::move(*hp);
  backend.resolved = *resolved;
  pool.backends.push_back(std::move(backend));
}

void load_pool(std::string_view name, const toml::node& node, Diagnostics& diag, Config& config) {
  PoolConfig pool;
  std::optional<TableReader> reader = open_named_table("pools", name, node, diag, pool);
  if (!reader) return;
  TableReader& r = *reader;
  const std::string& path = r.path();

  const strategies::StrategyInfo* strategy = strategies::find_strategy(pool.strategy);
  if (r.read_string("strategy", pool.strategy)) {
    strategy = strategies::find_strategy(pool.strategy);
    if (strategy == nullptr) {
      diag.error(r.take("strategy")->source(), path + ".strategy: unknown strategy \"" +
                                                   pool.strategy +
                                                   "\" (available: " + strategy_names() + ")");
    }
  }
  if (r.read_string("hash_key", pool.hash_key)) {
    const toml::node* key = r.take("hash_key");
    if (!valid_hash_key(pool.hash_key)) {
      diag.error(key->source(), path + ".hash_key: \"" + pool.hash_key +
                                    "\" is not client_ip, header:NAME or cookie:NAME");
    } else if (strategy != nullptr && !strategy->uses_hash_key) {
      diag.error(key->source(), path + ".hash_key: strategy \"" + pool.strategy +
                                    "\" does not hash; hash_key applies to ip_hash only");
    }
  }
  if (const toml::node* backends = r.take("backends")) {
    if (const toml::array* list = backends->as_array()) {
      for (std::size_t i = 0; i < list->size(); ++i) {
        load_backend(*list->get(i), path + ".backends[" + std::to_string(i) + "]", diag, pool);
      }
    } else {
      diag.error(backends->source(), path + ".backends: expected an array of backends");
    }
  } else {
    diag.error(node.source(), path + ": missing key \"backends\"");
  }
  load_pool_resilience(r, path, pool);
  load_upstream_tls(r, pool);
  r.finish();
  config.pools.push_back(std::move(pool));
}

}  // namespace

bool valid_hash_key(std::string_view key) {
  if (key == "client_ip") return true;
  for (std::string_view prefix : {"header:", "cookie:"}) {
    if (key.substr(0, prefix.size()) == prefix) {
      const std::string_view name = key.substr(prefix.size());
      return valid_name(name);
    }
  }
  return false;
}

void load_pools(TableReader& root, Config& config) {
  const toml::node* node = root.take("pools");
  if (node == nullptr) return;  // validate_references reports routes without a pool
  if (!node->is_table()) {
    root.diag().error(node->source(), "pools: expected [pools.NAME] tables");
    return;
  }
  for (auto&& [name, pool] : *node->as_table()) {
    load_pool(name.str(), pool, root.diag(), config);
  }
}

}  // namespace veer::conf::detail
