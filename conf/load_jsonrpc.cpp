// JSON-RPC mode in the file (docs/JSONRPC.md): a route's `jsonrpc` table and
// `method_routes`, a rate-limit policy's `method_costs`, and the checks of their targets
// once every pool and split is known.

#include <algorithm>
#include <string>
#include <vector>

#include "conf/toml_reader.hpp"

namespace veer::conf::detail {
namespace {

// Method globs: letters, digits, '_' and '*' (every Ethereum method name is
// [A-Za-z0-9_]), so a glob cannot be a typo of another syntax.
bool valid_glob(std::string_view glob) {
  return !glob.empty() && std::all_of(glob.begin(), glob.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '*';
  });
}

constexpr std::string_view kGlobRule = "letters, digits, '_' and '*' only, such as \"debug_*\"";

// key = ["eth_*", "net_version"]: globs, each valid. False (reported) otherwise.
bool read_globs(const toml::node& node, const std::string& path, Diagnostics& diag,
                std::vector<std::string>& out, bool allow_empty) {
  const toml::array* list = node.as_array();
  if (list == nullptr || (!allow_empty && list->empty())) {
    diag.error(node.source(), path + ": expected an array of method globs, such as " +
                                  "[\"eth_*\", \"net_version\"]");
    return false;
  }
  std::vector<std::string> globs;
  for (std::size_t i = 0; i < list->size(); ++i) {
    const toml::node& item = *list->get(i);
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    if (!item.is_string() || !valid_glob(item.as_string()->get())) {
      diag.error(item.source(), item_path + ": a method glob uses " + std::string(kGlobRule));
      return false;
    }
    globs.push_back(item.as_string()->get());
  }
  out = std::move(globs);
  return true;
}

void read_glob_key(TableReader& r, std::string_view key, std::vector<std::string>& out) {
  if (const toml::node* node = r.take(key)) read_globs(*node, r.path_of(key), r.diag(), out, true);
}

void load_jsonrpc_table(TableReader& r, JsonRpcRouteConfig& out) {
  std::uint64_t value = out.max_batch;
  if (r.read_uint("max_batch", value, 1, 10'000)) out.max_batch = static_cast<std::uint32_t>(value);
  read_glob_key(r, "allow", out.allow);
  read_glob_key(r, "deny", out.deny);
  r.read_bool("local_accounts", out.local_accounts);
  r.read_bool("pin_latest", out.pin_latest);
  r.read_uint("recent_blocks", out.recent_blocks, 1, 1'000'000'000);
  if (r.read_string("archive", out.archive) && out.archive.empty()) {
    r.diag().error(r.take("archive")->source(),
                   r.path_of("archive") + ": expected the name of a pool or a split");
  }
  r.read_uint("max_logs_block_range", out.max_logs_block_range, 1, 1'000'000'000'000);
  value = out.max_subscriptions;
  if (r.read_uint("max_subscriptions", value, 0, 1'000'000))
    out.max_subscriptions = static_cast<std::uint32_t>(value);
  r.read_uint("max_queue_bytes", out.max_queue_bytes, 1024, std::uint64_t{1} << 32);
  r.finish();
}

void load_method_route(const toml::node& node, const std::string& path, Diagnostics& diag,
                       RouteConfig& route) {
  std::optional<TableReader> reader =
      open_table(node, path, "{ match = [\"debug_*\"], target = \"archive\" }", diag);
  if (!reader) return;
  TableReader& r = *reader;
  MethodRouteConfig method_route;
  method_route.pos = position_of(node.source());
  if (const toml::node* match = r.take("match")) {
    read_globs(*match, r.path_of("match"), diag, method_route.match, false);
  } else {
    diag.error(node.source(), path + ": missing key \"match\" (the method globs, [\"debug_*\"])");
  }
  if (const toml::node* target = r.take("target")) {
    method_route.pos = position_of(target->source());
    if (!target->is_string() || target->as_string()->get().empty()) {
      diag.error(target->source(),
                 r.path_of("target") + ": expected the name of a pool or a split");
    } else {
      method_route.target = target->as_string()->get();
    }
  } else {
    diag.error(node.source(), path + ": missing key \"target\" (a pool or a split)");
  }
  r.finish();
  route.method_routes.push_back(std::move(method_route));
}

// Globs in the order a call is matched against them: exact names first, then the
// longest (most specific) patterns. A TOML table has no order of its own.
bool more_specific(const std::pair<std::string, std::uint64_t>& a,
                   const std::pair<std::string, std::uint64_t>& b) {
  const auto exact = [](const std::string& g) { return g.find('*') == std::string::npos; };
  const auto fixed = [](const std::string& g) {
    return g.size() - std::count(g.begin(), g.end(), '*');
  };
  if (exact(a.first) != exact(b.first)) return exact(a.first);
  if (fixed(a.first) != fixed(b.first)) return fixed(a.first) > fixed(b.first);
  return a.first < b.first;
}

// Where a check of a target reports: the key's value in the file when it can be found.
SourcePos where(const toml::table& root, const ListenerConfig& listener, std::size_t route,
                std::string_view key, SourcePos fallback) {
  const toml::node* node = root["listeners"][listener.name]["routes"][route]["jsonrpc"][key].node();
  return node != nullptr ? position_of(node->source()) : fallback;
}

}  // namespace

void load_route_jsonrpc(TableReader& r, RouteConfig& route) {
  if (const toml::node* node = r.take("jsonrpc")) {
    const std::string path = r.path_of("jsonrpc");
    if (node->is_boolean()) {
      if (node->as_boolean()->get()) {
        route.jsonrpc.emplace();
        route.jsonrpc->pos = position_of(node->source());
      }
    } else if (std::optional<TableReader> table =
                   open_table(*node, path, "{ max_batch = 100 }, or true", r.diag())) {
      route.jsonrpc.emplace();
      route.jsonrpc->pos = position_of(node->source());
      load_jsonrpc_table(*table, *route.jsonrpc);
    }
  }
  const toml::node* node = r.take("method_routes");
  if (node == nullptr) return;
  const std::string path = r.path_of("method_routes");
  const toml::array* list = node->as_array();
  if (list == nullptr) {
    r.diag().error(node->source(), path + ": expected an array of tables, such as " +
                                       "[{ match = [\"debug_*\"], target = \"archive\" }]");
    return;
  }
  if (!route.jsonrpc) {
    r.diag().error(node->source(), path + ": method_routes needs jsonrpc = true on the route");
  }
  for (std::size_t i = 0; i < list->size(); ++i)
    load_method_route(*list->get(i), path + "[" + std::to_string(i) + "]", r.diag(), route);
}

void load_method_costs(TableReader& r, RateLimitPolicyConfig& policy) {
  const toml::node* node = r.take("method_costs");
  if (node == nullptr) return;
  const std::string path = r.path_of("method_costs");
  const toml::table* table = node->as_table();
  if (table == nullptr) {
    r.diag().error(node->source(),
                   path + ": expected a table such as { \"eth_getLogs\" = 10, \"debug_*\" = 20 }");
    return;
  }
  std::vector<std::pair<std::string, std::uint64_t>> costs;
  bool ok = true;
  for (auto&& [key, value] : *table) {
    const std::string glob(key.str());
    const std::string item_path = path + ".\"" + glob + "\"";
    if (!valid_glob(glob)) {
      r.diag().error(value.source(), item_path + ": a method glob uses " + std::string(kGlobRule));
      ok = false;
      continue;
    }
    std::uint64_t cost = 0;
    if (!read_uint_node(value, item_path, r.diag(), cost, 0, 1'000'000)) {
      ok = false;
      continue;
    }
    costs.emplace_back(glob, cost);
  }
  if (!ok) return;
  std::sort(costs.begin(), costs.end(), more_specific);
  policy.method_costs = std::move(costs);  // a table given replaces the defaults
}

void validate_jsonrpc_targets(const toml::table& root, const Config& config, Diagnostics& diag,
                              std::vector<bool>& used_pools) {
  const auto known = [&](const std::string& target) {
    if (config.find_split(target) != nullptr) return true;
    const PoolConfig* pool = config.find_pool(target);
    if (pool == nullptr) return false;
    used_pools[static_cast<std::size_t>(pool - config.pools.data())] = true;
    return true;
  };
  for (const ListenerConfig& listener : config.listeners) {
    for (std::size_t i = 0; i < listener.routes.size(); ++i) {
      const RouteConfig& route = listener.routes[i];
      const std::string path = "listeners." + listener.name + ".routes[" + std::to_string(i) + "]";
      if (route.jsonrpc && !route.jsonrpc->archive.empty() && !known(route.jsonrpc->archive)) {
        diag.error(
            where(root, listener, i, "archive", route.jsonrpc->pos),
            path + ".jsonrpc.archive: no pool or split named \"" + route.jsonrpc->archive + "\"");
      }
      for (std::size_t k = 0; k < route.method_routes.size(); ++k) {
        const MethodRouteConfig& method_route = route.method_routes[k];
        if (method_route.target.empty() || known(method_route.target)) continue;
        diag.error(method_route.pos, path + ".method_routes[" + std::to_string(k) +
                                         "].target: no pool or split named \"" +
                                         method_route.target + "\"");
      }
    }
  }
}

}  // namespace veer::conf::detail
