#pragma once

// Rate-limit policies as a snapshot carries them: each policy's parameters (from the
// file, with admin changes on top), how its key is formed, and the process-wide Limiter
// that holds its keys' state. Limiters outlive snapshots: LimiterSet::build hands a new
// snapshot the previous one's Limiter for every policy whose name, scope and max_keys
// are unchanged, so reloads and PUT /api/v1/limits/{policy} keep every key's state.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.hpp"
#include "core/ip_address.hpp"
#include "http/http_head.hpp"
#include "limits/limiter.hpp"

namespace veer::runtime {

// One part of a policy's key (config: key = "client_ip" | "header:NAME" | ...).
struct LimitKeyPart {
  enum class Kind : std::uint8_t { client_ip, header, cookie, route };
  Kind kind = Kind::client_ip;
  std::string name;  // header or cookie name
};

struct PolicyRuntime {
  std::string name;
  const conf::RateLimitPolicyConfig* config = nullptr;  // in the owning Snapshot's config
  limits::Gcra gcra;                                    // rate and burst as they run now
  std::vector<LimitKeyPart> key;
  std::shared_ptr<limits::Limiter> limiter;
  // The RateLimit-Policy item, written once: "\"per_client\";q=100;w=1".
  std::string policy_field;
};

// The parts of a key as the loader checked them (conf::RateLimitPolicyConfig::key).
std::vector<LimitKeyPart> parse_limit_key(const std::vector<std::string>& parts);
// The key's parts as configured, joined by '|': "client_ip|header:X-Api-Key".
std::string key_parts_text(const PolicyRuntime& policy);
// The policy's RateLimit-Policy list member: "\"per_client\";q=100;w=1".
std::string policy_field(const conf::RateLimitPolicyConfig& policy);

// The clock of local limiters: steady_clock in nanoseconds. The request path and the
// admin API's key inspection read the same one.
std::int64_t limiter_now();

// Creates the Limiter of a policy with scope = "cluster" (app/ supplies it: Redis).
using ClusterLimiterFactory = std::function<std::shared_ptr<limits::Limiter>(
    const conf::RateLimitPolicyConfig&, const conf::ClusterConfig&)>;

// The Limiters of one configuration, by policy name; main thread only.
class LimiterSet {
 public:
  // A Limiter per policy of `config`: `previous`'s when name, scope and max_keys match,
  // else a new one (local, or from `cluster` for scope = "cluster").
  // (Cluster scope: also the [cluster] table unchanged; a new Redis needs a new engine.)
  // Throws std::logic_error for a cluster policy when `cluster` is empty or returns null:
  // the server refuses such a configuration before, so only a test can get there.
  static LimiterSet build(const conf::Config& config, const LimiterSet* previous,
                          const ClusterLimiterFactory& cluster);
  std::shared_ptr<limits::Limiter> find(std::string_view policy) const;

 private:
  struct Entry {
    conf::RateLimitPolicyConfig::Scope scope;
    std::uint64_t max_keys;
    std::shared_ptr<limits::Limiter> limiter;
    conf::ClusterConfig cluster;  // what a cluster policy's Limiter was made for
  };
  std::map<std::string, Entry, std::less<>> entries_;
};

// A route's identity, the same across reloads that keep the route: its listener, host
// and path prefix (as /metrics labels them: "*" for any host, "/" for any path).
std::uint64_t route_id(std::string_view listener, std::string_view host,
                       std::string_view path_prefix);

// The 64-bit key of a request under `policy`: the key's parts hashed in order. The
// client address is grouped by the policy's ipv4_prefix / ipv6_prefix. A header or
// cookie part the request lacks is replaced by the client address, so leaving a header
// out never escapes a limit. `route_id` identifies the route (stable across reloads).
std::uint64_t limit_key(const PolicyRuntime& policy, const http::RequestHead& head,
                        const core::IpAddress& client, std::uint64_t route_id);

// The same key from the text an operator types in GET /api/v1/limits/{policy}?key=K:
// the parts' values joined by '|' in the policy's order ("203.0.113.7",
// "203.0.113.7|abc"); nullopt with *why when the text does not fit the policy. A route
// part is LISTENER:ROUTE ("public:*/", "public:rpc.example.com/api"); a header or
// cookie part in brackets ("[203.0.113.7]") names requests that lacked it. Every part
// but the last ends at the first '|'.
std::optional<std::uint64_t> limit_key_from_text(const PolicyRuntime& policy, std::string_view text,
                                                 std::string* why);

// In-flight requests of one route, process-wide (max_in_flight); shared by every
// worker and kept across snapshots that keep the route (same listener, host, prefix).
struct RouteInFlight {
  std::atomic<std::uint64_t> count{0};
};

}  // namespace veer::runtime
