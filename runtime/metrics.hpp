#pragma once

// What each worker counts for /metrics, without a lock or a locked instruction on the
// request path: every counter has one writer (its worker) and is read by the scraper
// with relaxed loads. Series are keyed by their labels and kept across reloads, so
// counters only go up while a backend stays in the configuration. The scraper sums
// the workers' series (admin/metrics.cpp).

#include <array>
#include <atomic>
#include <chrono>
#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/rollout_judge.hpp"

namespace veer::runtime {

struct Snapshot;

// A counter with a single writing thread: a relaxed load and store (a plain add on
// x86), never a contended read-modify-write.
class LocalCounter {
 public:
  void add(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// TLS handshakes on one worker's listeners, by outcome, version and cipher.
struct TlsCounters {
  enum Failure : std::uint8_t {
    timeout,             // timeouts.tls_handshake passed
    plain_http,          // plain HTTP sent to the TLS port
    protocol_version,    // TLS 1.0/1.1 or below min_version
    unknown_sni,         // a name no certificate has, with unknown_sni = "refuse"
    client_certificate,  // mTLS: missing or not verified
    closed,              // the client went away mid-handshake
    other,               // anything else: garbage, no shared cipher, ...
    kFailureKinds
  };
  static constexpr std::array<const char*, kFailureKinds> kFailureNames = {
      "timeout", "plain_http", "protocol_version", "unknown_sni", "client_certificate",
      "closed",  "other"};
  static constexpr std::size_t kCipherSlots = 16;

  LocalCounter full;
  LocalCounter resumed;
  std::array<LocalCounter, kFailureKinds> failed;
  LocalCounter tls12;
  LocalCounter tls13;
  // Cipher names (OpenSSL's static strings) in the order first seen; the last slot
  // counts every cipher beyond the first kCipherSlots - 1 as "other".
  std::array<std::atomic<const char*>, kCipherSlots> cipher_names{};
  std::array<LocalCounter, kCipherSlots> ciphers;

  // Worker thread.
  void count_cipher(const char* name);
};

// One rate-limit policy's decisions on one worker (by policy name, kept across reloads).
struct alignas(64) PolicyCounters {
  LocalCounter allowed;
  LocalCounter limited;          // refused with 429
  LocalCounter delayed;          // held, then sent
  LocalCounter dry_run_limited;  // would have been refused (dry_run = true)
};

// Connections and requests refused before any policy, on one worker.
struct RefusalCounters {
  LocalCounter max_connections;             // limits.max_connections reached
  LocalCounter max_connections_per_client;  // a listener's max_connections_per_client
  LocalCounter max_in_flight;               // a route's max_in_flight
  LocalCounter proxy_protocol;              // bad, late or untrusted PROXY protocol header
};

// Upper bounds of the response-time histogram buckets, in seconds (Prometheus "le").
inline constexpr std::array<double, 14> kResponseSecondsBounds = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

// The requests of one (listener, route, pool, backend) on one worker.
struct alignas(64) ExchangeSeries {
  std::array<LocalCounter, 5> responses;  // by status class, 1xx to 5xx
  // Time from sending to the backend to the end of the response, per bucket (not
  // cumulative; the last one is +Inf), and its sum.
  std::array<LocalCounter, kResponseSecondsBounds.size() + 1> response_time;
  LocalCounter response_time_sum_ns;
  LocalCounter upstream_opened;  // connections to the backend opened for these requests
  LocalCounter upstream_reused;  // ... and idle ones reused

  void count_response(std::uint16_t status) {
    const std::size_t index = status < 100 ? 0 : status >= 600 ? 4 : status / 100 - 1;
    responses[index].add();
  }
  void time_response(std::chrono::nanoseconds elapsed);
};

// --- JSON-RPC routes (docs/JSONRPC.md, "Metrics"; runtime/jsonrpc_metrics.cpp): calls by
// method and outcome, call durations per method, error codes (bucketed), batch sizes and
// retries, one series per route label per worker, kept across reloads. `method` is
// bounded: the method table's known names (http/jsonrpc_methods.hpp), else "other".
struct JsonRpcSeries {
  enum Outcome : std::uint8_t {
    ok,
    client_error,
    server_error,
    transport_error,
    rate_limited,
    denied,
    kOutcomes
  };
  static constexpr std::array<const char*, kOutcomes> kOutcomeNames = {
      "ok", "client_error", "server_error", "transport_error", "rate_limited", "denied"};
  // Error codes as labels: the JSON-RPC and EIP-1474 ones veer and nodes use, 3
  // (execution reverted), everything else "other".
  static constexpr std::array<std::int64_t, 8> kCodes = {-32700, -32600, -32601, -32602,
                                                         -32603, -32005, -32000, 3};
  static constexpr std::size_t kCodeSlots = kCodes.size() + 1;
  static constexpr std::array<double, 8> kBatchBounds = {1, 2, 5, 10, 20, 50, 100, 1000};
  enum Retry : std::uint8_t {
    retry_connect_failed,
    retry_transport_error,
    retry_timeout,
    retry_rpc_error,
    kRetryReasons
  };
  static constexpr std::array<const char*, kRetryReasons> kRetryNames = {
      "connect_failed", "transport_error", "timeout", "rpc_error"};
  using Durations = std::array<LocalCounter, kResponseSecondsBounds.size() + 1>;

  JsonRpcSeries();  // sized for the method table
  // The `method` label of a method index (http/jsonrpc_methods.hpp's table).
  static std::string_view method_name(std::size_t index);

  // Worker thread.
  void count_call(std::size_t method, Outcome outcome, std::chrono::nanoseconds elapsed);
  void count_error(std::int64_t code);
  void count_batch(std::size_t items);

  std::vector<std::array<LocalCounter, kOutcomes>> requests;  // by method index
  std::vector<Durations> durations;                           // by method index, per bucket
  std::vector<LocalCounter> duration_sum_ns;                  // by method index
  std::array<LocalCounter, kCodeSlots> errors;
  std::array<LocalCounter, kBatchBounds.size() + 1> batch_sizes;
  LocalCounter batch_size_sum;
  std::array<LocalCounter, kRetryReasons> retries;
};

// The JSON-RPC series of one worker, by route label.
class JsonRpcMetrics {
 public:
  // Worker thread (adopting a snapshot).
  std::shared_ptr<JsonRpcSeries> series(const std::string& route);
  void forget_unused();
  // Any thread. `on_series(const std::string& route, const JsonRpcSeries&)`.
  template <typename OnSeries>
  void visit(OnSeries&& on_series) const {
    std::lock_guard lock(mutex_);
    for (const auto& [route, series] : series_)
      on_series(route, *series);
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<JsonRpcSeries>> series_;
};

// Labels of a series; pool and backend are empty when none was involved (a 400 before
// routing, a 503 with no backend left).
struct SeriesKey {
  std::string listener;
  std::string route;
  std::string pool;
  std::string backend;
  auto operator<=>(const SeriesKey&) const = default;
};

struct SplitTargetKey {
  std::string split;
  std::string pool;
  auto operator<=>(const SplitTargetKey&) const = default;
};

// What one worker saw of one split target: requests assigned to it, and the answers of
// those that ended (the rollout judge's evidence: runtime/rollout_judge.hpp). Counted
// by the worker's MetricsView, which exists whenever /metrics is on (a rollout requires
// it). `assigned` counts the split's choice (after passing on a target without a
// routable backend); the answer counts once, on the target the request ended on (a
// retry may move it), so assigned - answered is what is in flight, moved on by a
// retry, or abandoned by its client.
struct alignas(64) SplitTargetSeries {
  LocalCounter assigned;
  LocalCounter answered;
  LocalCounter errors;                                // TargetEvidence::errors' rule
  std::array<LocalCounter, kLatencyBuckets> latency;  // latency_bucket(time to answer)

  // Worker thread, allocation-free.
  void count_answer(bool error, std::chrono::nanoseconds elapsed);
  // Any thread: adds these counts to `evidence` (relaxed loads).
  void add_to(TargetEvidence& evidence) const;
};

// One worker's series. Created and forgotten by the worker thread, only when it adopts
// a snapshot; read by the scraper. The mutex guards the maps, never the counters.
// WebSocket subscriptions on JSON-RPC routes (proxy/jsonrpc_ws_relay.cpp), one worker's.
struct JsonRpcWsCounters {
  LocalCounter subscriptions_opened;  // the gauge is opened - closed
  LocalCounter subscriptions_closed;
  LocalCounter resubscribes;
  LocalCounter gap_filled_blocks;
  LocalCounter slow_consumer_closes;
};

class WorkerMetrics {
 public:
  // Worker thread.
  std::shared_ptr<ExchangeSeries> series(const SeriesKey& key);
  std::shared_ptr<SplitTargetSeries> split_target(const SplitTargetKey& key);
  // Forgets the series no view uses any more (their backend, route or split target left
  // the configuration and its last request finished).
  void forget_unused();

  LocalCounter connections_accepted;
  LocalCounter connections_parked;  // idle keep-alive connections that gave back their state
  LocalCounter tunnels_opened;
  LocalCounter tunnels_closed;
  JsonRpcWsCounters jsonrpc_ws;
  TlsCounters tls;
  RefusalCounters refusals;
  // Worker thread; by policy name. forget_unused forgets a policy's counters once no
  // view holds them (the policy left the configuration).
  std::shared_ptr<PolicyCounters> policy(const std::string& name);
  // Adds this worker's policy counters to `totals` (any thread).
  void add_policy_counters(std::map<std::string, PolicyCounters>& totals) const;

  // Any thread. `on_series(const SeriesKey&, const ExchangeSeries&)`.
  template <typename OnSeries>
  void visit_series(OnSeries&& on_series) const {
    std::lock_guard lock(mutex_);
    for (const auto& [key, series] : series_)
      on_series(key, *series);
  }
  // Adds this worker's split assignments (SplitTargetSeries::assigned) to `totals`.
  void add_split_assignments(std::map<SplitTargetKey, std::uint64_t>& totals) const;
  // Adds this worker's split targets' answers to `totals` (the rollout judge's evidence).
  void add_split_evidence(std::map<SplitTargetKey, TargetEvidence>& totals) const;
  JsonRpcMetrics jsonrpc;  // JSON-RPC routes' series, by route label

 private:
  mutable std::mutex mutex_;
  std::map<SeriesKey, std::shared_ptr<ExchangeSeries>> series_;
  std::map<SplitTargetKey, std::shared_ptr<SplitTargetSeries>> splits_;
  std::map<std::string, std::shared_ptr<PolicyCounters>> policies_;
};

// The series of one route, per pool it can reach: the pool's backends in order, then
// one for answers given without a backend.
struct RouteSeries {
  std::vector<std::vector<ExchangeSeries*>> pools;  // by Snapshot pool index; empty if unreachable

  ExchangeSeries& backend(std::uint32_t pool, std::size_t index) const {
    return *pools[pool][index];
  }
  ExchangeSeries& no_backend(std::uint32_t pool) const { return *pools[pool].back(); }
};

// One worker's series for one snapshot, resolved when the worker adopts it so that a
// request finds its counters by index. Holds them alive while requests on this
// snapshot are in flight.
class MetricsView {
 public:
  MetricsView(const Snapshot& snapshot, WorkerMetrics& metrics);

  // Answers given before a route was chosen (bad requests, no route).
  ExchangeSeries& unrouted(std::size_t listener) const { return *listeners_[listener].unrouted; }
  const RouteSeries& route(std::size_t listener, std::size_t route) const {
    return listeners_[listener].routes[route];
  }
  // Index into Snapshot::splits, and of the target among the split's pools.
  SplitTargetSeries& split_target(std::size_t split, std::size_t target) const {
    return *splits_[split][target];
  }
  // Index into Snapshot::policies.
  PolicyCounters& policy(std::size_t policy) const { return *policies_[policy]; }
  // A JSON-RPC route's series; null for other routes.
  JsonRpcSeries* jsonrpc(std::size_t listener, std::size_t route) const {
    return jsonrpc_[listener][route].get();
  }

 private:
  struct ListenerSeries {
    ExchangeSeries* unrouted = nullptr;
    std::vector<RouteSeries> routes;
  };
  std::vector<std::shared_ptr<ExchangeSeries>> held_;
  std::vector<std::shared_ptr<SplitTargetSeries>> held_splits_;
  std::vector<ListenerSeries> listeners_;
  std::vector<std::vector<SplitTargetSeries*>> splits_;
  std::vector<std::shared_ptr<PolicyCounters>> policies_;
  std::vector<std::vector<std::shared_ptr<JsonRpcSeries>>> jsonrpc_;  // by listener, route
};

// The route label of /metrics: host (or "*") then path prefix (or "/").
std::string route_label(const std::string& host, const std::string& path_prefix);

}  // namespace veer::runtime
