#include "runtime/snapshot.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

#include "runtime/jsonrpc_route.hpp"
#include "strategies/split_buckets.hpp"

namespace veer::runtime {

std::vector<strategies::BackendView> backend_views(const PoolRuntime& pool) {
  std::vector<strategies::BackendView> views;
  views.reserve(pool.backends.size());
  for (const BackendRuntime& backend : pool.backends) {
    views.push_back(strategies::BackendView{backend.address, backend.weight, backend.stats.get()});
  }
  return views;
}

const ListenerRuntime* Snapshot::find_listener(std::string_view name) const {
  for (const ListenerRuntime& listener : listeners) {
    if (listener.name == name) return &listener;
  }
  return nullptr;
}

const SplitRuntime* Snapshot::find_split(std::string_view name) const {
  for (const SplitRuntime& split : splits) {
    if (split.name == name) return &split;
  }
  return nullptr;
}

std::shared_ptr<core::BackendStats> BackendRegistry::stats_for(std::string_view pool,
                                                               std::string_view address) {
  std::string key;
  key.reserve(pool.size() + address.size() + 1);
  key.append(pool).append("/").append(address);
  auto it = stats_.find(key);
  if (it == stats_.end()) {
    auto stats = std::make_shared<core::BackendStats>();
    // A backend joining a running pool is cold: slow start ramps it up from now.
    if (started_) {
      stats->routable_since.store(core::BackendStats::Clock::now().time_since_epoch().count(),
                                  std::memory_order_relaxed);
    }
    it = stats_.emplace(std::move(key), std::move(stats)).first;
  }
  return it->second;
}

std::shared_ptr<core::PoolStats> BackendRegistry::pool_stats_for(std::string_view pool) {
  auto it = pools_.find(pool);
  if (it == pools_.end()) {
    it = pools_.emplace(std::string(pool), std::make_shared<core::PoolStats>()).first;
  }
  return it->second;
}

std::shared_ptr<const SplitTargetTag> BackendRegistry::split_target_tag(std::string_view split,
                                                                        std::string_view pool) {
  std::string key;
  key.append(split).append("/").append(pool);
  auto it = split_targets_.find(key);
  if (it == split_targets_.end()) {
    auto tag = std::make_shared<const SplitTargetTag>(
        SplitTargetTag{std::string(split), std::string(pool)});
    it = split_targets_.emplace(std::move(key), std::move(tag)).first;
  }
  return it->second;
}

std::shared_ptr<RouteInFlight> BackendRegistry::route_in_flight(std::uint64_t route_id) {
  std::shared_ptr<RouteInFlight>& found = routes_in_flight_[route_id];
  if (!found) found = std::make_shared<RouteInFlight>();
  return found;
}

std::shared_ptr<JsonRpcRouteState> BackendRegistry::jsonrpc_route_state(std::uint64_t route_id) {
  std::shared_ptr<JsonRpcRouteState>& found = jsonrpc_states_[route_id];
  if (!found) found = std::make_shared<JsonRpcRouteState>();
  return found;
}

void BackendRegistry::collect() {
  const auto unused = [](const auto& entry) { return entry.second.use_count() == 1; };
  std::erase_if(stats_, unused);
  std::erase_if(pools_, unused);
  std::erase_if(split_targets_, unused);
  std::erase_if(routes_in_flight_, unused);
  std::erase_if(jsonrpc_states_, unused);
}

namespace {

HashKey parse_hash_key(std::string_view text) {
  for (auto [prefix, kind] : {std::pair{std::string_view("header:"), HashKey::Kind::header},
                              std::pair{std::string_view("cookie:"), HashKey::Kind::cookie}}) {
    if (text.substr(0, prefix.size()) == prefix) {
      return HashKey{kind, std::string(text.substr(prefix.size()))};
    }
  }
  return HashKey{};
}

// Each policy as it runs: parameters in nanoseconds, key parts, Limiter, header field.
void add_policies(Snapshot& snapshot, const LimiterSet& limiters) {
  // Whatever `limiters` lacks (a test's snapshot) is made here; cluster policies cannot be.
  snapshot.limiters = LimiterSet::build(snapshot.config, &limiters, {});
  for (const conf::RateLimitPolicyConfig& policy : snapshot.config.limits.policies) {
    PolicyRuntime runtime;
    runtime.name = policy.name;
    runtime.config = &policy;
    runtime.gcra = limits::Gcra::of(
        policy.rate, std::chrono::duration_cast<std::chrono::nanoseconds>(policy.per).count(),
        policy.burst, policy.delay);
    runtime.key = parse_limit_key(policy.key);
    runtime.limiter = snapshot.limiters.find(policy.name);
    runtime.policy_field = policy_field(policy);
    snapshot.policies.push_back(std::move(runtime));
  }
}

// The listener's policies, then the route's own; a policy named by both is checked once.
std::vector<std::uint32_t> route_policies(const conf::Config& config,
                                          const conf::ListenerConfig& listener,
                                          const conf::RouteConfig& route) {
  std::vector<std::uint32_t> indices;
  for (const auto* names : {&listener.limits, &route.limits}) {
    for (const std::string& name : *names) {
      const auto index = static_cast<std::uint32_t>(config.limits.find_policy(name) -
                                                    config.limits.policies.data());
      if (std::find(indices.begin(), indices.end(), index) == indices.end())
        indices.push_back(index);
    }
  }
  return indices;
}

// A pool or split name as a JSON-RPC target (the loader checked that it names one).
RpcTarget rpc_target(const conf::Config& config, std::string_view name) {
  if (const conf::SplitConfig* split = config.find_split(name)) {
    return RpcTarget{0, static_cast<std::uint32_t>(split - config.splits.data())};
  }
  const conf::PoolConfig* pool = config.find_pool(name);
  if (pool == nullptr) throw std::logic_error("JSON-RPC target names no pool or split");
  return RpcTarget{static_cast<std::uint32_t>(pool - config.pools.data()), kNoSplit};
}

// A JSON-RPC route's policy: targets resolved like the route's own, the state shared
// by route id.
std::shared_ptr<const JsonRpcRouteRuntime> jsonrpc_route(const conf::Config& config,
                                                         const conf::RouteConfig& route,
                                                         const RouteRuntime& runtime,
                                                         BackendRegistry& registry) {
  auto compiled = std::make_shared<JsonRpcRouteRuntime>();
  compiled->config = &*route.jsonrpc;
  compiled->target = RpcTarget{runtime.pool, runtime.split};
  for (const conf::MethodRouteConfig& method_route : route.method_routes) {
    compiled->method_routes.push_back(
        MethodRouteRuntime{method_route.match, rpc_target(config, method_route.target)});
  }
  if (!route.jsonrpc->archive.empty()) {
    compiled->archive = rpc_target(config, route.jsonrpc->archive);
  }
  compiled->state = registry.jsonrpc_route_state(runtime.id);
  return compiled;
}

}  // namespace

std::shared_ptr<const Snapshot> build_snapshot(conf::Config config, std::uint64_t version,
                                               BackendRegistry& registry, TlsSet tls,
                                               const LimiterSet& limiters) {
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->version = version;
  snapshot->tls = std::move(tls);
  // Runtime objects point into the snapshot's own copy of the configuration.
  snapshot->config = std::move(config);
  const conf::Config& configured = snapshot->config;
  add_policies(*snapshot, limiters);
  for (const conf::PoolConfig& pool : configured.pools) {
    PoolRuntime runtime;
    runtime.name = pool.name;
    runtime.config = &pool;
    runtime.stats = registry.pool_stats_for(pool.name);
    runtime.strategy = strategies::find_strategy(pool.strategy);
    runtime.hash_key = parse_hash_key(pool.hash_key);
    for (const conf::BackendConfig& backend : pool.backends) {
      runtime.backends.push_back(BackendRuntime{backend.address, backend.resolved, backend.weight,
                                                backend.backup,
                                                registry.stats_for(pool.name, backend.address)});
    }
    if (runtime.strategy->prepare != nullptr) {
      runtime.prepared = runtime.strategy->prepare(backend_views(runtime));
    }
    if (const auto loaded = snapshot->tls.pools.find(pool.name);
        loaded != snapshot->tls.pools.end())
      runtime.tls = loaded->second->tls;
    snapshot->pools.push_back(std::move(runtime));
  }
  const auto pool_index = [&](std::string_view name) {
    return static_cast<std::uint32_t>(configured.find_pool(name) - configured.pools.data());
  };
  for (const conf::SplitConfig& split : configured.splits) {
    SplitRuntime runtime;
    runtime.name = split.name;
    runtime.config = &split;
    runtime.per_request = split.sticky == "none";
    if (!runtime.per_request) runtime.sticky = parse_hash_key(split.sticky);
    for (const conf::SplitTargetConfig& target : split.targets) {
      runtime.pools.push_back(pool_index(target.pool));
      runtime.weights.push_back(target.weight);
      runtime.tags.push_back(registry.split_target_tag(split.name, target.pool));
    }
    runtime.bucket_ends = strategies::split_bucket_ends(runtime.weights);
    runtime.hash_ends = strategies::split_hash_ends(runtime.bucket_ends);
    snapshot->splits.push_back(std::move(runtime));
  }
  for (const conf::ListenerConfig& listener : configured.listeners) {
    ListenerRuntime runtime;
    runtime.name = listener.name;
    runtime.config = &listener;
    if (const auto loaded = snapshot->tls.listeners.find(listener.name);
        loaded != snapshot->tls.listeners.end())
      runtime.tls = loaded->second->tls;
    for (const conf::RouteConfig& route : listener.routes) {
      RouteRuntime r;
      r.host = route.host;
      r.path_prefix = route.path_prefix;
      r.policies = route_policies(configured, listener, route);
      r.id = route_id(listener.name, route.host, route.path_prefix);
      r.max_in_flight = route.max_in_flight;
      r.in_flight = registry.route_in_flight(r.id);
      if (const conf::SplitConfig* split = configured.find_split(route.target)) {
        r.split = static_cast<std::uint32_t>(split - configured.splits.data());
      } else {
        r.pool = pool_index(route.target);
      }
      if (route.jsonrpc) r.jsonrpc = jsonrpc_route(configured, route, r, registry);
      runtime.routes.push_back(std::move(r));
    }
    snapshot->listeners.push_back(std::move(runtime));
  }
  registry.mark_started();
  return snapshot;
}

void SnapshotStore::publish(std::shared_ptr<const Snapshot> snapshot) {
  const std::uint64_t version = snapshot->version;
  {
    std::lock_guard lock(mutex_);
    current_ = std::move(snapshot);
  }
  version_.store(version, std::memory_order_release);
}

std::shared_ptr<const Snapshot> SnapshotStore::current() const {
  std::lock_guard lock(mutex_);
  return current_;
}

}  // namespace veer::runtime
