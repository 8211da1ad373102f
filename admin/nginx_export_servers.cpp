// Listeners as server blocks (one per distinct host set, and per SNI certificate group)
// and routes as locations, with the headers veer sets for the backend.

#include <algorithm>
#include <cctype>

#include "admin/nginx_export_detail.hpp"

namespace veer::admin::nginx {
namespace {

struct Block {
  std::vector<std::string> server_names;  // empty: the listener's default server
  std::vector<std::size_t> routes;        // indexes into listener.routes, in veer's order
  std::vector<const conf::CertKeyConfig*> certificates;
};

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// A certificate name ("*.example.org" covers one label) against a host.
bool name_covers(const std::string& name, const std::string& host) {
  if (name.starts_with("*.")) {
    const std::size_t dot = host.find('.');
    return dot != std::string::npos && host.substr(dot) == name.substr(1);
  }
  return name == host;
}

const CertificateGroup* group_for(const std::vector<CertificateGroup>& groups,
                                  const std::string& host) {
  for (const CertificateGroup& g : groups) {
    for (const std::string& name : g.names) {
      if (name_covers(name, host)) return &g;
    }
  }
  return groups.empty() ? nullptr : &groups.front();
}

std::vector<std::size_t> routes_for(const conf::ListenerConfig& listener, const std::string& host) {
  std::vector<std::size_t> routes;
  for (std::size_t i = 0; i < listener.routes.size(); ++i) {
    const std::string& h = listener.routes[i].host;
    if (h.empty() || (!host.empty() && lower(h) == host)) routes.push_back(i);
  }
  return routes;
}

std::vector<Block> plan_blocks(Context& ctx, const conf::ListenerConfig& listener, Writer& out) {
  std::vector<CertificateGroup> groups;
  if (listener.tls) groups = certificate_groups(ctx, *listener.tls);
  std::vector<Block> blocks{Block{{}, routes_for(listener, ""), {}}};
  if (!groups.empty()) blocks[0].certificates = groups.front().certificates;
  std::vector<std::string> hosts;
  for (const conf::RouteConfig& route : listener.routes) {
    const std::string host = lower(route.host);
    if (host.empty() || std::find(hosts.begin(), hosts.end(), host) != hosts.end()) continue;
    hosts.push_back(host);
    Block block{{host}, routes_for(listener, host), {}};
    if (const CertificateGroup* g = group_for(groups, host)) block.certificates = g->certificates;
    blocks.push_back(std::move(block));
  }
  // Certificates chosen by SNI for names no route names: a server block each.
  for (std::size_t i = 1; i < groups.size(); ++i) {
    if (groups[i].names.empty()) {
      out.gap("listener " + listener.name,
              "certificate " + groups[i].certificates.front()->cert +
                  ": its names are unknown, so no server block presents it");
      continue;
    }
    Block block{{}, routes_for(listener, ""), groups[i].certificates};
    for (const std::string& name : groups[i].names) {
      if (std::find(hosts.begin(), hosts.end(), name) == hosts.end())
        block.server_names.push_back(name);
    }
    if (!block.server_names.empty()) blocks.push_back(std::move(block));
  }
  return blocks;
}

std::string prefix_of(const conf::RouteConfig& route) {
  return route.path_prefix.empty() ? "/" : route.path_prefix;
}

bool uses_route_key(const Context& ctx) {
  for (const conf::RateLimitPolicyConfig& p : ctx.config.limits.policies) {
    if (std::find(p.key.begin(), p.key.end(), "route") != p.key.end()) return true;
  }
  return false;
}

// Retries and upstream TLS of the pools a location may send to; nginx sets them per
// location, so pools that differ are a gap.
void write_pool_directives(Context& ctx, const std::vector<const conf::PoolConfig*>& pools,
                           const std::string& where, Writer& out) {
  if (pools.empty()) return;
  const conf::PoolConfig& first = *pools.front();
  const conf::PoolConfig* tls_pool = nullptr;
  for (const conf::PoolConfig* p : pools) {
    if (p->retries.attempts != first.retries.attempts)
      out.gap(where, "pools " + first.name + " and " + p->name + " retry differently; " +
                         first.name + "'s used");
    if (p->tls && tls_pool != nullptr && !(*p->tls == *tls_pool->tls))
      out.gap(where, "pools " + tls_pool->name + " and " + p->name + " differ in TLS; " +
                         tls_pool->name + "'s used");
    if (p->tls && tls_pool == nullptr) tls_pool = p;
  }
  if (first.retries.attempts == 0) {
    out.directive("proxy_next_upstream off");
  } else {
    out.comment("veer retries a failed connect or a lost connection on another backend, never a");
    out.comment(
        "POST that may have been processed (nginx's default), nor after a response timeout.");
    out.directive("proxy_next_upstream error");
    out.directive("proxy_next_upstream_tries " + std::to_string(first.retries.attempts + 1));
  }
  if (tls_pool != nullptr) write_upstream_tls(ctx, *tls_pool, where, out);
}

// proxy_pass to a split: the pool variable, with the scheme by pool when TLS is mixed.
void write_split_target(Context& ctx, const conf::SplitConfig& split, const std::string& where,
                        Writer& out) {
  const std::string pool = split_pool_variable(ctx, split, out);
  std::vector<const conf::PoolConfig*> pools;
  std::size_t tls = 0;
  for (const conf::SplitTargetConfig& t : split.targets) {
    if (const conf::PoolConfig* p = ctx.config.find_pool(t.pool)) {
      pools.push_back(p);
      tls += p->tls ? 1 : 0;
    }
  }
  std::string scheme = tls == 0 ? "http" : "https";
  if (tls != 0 && tls != pools.size()) {
    std::string& made = ctx.made["scheme:" + split.name];
    if (made.empty()) {
      made = ctx.new_variable("veer_split_" + split.name + "_scheme");
      ctx.maps.open("map " + pool + " " + made);
      for (const conf::PoolConfig* p : pools) {
        if (p->tls) ctx.maps.directive(quote(p->name) + " https");
      }
      ctx.maps.directive("default http");
      ctx.maps.close();
    }
    scheme = made;
  }
  out.directive("proxy_pass " + scheme + "://" + pool);
  write_pool_directives(ctx, pools, where, out);
  if (!split.target_header.empty()) {
    out.directive("proxy_hide_header " + quote(split.target_header));
    out.directive("add_header " + quote(split.target_header) + " " + pool + " always");
    out.comment("proxy_hide_header and add_header here replace the http block's: X-Request-Id");
    out.comment("again.");
    if (lower(split.target_header) != "x-request-id")
      out.directive("proxy_hide_header X-Request-Id");
    out.directive("add_header X-Request-Id $veer_request_id always");
  }
  if (split.failover)
    out.gap(where,
            "split " + split.name + " failover: nginx does not move a request to another pool");
  if (split.drain_tunnels_after)
    out.gap(where,
            "split " + split.name + " drain_tunnels_after " + duration(*split.drain_tunnels_after));
}

// Route `index` as a location for its prefix, or, given `exact`, for that path alone.
void write_location(Context& ctx, const conf::ListenerConfig& listener, std::size_t index,
                    const std::string& server_where, Writer& out, const std::string& exact = "") {
  const conf::RouteConfig& route = listener.routes[index];
  const std::string match = exact.empty() ? quote(prefix_of(route)) : "= " + quote(exact);
  const std::string where = server_where + " location " + match;
  out.open("location " + match);
  out.comment("route " + std::to_string(index + 1) +
              (route.host.empty() ? "" : ", host " + route.host) + ", target " + route.target);
  if (uses_route_key(ctx))
    out.directive("set $veer_route " + quote(listener.name + "/" + std::to_string(index + 1)));
  std::vector<std::string> limits = listener.limits;
  limits.insert(limits.end(), route.limits.begin(), route.limits.end());
  write_limit_reqs(ctx, limits, where, out);
  if (route.max_in_flight > 0)
    out.gap(where, "max_in_flight " + std::to_string(route.max_in_flight) +
                       " (requests of the route at once)");
  if (route.jsonrpc)
    out.gap(where,
            "jsonrpc (JSON-RPC mode: batches, method policy, error classes, never "
            "backwards); proxied byte for byte");
  if (const conf::PoolConfig* pool = ctx.config.find_pool(route.target)) {
    out.directive(std::string("proxy_pass ") + (pool->tls ? "https://" : "http://") + pool->name);
    write_pool_directives(ctx, {pool}, where, out);
  } else if (const conf::SplitConfig* split = ctx.config.find_split(route.target)) {
    write_split_target(ctx, *split, where, out);
  }
  out.close();
}

// nginx answers a path equal to a proxied location's prefix without its final '/' ("/api"
// for "/api/") with a 301 to the prefix; veer's "/api/" does not match "/api", which goes
// to the first route that does. An exact location does that instead.
void write_bare_prefix_locations(Context& ctx, const conf::ListenerConfig& listener,
                                 const Block& block, const std::vector<std::string>& written,
                                 const std::string& where, Writer& out) {
  for (const std::string& prefix : written) {
    if (prefix.size() < 2 || !prefix.ends_with('/')) continue;
    const std::string bare = prefix.substr(0, prefix.size() - 1);
    if (std::find(written.begin(), written.end(), bare) != written.end()) continue;
    const auto chosen = std::find_if(block.routes.begin(), block.routes.end(), [&](std::size_t i) {
      return bare.starts_with(listener.routes[i].path_prefix);
    });
    if (chosen != block.routes.end()) {
      write_location(ctx, listener, *chosen, where, out, bare);
      continue;
    }
    out.comment("No route matches " + bare + ": veer answers 404 (nginx would redirect to " +
                prefix + ").");
    out.open("location = " + quote(bare));
    out.directive("return 404");
    out.close();
  }
}

// Routes as locations: veer takes the first route that matches, nginx the longest prefix.
// They agree once the routes an earlier one hides are left out.
void write_locations(Context& ctx, const conf::ListenerConfig& listener, const Block& block,
                     const std::string& where, Writer& out) {
  std::vector<std::string> written;
  for (const std::size_t i : block.routes) {
    const std::string prefix = prefix_of(listener.routes[i]);
    const auto hidden = std::find_if(written.begin(), written.end(),
                                     [&](const std::string& p) { return prefix.starts_with(p); });
    if (hidden != written.end()) {
      out.comment("route " + std::to_string(i + 1) + " (" + prefix +
                  ") is never reached in veer: route for " + *hidden + " comes first.");
      continue;
    }
    write_location(ctx, listener, i, where, out);
    written.push_back(prefix);
  }
  if (std::find(written.begin(), written.end(), "/") == written.end()) {
    out.comment("No route matches the other paths: veer answers 404.");
    out.open("location /");
    out.directive("return 404");
    out.close();
  }
  write_bare_prefix_locations(ctx, listener, block, written, where, out);
}

// The listener's address; port 0 (a free port veer picks at start) has no nginx form:
// each such listener gets its own placeholder port from 80 on.
std::string listen_address(const conf::Config& config, const conf::ListenerConfig& listener,
                           int& placeholder, Writer* gaps) {
  if (listener.host_port.port != 0) return listener.address;
  const auto taken = [&](int port) {
    return std::any_of(config.listeners.begin(), config.listeners.end(),
                       [&](const conf::ListenerConfig& l) { return l.host_port.port == port; });
  };
  while (taken(placeholder))
    ++placeholder;
  const std::string port = std::to_string(placeholder++);
  if (gaps != nullptr)
    gaps->gap("listener " + listener.name,
              "port 0 (a free port picked at start): nginx needs a port, " + port + " written");
  const std::string& host = listener.host_port.host;
  return (listener.host_port.host_is_ipv6_literal ? "[" + host + "]" : host) + ":" + port;
}

}  // namespace

void write_servers(Context& ctx, Writer& out) {
  int placeholder = 80;
  for (const conf::ListenerConfig& listener : ctx.config.listeners) {
    const std::vector<Block> blocks = plan_blocks(ctx, listener, out);
    const std::string address = listen_address(ctx.config, listener, placeholder, &out);
    for (std::size_t b = 0; b < blocks.size(); ++b) {
      const Block& block = blocks[b];
      std::string where = "listener " + listener.name;
      if (!block.server_names.empty()) where += " (" + block.server_names.front() + ")";
      out.comment("listener " + listener.name + (b == 0 ? " (any host)" : ""));
      out.open("server");
      std::string listen = "listen " + address;
      if (b == 0) listen += " default_server";
      if (listener.tls) listen += " ssl";
      if (listener.proxy_protocol) listen += " proxy_protocol";
      // veer's [::] socket takes IPv4 too (no IPV6_V6ONLY); nginx's is IPv6-only by
      // default. The option may be given once per address, on the first listen.
      if (b == 0 && address.starts_with("[::]:")) listen += " ipv6only=off";
      out.directive(listen);
      if (!block.server_names.empty()) {
        std::string names = "server_name";
        for (const std::string& n : block.server_names)
          names.append(" ").append(quote(n));
        out.directive(names);
      }
      write_real_ip(ctx, listener, out);
      write_proxy_headers(ctx, listener, out);
      write_limit_conn(ctx, listener, out);
      if (listener.tls) write_listener_tls(ctx, listener, block.certificates, where, out);
      write_locations(ctx, listener, block, where, out);
      out.close();
      out.blank();
    }
    if (listener.tls && listener.tls->unknown_sni == conf::ListenerTlsConfig::UnknownSni::refuse)
      out.gap("listener " + listener.name,
              "unknown_sni refuse: nginx presents the default server's certificate");
  }
}

}  // namespace veer::admin::nginx
