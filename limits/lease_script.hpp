#pragma once

// What veer stores in Redis for rate limits of scope = "cluster", and the two server-side
// Lua scripts that change it. No I/O here: limits/redis_link.cpp sends these, and the
// unit tests run them against a real redis-server.
//
// A key's shared state is one Redis string, its GCRA "theoretical arrival time" (TAT) in
// microseconds of the Redis server's clock (TIME), so instances whose clocks disagree
// still share one timeline. A lease takes up to B units of the key's allowance at once by
// the same rule as a local policy (limits/limiter.hpp): a unit conforms while
// TAT - now <= burst tolerance, and each unit granted moves the TAT by T.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace veer::limits {

// KEYS[1] = the key's TAT; ARGV = T (ns), burst tolerance (ns), B (units wanted).
// Returns {granted, wait_ms, reset_ms}: granted <= B; wait_ms until the next unit
// conforms (0 when one does now); reset_ms until the key's whole allowance is back.
// The key expires (PX) when its TAT passes: after that, no state means the same.
extern const std::string_view kLeaseScript;

// KEYS[1] = the set of live instances (a ZSET scored by Redis time in ms);
// ARGV = this instance's id, how long (ms) a member stays live without a heartbeat.
// Adds or refreshes the member, drops members not seen for that long, and returns how
// many are live (this one included).
extern const std::string_view kHeartbeatScript;

struct LeaseGrant {
  std::uint64_t granted = 0;
  std::int64_t wait_ns = 0;   // until a next unit could be granted
  std::int64_t reset_ns = 0;  // until the key's whole allowance is back
};

// The reply of kLeaseScript as three integers, checked: nullopt when it does not fit
// (negative, or more granted than asked).
std::optional<LeaseGrant> lease_grant_of(long long granted, long long wait_ms, long long reset_ms,
                                         std::uint64_t asked);

// "<prefix>rl:<policy>:<key as 16 hex digits>": the Redis key of one limit key.
std::string lease_key_name(std::string_view prefix, std::string_view policy, std::uint64_t key);
// "<prefix>instances": the ZSET of live instances.
std::string instances_key_name(std::string_view prefix);

// How many units one lease asks for: `configured` when set, else rate / 50 (a fiftieth of
// the policy's allowance per period, 20 ms of it for a per-second rate), at least 1.
// `interval_ns` is T as the policy runs now, `per_ns` the policy's period.
std::uint64_t lease_block(std::uint64_t configured, std::int64_t interval_ns, std::int64_t per_ns);

}  // namespace veer::limits
