#pragma once

// Rate limiting by GCRA (the generic cell rate algorithm: one "theoretical arrival
// time" per key). A Limiter holds the per-key state of one policy for the whole process:
// every worker asks the same object, so a client spread over all workers gets exactly
// its limit. A Limiter outlives snapshots: reloads and admin changes of rate and burst
// keep every key's state (runtime/limiter_set carries it over by policy name).
//
// Times are nanoseconds on one monotonic clock (the caller's steady_clock reading for
// local limiters). Arithmetic is integer nanoseconds: T = per / rate is exact for every
// rate that divides its period in nanoseconds, and off by under 1 ns otherwise.

#include <cstdint>
#include <optional>
#include <string_view>

namespace veer::limits {

// A policy's parameters in nanoseconds. The step that applies them, with its exact
// semantics (remaining, reset, wait): limits/gcra.hpp; the local table: key_table.hpp.
struct Gcra {
  std::int64_t interval = 0;         // T: the time one request costs
  std::int64_t burst_tolerance = 0;  // burst x T: how far ahead of now a key may run
  std::int64_t delay_tolerance = 0;  // (burst + delay) x T: held rather than refused up to here

  // rate >= 1 requests per `per_ns`; burst and delay in requests.
  static Gcra of(std::uint64_t rate, std::int64_t per_ns, std::uint64_t burst, std::uint64_t delay);
  friend bool operator==(const Gcra&, const Gcra&) = default;
};

enum class Verdict : std::uint8_t { allow, delay, refuse };

struct Decision {
  Verdict verdict = Verdict::allow;
  // delay: how long to hold the request before sending it on; refuse: until the next
  // request of this key would be allowed. 0 for allow.
  std::int64_t wait = 0;
  std::uint64_t remaining = 0;  // requests of this key allowed at once after this one
  std::int64_t reset = 0;       // until the key's whole allowance is back
};

// A key's state for the admin API.
struct KeyState {
  bool known = false;  // false: the key has no state (never seen, expired or evicted)
  Decision now;        // what a request now would get (remaining, reset, wait if refused)
};

struct LimiterStats {
  std::uint64_t keys_in_use = 0;  // keys whose state has not expired
  std::uint64_t capacity = 0;     // keys the table holds at most
  std::uint64_t evictions = 0;    // keys pushed out while their state was still live
  std::uint64_t table_bytes = 0;  // memory reserved for the table (touched lazily)
  // Cluster scope: "shared", or "local fallback" while Redis is unreachable.
  std::string_view mode = "local";
  std::uint64_t fallback_rate_divisor = 1;  // N of rate / N while in fallback
  std::uint64_t lease_block = 0;            // requests per lease (cluster scope)
  std::uint64_t instances = 1;              // instances sharing the limit (cluster scope)
  // Cluster scope (limits/cluster_limiter.hpp):
  std::uint64_t fallback_transitions = 0;  // times this process lost Redis and fell back
  std::uint64_t fallback_allowed = 0;      // requests let through by the local fallback limit
  // lease_block x instances: the most requests the whole cluster may let through above
  // the shared limit (leases held, or lent ahead of a key's first lease).
  std::uint64_t overshoot_bound = 0;
};

// One policy's state for the whole process. acquire is called by every worker, on the
// request path: allocation-free and lock-free.
class Limiter {
 public:
  virtual ~Limiter() = default;
  // Charges one request of `key` (a 64-bit hash of the key's parts) at `now`.
  // A refused request is not charged; a delayed one is (it will be sent).
  virtual Decision acquire(std::uint64_t key, std::int64_t now, const Gcra& gcra) = 0;
  virtual KeyState inspect(std::uint64_t key, std::int64_t now, const Gcra& gcra) const = 0;
  virtual LimiterStats stats(std::int64_t now) const = 0;
};

}  // namespace veer::limits
