#pragma once

// The configuration model: plain, validated structs produced by the TOML loader
// (conf/load.hpp). Nothing here knows about sockets or threads; the proxy turns a
// Config into a runtime Snapshot. Defaults live here and nowhere else: the loader
// leaves an absent key at its member's default, so no second copy can drift.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "conf/address.hpp"
#include "conf/duration.hpp"
#include "core/ip_address.hpp"

namespace veer::conf {

using namespace std::chrono_literals;

enum class IoEngine { automatic, io_uring, epoll };

// Where a value came from in the file, so later checks can point at it.
struct SourcePos {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  friend bool operator==(const SourcePos&, const SourcePos&) = default;
};

struct ServerConfig {
  unsigned workers = 0;  // 0 = one per core
  IoEngine io_engine = IoEngine::automatic;
  // Receive buffers of the native io_uring engine, per worker (4 KiB each, a power of
  // two): bytes land in one only when they arrive. Ignored by epoll.
  unsigned io_uring_buffers = 1024;
  std::string access_log = "stdout";  // "stdout" | "off" | file path
  std::string state_file;
  std::string log = "stderr";  // the process log: "stderr" | file path (appended)
};

struct Timeouts {
  Duration client_header = 10s;  // whole request head, from its first byte (or accept)
  Duration client_idle = 60s;    // keep-alive client between requests
  Duration client_body = 60s;    // longest pause while a request body arrives
  Duration client_send = 60s;    // longest pause while the client drains a response
  Duration upstream_connect = 2s;
  Duration upstream_response = 30s;  // until the response head; also longest pause in a body
  Duration upstream_idle = 60s;      // pooled keep-alive upstream connection
  Duration tunnel_idle = 1h;         // WebSocket tunnel with no bytes either way
  Duration drain = 30s;              // graceful shutdown deadline
  Duration tls_handshake = 10s;      // from accept to a finished TLS handshake
  Duration proxy_protocol = 5s;      // from accept to a whole PROXY protocol header
};

// A named rate-limit policy (config: [limits.NAME], a sub-table beside the scalar keys
// of [limits]). GCRA over the key: `rate` requests per `per`, `burst` more at once.
struct RateLimitPolicyConfig {
  enum class Scope { local, cluster };
  std::string name;
  std::uint64_t rate = 0;   // key rate = "N/s" | "N/m" | "N/h": N ...
  Duration per = 1s;        // ... per this
  std::uint64_t burst = 0;  // requests above the rate let through at once
  std::uint64_t delay = 0;  // excess requests beyond burst held until they conform
  // Parts of the key, combined (key = "client_ip" or an array of parts):
  // client_ip | header:NAME | cookie:NAME | route.
  std::vector<std::string> key{"client_ip"};
  std::uint32_t ipv4_prefix = 32;  // client_ip: addresses grouped by this prefix
  std::uint32_t ipv6_prefix = 64;
  Scope scope = Scope::local;
  bool dry_run = false;  // count what would be refused, refuse nothing
  std::uint64_t max_keys = 1'000'000;
  // On JSON-RPC routes each call takes this many tokens (first matching glob; else 1):
  // key method_costs = { "eth_getLogs" = 10, "debug_*" = 20 }.
  std::vector<std::pair<std::string, std::uint64_t>> method_costs{
      {"eth_getLogs", 10}, {"debug_*", 20}, {"trace_*", 20}};
  SourcePos pos;
  friend bool operator==(const RateLimitPolicyConfig&, const RateLimitPolicyConfig&) = default;
};

struct Limits {
  std::uint64_t max_header_bytes = 65536;
  std::uint64_t max_body_bytes = 10485760;
  std::uint64_t max_connections = 100000;
  // Idle keep-alive connections each worker keeps per backend. Generous on purpose: a
  // pool smaller than the client concurrency churns connections (DESIGN.md).
  std::uint64_t max_idle_upstream = 1024;
  std::vector<RateLimitPolicyConfig> policies;  // sorted by name

  const RateLimitPolicyConfig* find_policy(std::string_view name) const;
};

// Shared state between veer instances (config: [cluster]); today the rate limits of
// scope = "cluster". Present only when the table is.
struct ClusterConfig {
  bool enabled = false;
  std::string redis;  // "host:port"
  HostPort redis_host_port;
  std::uint32_t instances = 0;  // for the fallback limit rate / N; 0 = counted through Redis
  std::uint64_t lease = 0;      // requests leased per block; 0 = rate / 50, at least 1
  Duration timeout = 250ms;     // a Redis reply later than this counts as Redis down
  std::string key_prefix = "veer:";
  SourcePos pos;
};

// A method route of a JSON-RPC route: calls whose method matches one of the globs go to
// `target` (a pool or a split) instead of the route's target.
struct MethodRouteConfig {
  std::vector<std::string> match;  // globs ('*' = any run of characters)
  std::string target;
  SourcePos pos;
  friend bool operator==(const MethodRouteConfig&, const MethodRouteConfig&) = default;
};

// JSON-RPC mode of a route (config: jsonrpc = true, or jsonrpc = { ... }; docs/JSONRPC.md).
struct JsonRpcRouteConfig {
  std::uint32_t max_batch = 100;   // items of one batch; 413 above
  std::vector<std::string> allow;  // globs; empty = every method `deny` does not name
  // Globs answered -32601; the default is safe for a public endpoint.
  std::vector<std::string> deny{"admin_*",       "personal_*", "miner_*",
                                "debug_setHead", "eth_sign*",  "eth_sendTransaction"};
  bool local_accounts = true;         // eth_accounts answered locally with []
  bool pin_latest = false;            // "latest" rewritten to the route's served head
  std::uint64_t recent_blocks = 128;  // older block arguments go to `archive`
  std::string archive;                // target for debug_*/trace_* and old blocks; "" = none
  std::uint64_t max_logs_block_range = 10000;  // eth_getLogs toBlock - fromBlock + 1
  // WebSocket subscriptions (docs/JSONRPC.md, "Subscriptions").
  std::uint32_t max_subscriptions = 100;        // per client connection
  std::uint64_t max_queue_bytes = 1024 * 1024;  // outbound bytes per client; 1013 above
  SourcePos pos;
  friend bool operator==(const JsonRpcRouteConfig&, const JsonRpcRouteConfig&) = default;
};

struct RouteConfig {
  std::string host;         // "" = any host; compared case-insensitively, port ignored
  std::string path_prefix;  // "" = any path
  std::string target;       // a pool or split name
  SourcePos target_pos;
  std::vector<std::string> limits;  // rate-limit policies, in order (after the listener's)
  std::uint64_t max_in_flight = 0;  // requests of this route at once, process-wide; 0 = no cap
  SourcePos limits_pos;
  std::optional<JsonRpcRouteConfig> jsonrpc;     // none: a byte-exact proxy
  std::vector<MethodRouteConfig> method_routes;  // JSON-RPC routes only; first match wins
};

// A certificate chain (leaf first, then intermediates) and its private key, PEM files.
struct CertKeyConfig {
  std::string cert;
  std::string key;
  SourcePos pos;
  friend bool operator==(const CertKeyConfig& a, const CertKeyConfig& b) {
    return a.cert == b.cert && a.key == b.key;
  }
};

// TLS termination on a listener (config: tls = { ... }).
struct ListenerTlsConfig {
  enum class Verify { off, optional, required };
  enum class UnknownSni { use_default, refuse };
  CertKeyConfig default_certificate;                 // keys cert and key: clients without SNI or
                                                     // with a name no certificate has
  std::vector<CertKeyConfig> certificates;           // more, chosen by SNI against their SANs
  UnknownSni unknown_sni = UnknownSni::use_default;  // key unknown_sni: "default" | "refuse"
  std::string min_version = "1.2";                   // "1.2" | "1.3"
  std::string ciphers;       // TLS 1.2 cipher list (OpenSSL syntax); "" = veer's default
  std::string ciphersuites;  // TLS 1.3 suites; "" = OpenSSL's default
  std::string curves;        // key exchange groups, "X25519:P-256"; "" = OpenSSL's default
  std::string client_ca;     // PEM bundle that client certificates must chain to
  Verify verify = Verify::off;
  std::string client_subject_header;      // "" = not sent
  std::string client_fingerprint_header;  // "" = not sent
  bool session_tickets = true;
  std::string ticket_key_file;          // "" = keys generated in memory and rotated
  Duration ticket_key_rotation = 1h;    // generated keys; a ticket lives two periods
  std::uint32_t session_cache = 20480;  // sessions kept for clients without tickets; 0 = off
  // Compares what is loaded (files and settings), not where the keys were written.
  friend bool operator==(const ListenerTlsConfig&, const ListenerTlsConfig&) = default;
};

struct ListenerConfig {
  std::string name;
  std::string address;
  HostPort host_port;
  std::optional<ListenerTlsConfig> tls;  // no table: plain HTTP
  std::vector<RouteConfig> routes;
  // Peers whose X-Forwarded-For / Forwarded / PROXY protocol header is believed.
  std::vector<core::IpPrefix> trusted_proxies;
  bool proxy_protocol = false;                   // a PROXY v1/v2 header starts each connection
  std::uint32_t max_connections_per_client = 0;  // per client address, process-wide; 0 = none
  std::vector<std::string> limits;               // rate-limit policies for every route
  SourcePos limits_pos;
  SourcePos pos;
};

// TLS from veer to a pool's backends, for requests and health checks (config: pool tls).
struct UpstreamTlsConfig {
  bool verify = true;  // the backend's chain and name (sni, else the backend's host)
  std::string ca;      // PEM bundle; "" = the system's trust store
  std::string sni;     // "" = the backend's host when it is a name, none for an address
  std::string cert;    // client certificate for backends that require one; "" = none
  std::string key;
  SourcePos pos;
  friend bool operator==(const UpstreamTlsConfig& a, const UpstreamTlsConfig& b) {
    return a.verify == b.verify && a.ca == b.ca && a.sni == b.sni && a.cert == b.cert &&
           a.key == b.key;
  }
};

// Weights are relative; a million to one is already beyond any useful ratio.
inline constexpr std::uint64_t kMaxBackendWeight = 1'000'000;

struct BackendConfig {
  std::string address;  // as written; the identity used by logs and the admin API
  HostPort host_port;
  SocketAddress resolved;
  std::uint32_t weight = 1;
  bool backup = false;
  SourcePos pos;
};

// Active health checks of a pool (config: health = { ... }).
struct HealthConfig {
  enum class Type { http, tcp, jsonrpc };
  Type type = Type::http;
  std::string path = "/";                      // http and jsonrpc
  std::string http_method = "GET";             // http: key `method`
  std::string rpc_method = "eth_blockNumber";  // jsonrpc: key `method`
  std::uint16_t expect_min = 200;              // http: key `expect`, "200-299" or "200"
  std::uint16_t expect_max = 299;
  std::string body;  // http: required substring of the body
  std::vector<std::pair<std::string, std::string>> headers;
  std::string host;  // Host header; "" = the backend address
  Duration interval = 5s;
  Duration timeout = 2s;
  Duration jitter = 0s;              // each wait is interval + up to jitter
  std::uint32_t rise = 2;            // consecutive passes to come back up
  std::uint32_t fall = 3;            // consecutive failures to go down
  std::uint64_t max_lag_blocks = 0;  // jsonrpc: 0 = no lag check
  std::optional<std::uint64_t>
      chain_id;                  // jsonrpc: expected eth_chainId; none = the pool's majority
  Duration stall_timeout = 60s;  // jsonrpc: head unmoved this long = out; 0s = off

  // Every field: a reload keeps a backend's probe (and its rise/fall counts) only when
  // nothing about its check changed.
  friend bool operator==(const HealthConfig&, const HealthConfig&) = default;
};

// The failure ratio's default for a pool that serves JSON-RPC: a node failing 5 % of its
// calls is found (docs/JSONRPC.md, "Error classes").
inline constexpr std::uint32_t kJsonRpcFailurePercent = 3;

// Passive health: ejecting backends that keep failing real requests.
struct OutlierConfig {
  std::uint32_t consecutive_failures = 5;
  Duration base_ejection = 30s;  // the n-th ejection lasts n x this ...
  Duration max_ejection = 300s;  // ... but never longer than this
  std::uint32_t max_ejected_percent = 50;
  // Failure ratio (Envoy's failure_percentage): eject when more than failure_percent of
  // at least failure_min_requests exchanges in one failure_window failed. 0 = off.
  // Not given: loading resolves it (resolve_outlier_defaults) to
  // kJsonRpcFailurePercent for a pool that serves JSON-RPC, else 0, so plain HTTP pools
  // keep their behaviour; failure_percent_set says whether the file gave it.
  std::uint32_t failure_percent = 0;
  bool failure_percent_set = false;
  std::uint32_t failure_min_requests = 100;
  Duration failure_window = 30s;
};

struct RetryConfig {
  std::uint32_t attempts = 2;         // retries after the first try, each on another backend
  std::uint32_t budget_percent = 20;  // retries at most this share of recent requests ...
  std::uint32_t budget_min = 10;      // ... plus this many per second, so quiet pools can retry
};

struct PoolConfig {
  std::string name;
  std::string strategy = "round_robin";
  std::string hash_key = "client_ip";  // ip_hash only: client_ip | header:NAME | cookie:NAME
  std::vector<BackendConfig> backends;
  std::optional<HealthConfig> health;    // no table: no active checks
  std::optional<OutlierConfig> outlier;  // no table: no passive ejection
  RetryConfig retries;
  Duration slow_start = 0s;              // 0 = off
  std::uint32_t panic_threshold = 50;    // percent of routable primaries; 0 = never panic
  std::optional<UpstreamTlsConfig> tls;  // no table: plain HTTP to the backends
  SourcePos pos;
};

// One target of a split: a pool and its weight (relative, any non-negative size).
struct SplitTargetConfig {
  std::string pool;
  std::uint64_t weight = 0;
  SourcePos pos;
};

// A weighted split of traffic between pools (config: [splits.NAME]).
struct SplitConfig {
  std::string name;
  // Sorted by pool name: the order of the bucket ranges, so assignments depend only on
  // names and weights, never on how the file was written.
  std::vector<SplitTargetConfig> targets;
  std::string sticky = "client_ip";  // client_ip | header:NAME | cookie:NAME | none
  std::string override_header;       // "" = no override by header
  std::string override_cookie;       // "" = no override by cookie
  bool failover = true;              // a target with nothing routable: its share goes to the others
  std::string target_header;         // response header naming the pool that answered; "" = off
  // After a change leaves a target at weight 0, its WebSocket tunnels are closed after
  // this grace period; none = left alone.
  std::optional<Duration> drain_tunnels_after;
  SourcePos pos;
};

// --- Progressive rollouts (config: [rollouts.NAME]; POST /api/v1/rollouts starts them
// too). docs/RELEASES.md explains the statistics; runtime/rollout_judge.hpp judges.

// The canary's server-error ratio may exceed the stable's by at most `tolerance`
// (absolute: 0.01 is one percentage point); `alpha` is the chance of rolling back a
// canary that is within it (and of promoting one that is not).
struct ErrorGuardConfig {
  double tolerance = 0.01;
  double alpha = 0.05;
  friend bool operator==(const ErrorGuardConfig&, const ErrorGuardConfig&) = default;
};

// The canary's `quantile` of response time may exceed the stable's by at most
// `tolerance_ms`.
struct LatencyGuardConfig {
  double quantile = 0.99;
  double tolerance_ms = 50;
  double alpha = 0.05;
  friend bool operator==(const LatencyGuardConfig&, const LatencyGuardConfig&) = default;
};

struct RolloutConfig {
  std::string name;
  std::string split;   // a [splits.NAME] whose targets include stable and canary
  std::string stable;  // pool names, targets of the split
  std::string canary;
  // The canary's share at each step in basis points (1 % = 100): strictly increasing,
  // each in 1..10000. Passing the last step promotes (the canary takes 100 %).
  std::vector<std::uint32_t> steps;
  Duration min_step = 30s;   // no promotion before this much time in a step
  Duration max_step = 600s;  // then the step pauses as inconclusive
  // Absent from the file and the API body: error_ratio with its defaults.
  std::optional<ErrorGuardConfig> error_ratio;
  std::optional<LatencyGuardConfig> latency;
  SourcePos pos;
  friend bool operator==(const RolloutConfig&, const RolloutConfig&) = default;
};

struct AdminToken {
  std::string name;  // shown in the audit log; the token itself never is
  std::string token;
};

// The admin API (config: [admin]). Started only when the table is present.
struct AdminConfig {
  bool enabled = false;
  std::string address = "127.0.0.1:9901";
  HostPort host_port{"127.0.0.1", 9901};
  std::vector<AdminToken> tokens;   // from `tokens` and `token_file`
  bool metrics = true;              // workers count requests for GET /metrics
  bool metrics_need_token = false;  // GET /metrics without a token unless set
  std::string audit_log;            // "" = the process log; else a file of JSON lines
  SourcePos pos;
};

struct Config {
  std::string source_path;  // the file it was loaded from ("" for an in-memory string)
  ServerConfig server;
  Timeouts timeouts;
  Limits limits;
  AdminConfig admin;
  ClusterConfig cluster;
  std::vector<ListenerConfig> listeners;
  std::vector<PoolConfig> pools;
  std::vector<SplitConfig> splits;
  std::vector<RolloutConfig> rollouts;  // by name

  const PoolConfig* find_pool(std::string_view name) const;
  const SplitConfig* find_split(std::string_view name) const;
  const RolloutConfig* find_rollout(std::string_view name) const;
};

const char* to_string(IoEngine e);

}  // namespace veer::conf
