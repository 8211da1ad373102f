#include <algorithm>

#include "conf/toml_reader.hpp"

namespace veer::conf::detail {
namespace {

bool valid_path_prefix(std::string_view prefix) {
  if (prefix.empty() || prefix.front() != '/') return false;
  return std::all_of(prefix.begin(), prefix.end(),
                     [](char c) { return c > 0x20 && c < 0x7f && c != '?' && c != '#'; });
}

void load_route(const toml::node& node, const std::string& path, Diagnostics& diag,
                const Config& config, ListenerConfig& listener) {
  if (!node.is_table()) {
    diag.error(node.source(), path + ": expected a table with path_prefix, host and target");
    return;
  }
  TableReader r(*node.as_table(), path, diag);
  RouteConfig route;
  if (r.read_string("path_prefix", route.path_prefix) && !valid_path_prefix(route.path_prefix)) {
    diag.error(r.take("path_prefix")->source(),
               path + ".path_prefix: must start with \"/\" and contain no spaces, '?' or '#'");
  }
  if (r.read_string("host", route.host)) {
    std::string why;
    if (!parse_host_port(route.host + ":0", &why) || route.host.empty()) {
      diag.error(r.take("host")->source(),
                 path + ".host: \"" + route.host + "\" is not a host name");
    }
    std::transform(route.host.begin(), route.host.end(), route.host.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  }
  if (const toml::node* target = r.take("target")) {
    route.target_pos = position_of(target->source());
    if (!target->is_string() || target->as_string()->get().empty()) {
      diag.error(target->source(), path + ".target: expected the name of a pool");
    } else {
      route.target = target->as_string()->get();
    }
  } else {
    diag.error(node.source(), path + ": missing key \"target\" (the pool to send requests to)");
  }
  load_route_limits(r, config, route);
  load_route_jsonrpc(r, route);
  r.finish();
  listener.routes.push_back(std::move(route));
}

// trusted_proxies = ["10.0.0.0/8", "::1", ...]: the peers whose forwarding headers and
// PROXY protocol header are believed. Each entry is an address or a prefix.
void load_trusted_proxies(TableReader& r, ListenerConfig& listener) {
  const toml::node* node = r.take("trusted_proxies");
  if (node == nullptr) return;
  const std::string path = r.path_of("trusted_proxies");
  const toml::array* list = node->as_array();
  if (list == nullptr) {
    r.diag().error(
        node->source(),
        path + ": expected an array of addresses or prefixes, [\"10.0.0.0/8\", \"::1\"]");
    return;
  }
  for (std::size_t i = 0; i < list->size(); ++i) {
    const toml::node& item = *list->get(i);
    const std::string item_path = path + "[" + std::to_string(i) + "]";
    if (!item.is_string()) {
      r.diag().error(item.source(), item_path + ": expected a string such as \"10.0.0.0/8\"");
      continue;
    }
    const std::string& text = item.as_string()->get();
    std::string_view why;
    if (const std::optional<core::IpPrefix> prefix = core::IpPrefix::parse(text, &why)) {
      listener.trusted_proxies.push_back(*prefix);
    } else {
      r.diag().error(item.source(), item_path + ": \"" + text + "\": " + std::string(why));
    }
  }
}

// proxy_protocol = true: every connection starts with a PROXY v1/v2 header, which only
// a trusted proxy may send; without trusted_proxies nobody could.
void load_proxy_protocol(TableReader& r, ListenerConfig& listener) {
  if (!r.read_bool("proxy_protocol", listener.proxy_protocol) || !listener.proxy_protocol) return;
  if (listener.trusted_proxies.empty()) {
    r.diag().error(r.take("proxy_protocol")->source(),
                   r.path_of("proxy_protocol") +
                       ": needs trusted_proxies (the load balancers that send the header); "
                       "with none every connection would be refused");
  }
}

void load_listener(std::string_view name, const toml::node& node, Diagnostics& diag,
                   Config& config) {
  ListenerConfig listener;
  std::optional<TableReader> reader = open_named_table("listeners", name, node, diag, listener);
  if (!reader) return;
  TableReader& r = *reader;
  const std::string& path = r.path();
  if (const toml::node* address = r.take("address")) {
    std::string why;
    std::optional<HostPort> hp;
    if (!address->is_string()) {
      diag.error(address->source(), path + ".address: expected \"host:port\"");
    } else if (!(hp = parse_host_port(address->as_string()->get(), &why))) {
      diag.error(address->source(), path + ".address: " + why);
    } else {
      listener.address = address->as_string()->get();
      listener.host_port = *hp;
      for (const ListenerConfig& other : config.listeners) {
        if (other.host_port.port != 0 && other.host_port.host == hp->host &&
            other.host_port.port == hp->port) {
          diag.error(address->source(), path + ".address: " + listener.address +
                                            " is already used by listener \"" + other.name + "\"");
        }
      }
    }
  } else {
    diag.error(node.source(), path + ": missing key \"address\" (\"host:port\" to listen on)");
  }
  load_listener_tls(r, listener);
  load_trusted_proxies(r, listener);
  load_proxy_protocol(r, listener);
  if (const toml::node* routes = r.take("routes")) {
    const toml::array* list = routes->as_array();
    if (list == nullptr || list->empty()) {
      diag.error(routes->source(),
                 path + ".routes: expected at least one [[" + path + ".routes]] table");
    } else {
      for (std::size_t i = 0; i < list->size(); ++i) {
        load_route(*list->get(i), path + ".routes[" + std::to_string(i) + "]", diag, config,
                   listener);
      }
    }
  } else {
    diag.error(node.source(), path + ": missing routes (add a [[" + path + ".routes]] table)");
  }
  load_listener_limits(r, config, listener);
  r.finish();
  config.listeners.push_back(std::move(listener));
}

}  // namespace

void load_listeners(TableReader& root, Config& config) {
  const toml::node* node = root.take("listeners");
  if (node == nullptr) {
    root.diag().error(toml::source_region{{1, 1}, {1, 1}, nullptr},
                      "listeners: at least one [listeners.NAME] table is required");
    return;
  }
  if (!node->is_table() || node->as_table()->empty()) {
    root.diag().error(node->source(), "listeners: expected [listeners.NAME] tables");
    return;
  }
  for (auto&& [name, listener] : *node->as_table()) {
    load_listener(name.str(), listener, root.diag(), config);
  }
}

}  // namespace veer::conf::detail
