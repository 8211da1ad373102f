#pragma once

// The immutable runtime configuration that workers route with (DESIGN.md: snapshots
// swapped whole). Built on the main thread from a validated conf::Config; published
// through SnapshotStore; never modified after publication.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.hpp"
#include "core/backend_stats.hpp"
#include "runtime/limits_runtime.hpp"
#include "runtime/tls_set.hpp"
#include "strategies/strategy.hpp"

namespace veer::runtime {

struct JsonRpcRouteRuntime;  // runtime/jsonrpc_route.hpp

struct BackendRuntime {
  std::string address;  // as configured: the identity in logs and the admin API
  conf::SocketAddress endpoint;
  std::uint32_t weight = 1;
  bool backup = false;
  std::shared_ptr<core::BackendStats> stats;  // survives snapshots that keep the backend
};

// What ip_hash hashes: the client address, a header, or a cookie (config: hash_key).
struct HashKey {
  enum class Kind { client_ip, header, cookie };
  Kind kind = Kind::client_ip;
  std::string name;  // header or cookie name
};

struct PoolRuntime {
  std::string name;
  const conf::PoolConfig* config = nullptr;  // in the owning Snapshot's config
  const strategies::StrategyInfo* strategy = nullptr;
  HashKey hash_key;
  std::vector<BackendRuntime> backends;
  std::shared_ptr<core::PoolStats> stats;  // survives reloads that keep the pool
  // What the strategy prepared once for this snapshot, shared by all workers.
  strategies::Prepared prepared;
  std::shared_ptr<const tls::ClientTls> tls;  // null: plain HTTP to the backends
};

// The pool's backends as strategies see them (same order, same indices).
std::vector<strategies::BackendView> backend_views(const PoolRuntime& pool);

inline constexpr std::uint32_t kNoSplit = UINT32_MAX;

struct RouteRuntime {
  std::string host;                // lower-case; "" = any
  std::string path_prefix;         // "" = any
  std::uint32_t pool = 0;          // index into Snapshot::pools, when split is kNoSplit
  std::uint32_t split = kNoSplit;  // index into Snapshot::splits
  // Rate-limit policies checked for each request, in order: the listener's, then the
  // route's own (a policy named in both is checked once). Index into Snapshot::policies.
  std::vector<std::uint32_t> policies;
  std::uint64_t id = 0;             // stable across reloads: hash of listener, host, prefix
  std::uint64_t max_in_flight = 0;  // 0 = no cap
  std::shared_ptr<RouteInFlight> in_flight;  // always set
  // JSON-RPC mode (runtime/jsonrpc_route.hpp); null: a byte-exact proxy.
  std::shared_ptr<const JsonRpcRouteRuntime> jsonrpc;
};

// One (split, target pool) pair, the same object for as long as reloads keep the pair:
// a WebSocket tunnel carries it, so that the tunnels of a target whose weight went to
// 0 can be found and closed after the split's grace period.
struct SplitTargetTag {
  std::string split;
  std::string pool;
};

struct SplitRuntime {
  std::string name;
  const conf::SplitConfig* config = nullptr;  // in the owning Snapshot's config
  HashKey sticky;
  bool per_request = false;  // sticky = "none"
  // Per target, in the configured (name) order.
  std::vector<std::uint32_t> pools;  // index into Snapshot::pools
  std::vector<std::uint64_t> weights;
  std::vector<std::uint32_t> bucket_ends;  // strategies::split_bucket_ends(weights)
  std::vector<std::uint64_t> hash_ends;    // strategies::split_hash_ends(bucket_ends)
  std::vector<std::shared_ptr<const SplitTargetTag>> tags;
};

struct ListenerRuntime {
  std::string name;
  std::vector<RouteRuntime> routes;
  std::shared_ptr<const tls::ServerTls> tls;     // null: plain HTTP
  const conf::ListenerConfig* config = nullptr;  // in the owning Snapshot's config
};

struct Snapshot {
  Snapshot() = default;
  // Pools point into `config`: a copy would point into the original.
  Snapshot(const Snapshot&) = delete;
  Snapshot& operator=(const Snapshot&) = delete;

  std::uint64_t version = 0;
  conf::Config config;
  std::vector<ListenerRuntime> listeners;
  std::vector<PoolRuntime> pools;
  std::vector<SplitRuntime> splits;
  TlsSet tls;  // what the listeners' and pools' tls pointers were taken from
  std::vector<PolicyRuntime> policies;  // in config.limits.policies order
  LimiterSet limiters;                  // what the policies' limiters were taken from

  const ListenerRuntime* find_listener(std::string_view name) const;
  const SplitRuntime* find_split(std::string_view name) const;
};

struct JsonRpcRouteState;  // runtime/jsonrpc_route.hpp

// Gives each (pool, address) one BackendStats, and each pool one PoolStats, for as
// long as something uses them, so live counters and health survive reloads. Main
// thread only.
class BackendRegistry {
 public:
  std::shared_ptr<core::BackendStats> stats_for(std::string_view pool, std::string_view address);
  std::shared_ptr<core::PoolStats> pool_stats_for(std::string_view pool);
  std::shared_ptr<const SplitTargetTag> split_target_tag(std::string_view split,
                                                         std::string_view pool);
  // A route's in-flight count, by RouteRuntime::id: shared by every snapshot that keeps
  // the route, so that max_in_flight holds across reloads.
  std::shared_ptr<RouteInFlight> route_in_flight(std::uint64_t route_id);
  // A JSON-RPC route's state (its served head), by RouteRuntime::id, likewise: a reload
  // or an admin change never lets eth_blockNumber go backwards.
  std::shared_ptr<JsonRpcRouteState> jsonrpc_route_state(std::uint64_t route_id);
  void mark_started() { started_ = true; }
  // Forgets backends, pools and routes that nothing references any more.
  void collect();

 private:
  std::map<std::string, std::shared_ptr<core::BackendStats>, std::less<>> stats_;
  std::map<std::string, std::shared_ptr<core::PoolStats>, std::less<>> pools_;
  std::map<std::string, std::shared_ptr<const SplitTargetTag>, std::less<>> split_targets_;
  std::map<std::uint64_t, std::shared_ptr<RouteInFlight>> routes_in_flight_;
  std::map<std::uint64_t, std::shared_ptr<JsonRpcRouteState>> jsonrpc_states_;
  bool started_ = false;  // a snapshot was built before: new backends are joining
};

// `tls` must hold an entry for every TLS listener and pool of `config` (load_tls).
// `limiters` (LimiterSet::build) gives each rate-limit policy its Limiter; a local policy
// it lacks gets a new one, a cluster policy it lacks is a std::logic_error.
std::shared_ptr<const Snapshot> build_snapshot(conf::Config config, std::uint64_t version,
                                               BackendRegistry& registry, TlsSet tls = {},
                                               const LimiterSet& limiters = {});

// The publication point between the main thread and the workers. Workers poll
// version() (one relaxed-ish load of a word that changes only on reload) and take the
// mutex only when it moved.
class SnapshotStore {
 public:
  void publish(std::shared_ptr<const Snapshot> snapshot);
  std::uint64_t version() const { return version_.load(std::memory_order_acquire); }
  std::shared_ptr<const Snapshot> current() const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Snapshot> current_;
  std::atomic<std::uint64_t> version_{0};
};

}  // namespace veer::runtime
