#include "admin/metrics.hpp"

#include <algorithm>
#include <array>
#include <deque>
#include <limits>
#include <map>
#include <sstream>
#include <utility>

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "core/backend_stats.hpp"
#include "runtime/jsonrpc_route.hpp"
#include "runtime/limits_runtime.hpp"

namespace veer::admin {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

constexpr std::array<const char*, 5> kClasses = {"1xx", "2xx", "3xx", "4xx", "5xx"};

// The workers' series summed, per label set.
struct Totals {
  std::array<std::uint64_t, 5> responses{};
  std::array<std::uint64_t, runtime::kResponseSecondsBounds.size() + 1> response_time{};
  std::uint64_t response_time_sum_ns = 0;
  std::uint64_t upstream_opened = 0;
  std::uint64_t upstream_reused = 0;

  static Totals of(const runtime::ExchangeSeries& s) {
    Totals t;
    for (std::size_t i = 0; i < t.responses.size(); ++i)
      t.responses[i] = s.responses[i].value();
    for (std::size_t i = 0; i < t.response_time.size(); ++i)
      t.response_time[i] = s.response_time[i].value();
    t.response_time_sum_ns = s.response_time_sum_ns.value();
    t.upstream_opened = s.upstream_opened.value();
    t.upstream_reused = s.upstream_reused.value();
    return t;
  }
  void add(const Totals& t) {
    for (std::size_t i = 0; i < responses.size(); ++i)
      responses[i] += t.responses[i];
    for (std::size_t i = 0; i < response_time.size(); ++i)
      response_time[i] += t.response_time[i];
    response_time_sum_ns += t.response_time_sum_ns;
    upstream_opened += t.upstream_opened;
    upstream_reused += t.upstream_reused;
  }
};

using BackendKey = std::pair<std::string, std::string>;  // pool, address

class Families {
 public:
  MetricFamily& family(std::string name, std::string help, MetricType type) {
    families_.push_back(MetricFamily{std::move(name), std::move(help), type, {}});
    return families_.back();
  }
  void add(MetricFamily family) { families_.push_back(std::move(family)); }
  // One counter, gauge or untyped sample.
  static void sample(MetricFamily& family, Labels labels, double value) {
    ClientMetric& m = family.metric.emplace_back();
    m.label = std::move(labels);
    if (family.type == MetricType::Counter) {
      m.counter.value = value;
    } else {
      m.gauge.value = value;
    }
  }
  std::vector<MetricFamily> take() {
    return {std::make_move_iterator(families_.begin()), std::make_move_iterator(families_.end())};
  }

 private:
  std::deque<MetricFamily> families_;  // family() hands out references that must stay valid
};

Labels backend_labels(const BackendKey& key) {
  return {{"pool", key.first}, {"backend", key.second}};
}

// The backend's labels and one more.
Labels backend_labels(const BackendKey& key, std::string name, std::string value) {
  Labels labels = backend_labels(key);
  labels.push_back({std::move(name), std::move(value)});
  return labels;
}

ClientMetric::Histogram histogram(const Totals& totals) {
  ClientMetric::Histogram h;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < totals.response_time.size(); ++i) {
    cumulative += totals.response_time[i];
    const double bound = i < runtime::kResponseSecondsBounds.size()
                             ? runtime::kResponseSecondsBounds[i]
                             : std::numeric_limits<double>::infinity();
    h.bucket.push_back({cumulative, bound});
  }
  h.sample_count = cumulative;
  h.sample_sum = static_cast<double>(totals.response_time_sum_ns) / 1e9;
  return h;
}

void add_process(Families& out, const MetricsSources& in) {
  Families::sample(out.family("veer_info", "veer's version and the I/O engine in use (value 1)",
                              MetricType::Gauge),
                   {{"version", in.version}, {"engine", in.engine}}, 1);
  Families::sample(out.family("veer_workers", "Worker threads", MetricType::Gauge), {},
                   static_cast<double>(in.workers.size()));
  Families::sample(
      out.family("veer_config_version", "Configuration version in force", MetricType::Gauge), {},
      static_cast<double>(in.snapshot->version));
  MetricFamily& reloads =
      out.family("veer_config_reloads_total",
                 "Reloads of the configuration file (SIGHUP, POST reload)", MetricType::Counter);
  Families::sample(reloads, {{"result", "success"}},
                   static_cast<double>(in.config.reloads_succeeded));
  Families::sample(reloads, {{"result", "failure"}}, static_cast<double>(in.config.reloads_failed));
  Families::sample(
      out.family("veer_config_last_reload_successful",
                 "Whether the last reload was applied (1) or refused (0)", MetricType::Gauge),
      {}, in.config.last_reload_ok ? 1 : 0);
  MetricFamily& changes =
      out.family("veer_admin_changes_total", "Changes through the admin API, applied or refused",
                 MetricType::Counter);
  Families::sample(changes, {{"result", "success"}},
                   static_cast<double>(in.config.changes_succeeded));
  Families::sample(changes, {{"result", "failure"}}, static_cast<double>(in.config.changes_failed));
}

void add_connections(Families& out, const MetricsSources& in) {
  std::uint64_t accepted = 0, parked = 0, opened = 0, closed = 0;
  for (const runtime::WorkerMetrics* worker : in.workers) {
    accepted += worker->connections_accepted.value();
    parked += worker->connections_parked.value();
    opened += worker->tunnels_opened.value();
    closed += worker->tunnels_closed.value();
  }
  Families::sample(
      out.family("veer_client_connections", "Open client connections", MetricType::Gauge), {},
      static_cast<double>(in.client_connections));
  Families::sample(out.family("veer_client_connections_accepted_total",
                              "Client connections accepted", MetricType::Counter),
                   {}, static_cast<double>(accepted));
  Families::sample(out.family("veer_client_connections_parked_total",
                              "Times a keep-alive connection idle for a second gave back its "
                              "read buffer and exchange state",
                              MetricType::Counter),
                   {}, static_cast<double>(parked));
  // Read in this order, closed never exceeds opened.
  Families::sample(
      out.family("veer_websocket_tunnels", "Open WebSocket tunnels", MetricType::Gauge), {},
      static_cast<double>(opened >= closed ? opened - closed : 0));
  Families::sample(out.family("veer_websocket_tunnels_opened_total", "WebSocket tunnels opened",
                              MetricType::Counter),
                   {}, static_cast<double>(opened));
}

// WebSocket subscriptions on JSON-RPC routes (proxy/jsonrpc_ws_relay.cpp).
void add_jsonrpc_subscriptions(Families& out, const MetricsSources& in) {
  std::uint64_t opened = 0, closed = 0, resubscribes = 0, gap_filled = 0, slow = 0;
  for (const runtime::WorkerMetrics* worker : in.workers) {
    const runtime::JsonRpcWsCounters& c = worker->jsonrpc_ws;
    opened += c.subscriptions_opened.value();
    closed += c.subscriptions_closed.value();
    resubscribes += c.resubscribes.value();
    gap_filled += c.gap_filled_blocks.value();
    slow += c.slow_consumer_closes.value();
  }
  Families::sample(out.family("veer_jsonrpc_subscriptions",
                              "Open WebSocket subscriptions on JSON-RPC routes", MetricType::Gauge),
                   {}, static_cast<double>(opened >= closed ? opened - closed : 0));
  Families::sample(out.family("veer_jsonrpc_resubscribes_total",
                              "Subscriptions issued again on another backend after a failover",
                              MetricType::Counter),
                   {}, static_cast<double>(resubscribes));
  Families::sample(
      out.family("veer_jsonrpc_gap_filled_blocks_total",
                 "newHeads blocks fetched to fill a failover's gap", MetricType::Counter),
      {}, static_cast<double>(gap_filled));
  Families::sample(
      out.family("veer_jsonrpc_slow_consumer_closes_total",
                 "WebSocket clients closed with 1013 for not keeping up", MetricType::Counter),
      {}, static_cast<double>(slow));
}

void add_requests(Families& out, const std::map<runtime::SeriesKey, Totals>& series,
                  const std::map<BackendKey, Totals>& backends) {
  MetricFamily& requests = out.family(
      "veer_requests_total",
      "Requests answered, by listener, route, pool, backend and status class (pool and backend "
      "empty when veer answered without one)",
      MetricType::Counter);
  for (const auto& [key, totals] : series) {
    for (std::size_t i = 0; i < kClasses.size(); ++i) {
      if (totals.responses[i] == 0) continue;
      Families::sample(requests,
                       {{"listener", key.listener},
                        {"route", key.route},
                        {"pool", key.pool},
                        {"backend", key.backend},
                        {"code", kClasses[i]}},
                       static_cast<double>(totals.responses[i]));
    }
  }
  MetricFamily& times = out.family(
      "veer_backend_response_seconds",
      "Time from sending a request to a backend to the end of its response", MetricType::Histogram);
  MetricFamily& opened = out.family("veer_upstream_connections_opened_total",
                                    "Connections to backends opened", MetricType::Counter);
  MetricFamily& reused = out.family("veer_upstream_connections_reused_total",
                                    "Idle connections to backends reused", MetricType::Counter);
  for (const auto& [key, totals] : backends) {
    ClientMetric& m = times.metric.emplace_back();
    m.label = backend_labels(key);
    m.histogram = histogram(totals);
    Families::sample(opened, backend_labels(key), static_cast<double>(totals.upstream_opened));
    Families::sample(reused, backend_labels(key), static_cast<double>(totals.upstream_reused));
  }
}

void add_backends(Families& out, const runtime::Snapshot& snapshot) {
  MetricFamily& state =
      out.family("veer_backend_state", "1 for the backend's current state, 0 for the others",
                 MetricType::Gauge);
  MetricFamily& weight = out.family("veer_backend_weight", "Configured weight", MetricType::Gauge);
  MetricFamily& connections =
      out.family("veer_backend_active_connections",
                 "Open connections to the backend, tunnels included", MetricType::Gauge);
  MetricFamily& in_flight = out.family("veer_backend_in_flight",
                                       "Requests sent, response not finished", MetricType::Gauge);
  MetricFamily& latency =
      out.family("veer_backend_latency_ewma_seconds",
                 "Peak-EWMA of the time to the response head (least_response_time's estimate)",
                 MetricType::Gauge);
  MetricFamily& ejections =
      out.family("veer_backend_ejections_total", "Passive health ejections", MetricType::Counter);
  MetricFamily& retries =
      out.family("veer_backend_retries_total",
                 "Requests retried elsewhere after failing on the backend", MetricType::Counter);
  MetricFamily& tls_failures = out.family(
      "veer_backend_tls_failures_total",
      "TLS handshakes with the backend that failed (pools with tls)", MetricType::Counter);
  MetricFamily& checks =
      out.family("veer_health_checks_total", "Active health check results", MetricType::Counter);
  MetricFamily& panic = out.family(
      "veer_pool_panic", "1 while the pool routes across ejected backends (panic_threshold)",
      MetricType::Gauge);
  const auto now = core::BackendStats::Clock::now();
  for (const runtime::PoolRuntime& pool : snapshot.pools) {
    Families::sample(panic, {{"pool", pool.name}},
                     pool.stats->panic.load(std::memory_order_relaxed) ? 1 : 0);
    for (const runtime::BackendRuntime& b : pool.backends) {
      const core::BackendStats& s = *b.stats;
      const BackendKey key{pool.name, b.address};
      const std::string current = core::state_name(s.reasons.load(std::memory_order_relaxed));
      for (const core::BackendState& named : core::kBackendStates)
        Families::sample(state, backend_labels(key, "state", named.name), current == named.name);
      Families::sample(weight, backend_labels(key), b.weight);
      Families::sample(connections, backend_labels(key),
                       static_cast<double>(s.active_connections.load(std::memory_order_relaxed)));
      Families::sample(in_flight, backend_labels(key),
                       static_cast<double>(s.in_flight.load(std::memory_order_relaxed)));
      const double ewma_ns = s.latency.estimate_ns(now, core::kLatencyDecayNs);
      Families::sample(latency, backend_labels(key), ewma_ns < 0 ? 0 : ewma_ns / 1e9);
      Families::sample(ejections, backend_labels(key),
                       static_cast<double>(s.ejections.load(std::memory_order_relaxed)));
      Families::sample(retries, backend_labels(key),
                       static_cast<double>(s.retries.load(std::memory_order_relaxed)));
      // Only where TLS was or is in use: a plain pool's zeros would be noise.
      const std::uint64_t tls_failed = s.tls_failures.load(std::memory_order_relaxed);
      if (pool.config->tls || tls_failed != 0)
        Families::sample(tls_failures, backend_labels(key), static_cast<double>(tls_failed));
      Families::sample(checks, backend_labels(key, "result", "success"),
                       static_cast<double>(s.checks_passed.load(std::memory_order_relaxed)));
      Families::sample(checks, backend_labels(key, "result", "failure"),
                       static_cast<double>(s.checks_failed.load(std::memory_order_relaxed)));
    }
  }
}

// Head tracking: the backends of pools with jsonrpc checks, once their head is known.
bool tracks_heads(const runtime::PoolRuntime& pool) {
  return pool.config->health && pool.config->health->type == conf::HealthConfig::Type::jsonrpc;
}

void add_heads(Families& out, const runtime::Snapshot& snapshot) {
  if (std::none_of(snapshot.pools.begin(), snapshot.pools.end(), tracks_heads)) return;
  MetricFamily& head =
      out.family("veer_backend_head_block", "The backend's latest block (jsonrpc health checks)",
                 MetricType::Gauge);
  MetricFamily& lag = out.family("veer_backend_lag_blocks",
                                 "Blocks behind the pool's highest head (jsonrpc health checks)",
                                 MetricType::Gauge);
  for (const runtime::PoolRuntime& pool : snapshot.pools) {
    if (!tracks_heads(pool)) continue;
    const std::uint64_t highest = pool.stats->head_block.load(std::memory_order_relaxed);
    for (const runtime::BackendRuntime& b : pool.backends) {
      const std::uint64_t block = b.stats->head_block.load(std::memory_order_relaxed);
      if (block == 0) continue;
      const BackendKey key{pool.name, b.address};
      Families::sample(head, backend_labels(key), static_cast<double>(block));
      Families::sample(lag, backend_labels(key),
                       static_cast<double>(highest > block ? highest - block : 0));
    }
  }
}

void add_splits(Families& out, const runtime::Snapshot& snapshot,
                const std::map<runtime::SplitTargetKey, std::uint64_t>& assignments) {
  MetricFamily& weights =
      out.family("veer_split_weight", "Weight of each target of a split", MetricType::Gauge);
  for (const runtime::SplitRuntime& split : snapshot.splits) {
    for (std::size_t i = 0; i < split.pools.size(); ++i) {
      Families::sample(weights,
                       {{"split", split.name}, {"pool", snapshot.pools[split.pools[i]].name}},
                       static_cast<double>(split.weights[i]));
    }
  }
  MetricFamily& assigned =
      out.family("veer_split_assignments_total",
                 "Requests a split sent to each target (after failover to another target)",
                 MetricType::Counter);
  for (const auto& [key, count] : assignments) {
    Families::sample(assigned, {{"split", key.split}, {"pool", key.pool}},
                     static_cast<double>(count));
  }
}

// The answers behind each split target, as the rollout judge counts them
// (runtime::SplitTargetSeries): errors are 5xx, connection failures and timeouts, and
// on JSON-RPC routes server-class JSON-RPC errors.
void add_split_answers(Families& out,
                       const std::map<runtime::SplitTargetKey, runtime::TargetEvidence>& answers) {
  MetricFamily& family = out.family(
      "veer_split_target_answers_total",
      "Answers to the requests each split target served, by outcome (error: 5xx, connection "
      "failure, timeout, or a server-class JSON-RPC error)",
      MetricType::Counter);
  for (const auto& [key, evidence] : answers) {
    Families::sample(family, {{"split", key.split}, {"pool", key.pool}, {"outcome", "ok"}},
                     static_cast<double>(evidence.requests - evidence.errors));
    Families::sample(family, {{"split", key.split}, {"pool", key.pool}, {"outcome", "error"}},
                     static_cast<double>(evidence.errors));
  }
}

// The workers' TLS handshake counters summed; ciphers by name, since each worker
// numbers its slots in the order it first saw them.
struct TlsTotals {
  std::uint64_t full = 0, resumed = 0, tls12 = 0, tls13 = 0;
  std::array<std::uint64_t, runtime::TlsCounters::kFailureKinds> failed{};
  std::map<std::string, std::uint64_t> ciphers;

  std::uint64_t failed_total() const {
    std::uint64_t total = 0;
    for (const std::uint64_t n : failed)
      total += n;
    return total;
  }
  bool any() const { return full + resumed + failed_total() != 0; }

  void add(const runtime::TlsCounters& c) {
    full += c.full.value();
    resumed += c.resumed.value();
    tls12 += c.tls12.value();
    tls13 += c.tls13.value();
    for (std::size_t i = 0; i < failed.size(); ++i)
      failed[i] += c.failed[i].value();
    for (std::size_t i = 0; i < c.ciphers.size(); ++i) {
      // Acquire pairs with the worker's release store of the name: the string it points
      // to is then readable. A slot without a name has not been counted yet.
      const char* name = c.cipher_names[i].load(std::memory_order_acquire);
      if (name != nullptr) ciphers[name] += c.ciphers[i].value();
    }
  }
};

bool has_tls_listener(const runtime::Snapshot& snapshot) {
  for (const conf::ListenerConfig& listener : snapshot.config.listeners) {
    if (listener.tls) return true;
  }
  return false;
}

// The handshake families, when a listener has TLS or had it since the start (counters
// never disappear once counted).
void add_tls(Families& out, const MetricsSources& in) {
  TlsTotals t;
  for (const runtime::WorkerMetrics* worker : in.workers)
    t.add(worker->tls);
  if (!has_tls_listener(*in.snapshot) && !t.any()) return;
  MetricFamily& handshakes =
      out.family("veer_tls_handshakes_total",
                 "TLS handshakes on the listeners: full, resumed (ticket or session cache), failed",
                 MetricType::Counter);
  Families::sample(handshakes, {{"result", "full"}}, static_cast<double>(t.full));
  Families::sample(handshakes, {{"result", "resumed"}}, static_cast<double>(t.resumed));
  Families::sample(handshakes, {{"result", "failed"}}, static_cast<double>(t.failed_total()));
  MetricFamily& failures =
      out.family("veer_tls_handshake_failures_total",
                 "Failed TLS handshakes on the listeners, by reason", MetricType::Counter);
  for (std::size_t i = 0; i < t.failed.size(); ++i) {
    Families::sample(failures, {{"reason", runtime::TlsCounters::kFailureNames[i]}},
                     static_cast<double>(t.failed[i]));
  }
  MetricFamily& versions =
      out.family("veer_tls_connections_total", "Completed TLS handshakes by protocol version",
                 MetricType::Counter);
  Families::sample(versions, {{"version", "TLSv1.2"}}, static_cast<double>(t.tls12));
  Families::sample(versions, {{"version", "TLSv1.3"}}, static_cast<double>(t.tls13));
  MetricFamily& ciphers = out.family(
      "veer_tls_ciphers_total",
      "Completed TLS handshakes by cipher (\"other\" past the first " +
          std::to_string(runtime::TlsCounters::kCipherSlots - 1) + " names a worker saw)",
      MetricType::Counter);
  for (const auto& [name, count] : t.ciphers)
    Families::sample(ciphers, {{"cipher", name}}, static_cast<double>(count));
}

void add_policy_requests(Families& out, const MetricsSources& in) {
  std::map<std::string, runtime::PolicyCounters> totals;
  for (const runtime::WorkerMetrics* worker : in.workers)
    worker->add_policy_counters(totals);
  if (in.snapshot->policies.empty() && totals.empty()) return;
  MetricFamily& requests =
      out.family("veer_rate_limit_requests_total",
                 "Requests checked by each rate-limit policy, by outcome: allowed, limited "
                 "(429), delayed (held, then sent), dry_run_limited (would have been limited)",
                 MetricType::Counter);
  // Every policy of the configuration at 0 before its first request, and any a worker
  // still counts for (its last requests were in flight over a reload).
  for (const runtime::PolicyRuntime& policy : in.snapshot->policies)
    totals.try_emplace(policy.name);
  for (const auto& [name, c] : totals) {
    for (auto [outcome, counter] :
         {std::pair{"allowed", &c.allowed}, std::pair{"limited", &c.limited},
          std::pair{"delayed", &c.delayed}, std::pair{"dry_run_limited", &c.dry_run_limited}}) {
      Families::sample(requests, {{"policy", name}, {"outcome", outcome}},
                       static_cast<double>(counter->value()));
    }
  }
}

// The modes a cluster-scope Limiter reports (limits::LimiterStats::mode), as label values.
constexpr std::array<std::string_view, 2> kClusterModes = {"shared", "local fallback"};

void add_cluster_stats(Families& out, const runtime::Snapshot& snapshot, std::int64_t now) {
  bool any = false;
  for (const runtime::PolicyRuntime& policy : snapshot.policies)
    any = any || policy.config->scope == conf::RateLimitPolicyConfig::Scope::cluster;
  if (!any) return;
  MetricFamily& mode =
      out.family("veer_rate_limit_cluster_mode",
                 "1 for the mode a cluster-scope policy is in (shared through Redis, or the local "
                 "fallback of rate / instances while Redis is unreachable), 0 for the other",
                 MetricType::Gauge);
  MetricFamily& instances = out.family(
      "veer_rate_limit_cluster_instances",
      "veer instances sharing a cluster-scope policy (configured, or counted through Redis)",
      MetricType::Gauge);
  MetricFamily& divisor = out.family("veer_rate_limit_cluster_fallback_divisor",
                                     "N of the local fallback limit rate / N", MetricType::Gauge);
  MetricFamily& lease =
      out.family("veer_rate_limit_cluster_lease_requests",
                 "Requests each instance leases from Redis at a time", MetricType::Gauge);
  MetricFamily& overshoot = out.family(
      "veer_rate_limit_cluster_max_overshoot_requests",
      "Worst-case requests above the shared limit: lease block x instances", MetricType::Gauge);
  MetricFamily& fallbacks = out.family(
      "veer_rate_limit_cluster_fallbacks_total",
      "Times this process lost Redis and fell back to the local limit", MetricType::Counter);
  MetricFamily& fallback_allowed =
      out.family("veer_rate_limit_cluster_fallback_allowed_total",
                 "Requests let through by the local fallback limit", MetricType::Counter);
  for (const runtime::PolicyRuntime& policy : snapshot.policies) {
    if (policy.config->scope != conf::RateLimitPolicyConfig::Scope::cluster) continue;
    const limits::LimiterStats s = policy.limiter->stats(now);
    const Labels labels{{"policy", policy.name}};
    bool known = false;
    for (const std::string_view m : kClusterModes) {
      known = known || m == s.mode;
      Families::sample(mode, {{"policy", policy.name}, {"mode", std::string(m)}}, m == s.mode);
    }
    if (!known) Families::sample(mode, {{"policy", policy.name}, {"mode", std::string(s.mode)}}, 1);
    Families::sample(instances, labels, static_cast<double>(s.instances));
    Families::sample(divisor, labels, static_cast<double>(s.fallback_rate_divisor));
    Families::sample(lease, labels, static_cast<double>(s.lease_block));
    Families::sample(overshoot, labels, static_cast<double>(s.lease_block * s.instances));
    Families::sample(fallbacks, labels, static_cast<double>(s.fallback_transitions));
    Families::sample(fallback_allowed, labels, static_cast<double>(s.fallback_allowed));
  }
}

// Each policy's key table, read from its Limiter at scrape time.
void add_policy_tables(Families& out, const runtime::Snapshot& snapshot) {
  if (snapshot.policies.empty()) return;
  const std::int64_t now = runtime::limiter_now();
  MetricFamily& keys =
      out.family("veer_rate_limit_keys", "Keys of a rate-limit policy whose state has not expired",
                 MetricType::Gauge);
  MetricFamily& capacity =
      out.family("veer_rate_limit_capacity_keys",
                 "Keys a rate-limit policy's table holds at most (max_keys)", MetricType::Gauge);
  MetricFamily& evictions = out.family(
      "veer_rate_limit_evictions_total",
      "Keys pushed out of a full table while their state was still live (least recently used)",
      MetricType::Counter);
  MetricFamily& bytes =
      out.family("veer_rate_limit_table_bytes",
                 "Memory reserved for a rate-limit policy's key table", MetricType::Gauge);
  for (const runtime::PolicyRuntime& policy : snapshot.policies) {
    const limits::LimiterStats s = policy.limiter->stats(now);
    const Labels labels{{"policy", policy.name}};
    Families::sample(keys, labels, static_cast<double>(s.keys_in_use));
    Families::sample(capacity, labels, static_cast<double>(s.capacity));
    Families::sample(evictions, labels, static_cast<double>(s.evictions));
    Families::sample(bytes, labels, static_cast<double>(s.table_bytes));
  }
  add_cluster_stats(out, snapshot, now);
}

// Connections and requests refused by a cap before any policy, one family by reason.
void add_refusals(Families& out, const MetricsSources& in) {
  std::uint64_t max_connections = 0, per_client = 0, in_flight = 0, proxy_protocol = 0;
  for (const runtime::WorkerMetrics* worker : in.workers) {
    max_connections += worker->refusals.max_connections.value();
    per_client += worker->refusals.max_connections_per_client.value();
    in_flight += worker->refusals.max_in_flight.value();
    proxy_protocol += worker->refusals.proxy_protocol.value();
  }
  MetricFamily& refused = out.family(
      "veer_refusals_total",
      "Connections (max_connections, max_connections_per_client, proxy_protocol) and requests "
      "(max_in_flight) refused by a cap or a bad PROXY protocol header, by reason",
      MetricType::Counter);
  for (auto [reason, count] :
       {std::pair{"max_connections", max_connections},
        std::pair{"max_connections_per_client", per_client}, std::pair{"max_in_flight", in_flight},
        std::pair{"proxy_protocol", proxy_protocol}}) {
    Families::sample(refused, {{"reason", reason}}, static_cast<double>(count));
  }
}

// The JSON-RPC routes' families (docs/JSONRPC.md, "Metrics"): the workers' series summed
// per route label, and each JSON-RPC route's served head (process-wide).
struct JsonRpcTotals {
  using Series = runtime::JsonRpcSeries;
  std::vector<std::array<std::uint64_t, Series::kOutcomes>> requests;
  std::vector<std::array<std::uint64_t, runtime::kResponseSecondsBounds.size() + 1>> durations;
  std::vector<std::uint64_t> duration_sum_ns;
  std::array<std::uint64_t, Series::kCodeSlots> errors{};
  std::array<std::uint64_t, Series::kBatchBounds.size() + 1> batch_sizes{};
  std::uint64_t batch_size_sum = 0;
  std::array<std::uint64_t, Series::kRetryReasons> retries{};

  void add(const Series& s) {
    requests.resize(s.requests.size());
    durations.resize(s.durations.size());
    duration_sum_ns.resize(s.duration_sum_ns.size());
    for (std::size_t m = 0; m < s.requests.size(); ++m) {
      for (std::size_t o = 0; o < Series::kOutcomes; ++o)
        requests[m][o] += s.requests[m][o].value();
      for (std::size_t b = 0; b < durations[m].size(); ++b)
        durations[m][b] += s.durations[m][b].value();
      duration_sum_ns[m] += s.duration_sum_ns[m].value();
    }
    for (std::size_t i = 0; i < errors.size(); ++i)
      errors[i] += s.errors[i].value();
    for (std::size_t i = 0; i < batch_sizes.size(); ++i)
      batch_sizes[i] += s.batch_sizes[i].value();
    batch_size_sum += s.batch_size_sum.value();
    for (std::size_t i = 0; i < retries.size(); ++i)
      retries[i] += s.retries[i].value();
  }
};

template <std::size_t N, std::size_t B>
ClientMetric::Histogram cumulative_histogram(const std::array<std::uint64_t, N>& counts,
                                             const std::array<double, B>& bounds, double sum) {
  ClientMetric::Histogram h;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < N; ++i) {
    cumulative += counts[i];
    h.bucket.push_back({cumulative, i < B ? bounds[i] : std::numeric_limits<double>::infinity()});
  }
  h.sample_count = cumulative;
  h.sample_sum = sum;
  return h;
}

void add_jsonrpc_calls(Families& out, const std::map<std::string, JsonRpcTotals>& totals) {
  using Series = runtime::JsonRpcSeries;
  MetricFamily& requests = out.family(
      "veer_jsonrpc_requests_total",
      "JSON-RPC calls on JSON-RPC routes by method and outcome (ok, client_error, server_error, "
      "transport_error, rate_limited, denied)",
      MetricType::Counter);
  MetricFamily& durations =
      out.family("veer_jsonrpc_duration_seconds",
                 "Time from a JSON-RPC request's head to its answer, per method of its calls",
                 MetricType::Histogram);
  MetricFamily& errors = out.family(
      "veer_jsonrpc_errors_total",
      "JSON-RPC error answers by code (veer's and the backends'; other codes as \"other\")",
      MetricType::Counter);
  MetricFamily& batches =
      out.family("veer_jsonrpc_batch_size", "Items per JSON-RPC batch", MetricType::Histogram);
  MetricFamily& retries =
      out.family("veer_jsonrpc_retries_total",
                 "JSON-RPC calls sent again to another backend, by reason", MetricType::Counter);
  for (const auto& [route, t] : totals) {
    for (std::size_t m = 0; m < t.requests.size(); ++m) {
      const std::string method(Series::method_name(m));
      std::uint64_t calls = 0;
      for (std::size_t o = 0; o < Series::kOutcomes; ++o) {
        calls += t.requests[m][o];
        if (t.requests[m][o] == 0) continue;
        Families::sample(
            requests, {{"route", route}, {"method", method}, {"outcome", Series::kOutcomeNames[o]}},
            static_cast<double>(t.requests[m][o]));
      }
      if (calls == 0) continue;
      ClientMetric& metric = durations.metric.emplace_back();
      metric.label = {{"route", route}, {"method", method}};
      metric.histogram = cumulative_histogram(t.durations[m], runtime::kResponseSecondsBounds,
                                              static_cast<double>(t.duration_sum_ns[m]) / 1e9);
    }
    for (std::size_t i = 0; i < t.errors.size(); ++i) {
      const std::string code =
          i < Series::kCodes.size() ? std::to_string(Series::kCodes[i]) : std::string("other");
      Families::sample(errors, {{"route", route}, {"code", code}},
                       static_cast<double>(t.errors[i]));
    }
    ClientMetric& batch = batches.metric.emplace_back();
    batch.label = {{"route", route}};
    batch.histogram = cumulative_histogram(t.batch_sizes, Series::kBatchBounds,
                                           static_cast<double>(t.batch_size_sum));
    for (std::size_t i = 0; i < t.retries.size(); ++i)
      Families::sample(retries, {{"route", route}, {"reason", Series::kRetryNames[i]}},
                       static_cast<double>(t.retries[i]));
  }
}

void add_jsonrpc(Families& out, const MetricsSources& in) {
  std::map<std::string, JsonRpcTotals> totals;
  MetricFamily* served = nullptr;
  for (const runtime::ListenerRuntime& listener : in.snapshot->listeners) {
    for (const runtime::RouteRuntime& route : listener.routes) {
      if (!route.jsonrpc) continue;
      const std::string label = runtime::route_label(route.host, route.path_prefix);
      totals.try_emplace(label);
      if (served == nullptr)
        served = &out.family("veer_jsonrpc_served_head",
                             "The highest block number a JSON-RPC route has returned for "
                             "eth_blockNumber (it never returns a lower one)",
                             MetricType::Gauge);
      Families::sample(
          *served, {{"route", label}},
          static_cast<double>(route.jsonrpc->state->served_head.load(std::memory_order_relaxed)));
    }
  }
  for (const runtime::WorkerMetrics* worker : in.workers)
    worker->jsonrpc.visit(
        [&](const std::string& route, const runtime::JsonRpcSeries& s) { totals[route].add(s); });
  if (totals.empty()) return;
  add_jsonrpc_calls(out, totals);
}
}  // namespace

MetricFamily certificate_expiry_family(const std::vector<ListenerCertificates>& all) {
  MetricFamily family{"veer_tls_certificate_expiry_seconds",
                      "Unix time of the notAfter of each certificate a TLS listener serves",
                      MetricType::Gauge,
                      {}};
  for (const ListenerCertificates& listener : all) {
    for (const tls::CertificateInfo& c : listener.certificates) {
      Families::sample(
          family, {{"listener", listener.listener}, {"subject", c.subject}, {"file", c.cert_file}},
          static_cast<double>(c.not_after));
    }
  }
  return family;
}

std::vector<MetricFamily> MetricsCollector::Collect() const {
  std::map<runtime::SeriesKey, Totals> series;
  std::map<BackendKey, Totals> backends;
  std::map<runtime::SplitTargetKey, std::uint64_t> assignments;
  std::map<runtime::SplitTargetKey, runtime::TargetEvidence> answers;
  for (const runtime::WorkerMetrics* worker : sources_.workers) {
    worker->visit_series([&](const runtime::SeriesKey& key, const runtime::ExchangeSeries& s) {
      series[key].add(Totals::of(s));
    });
    worker->add_split_assignments(assignments);
    worker->add_split_evidence(answers);
  }
  for (const auto& [key, totals] : series) {
    if (!key.backend.empty()) backends[{key.pool, key.backend}].add(totals);
  }
  Families out;
  add_process(out, sources_);
  add_connections(out, sources_);
  add_jsonrpc_subscriptions(out, sources_);
  add_requests(out, series, backends);
  add_backends(out, *sources_.snapshot);
  add_heads(out, *sources_.snapshot);
  add_splits(out, *sources_.snapshot, assignments);
  add_split_answers(out, answers);
  add_tls(out, sources_);
  add_refusals(out, sources_);
  add_policy_requests(out, sources_);
  add_policy_tables(out, *sources_.snapshot);
  add_jsonrpc(out, sources_);
  if (has_tls_listener(*sources_.snapshot))
    out.add(certificate_expiry_family(listener_certificates(*sources_.snapshot)));
  for (MetricFamily& f : rollout_families(sources_.rollouts))
    out.add(std::move(f));
  return out.take();
}

std::string prometheus_text(const prometheus::Collectable& collectable) {
  std::ostringstream text;
  prometheus::TextSerializer().Serialize(text, collectable.Collect());
  return text.str();
}

}  // namespace veer::admin
