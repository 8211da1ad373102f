#include "limits/lease_script.hpp"

#include <cstdio>

namespace veer::limits {

// Lua numbers are doubles: microseconds since 1970 (about 1.8e15) are exact to a quarter
// of a microsecond, far below any T. The TAT is stored with three decimals so that a
// fractional T (3/s: 333333.33 us) does not drift; the 1e-9 guards floor() against a
// quotient that should be a whole number landing just below it. redis.replicate_commands
// lets Redis before 5 write after TIME (a no-op since 7).
const std::string_view kLeaseScript = R"lua(
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1]) / 1000
local tolerance = tonumber(ARGV[2]) / 1000
local want = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local granted = 0
if tat - now <= tolerance then
  granted = math.floor((now + tolerance - tat) / interval + 1e-9) + 1
  if granted > want then granted = want end
  tat = tat + granted * interval
  redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
return {granted, math.ceil(wait / 1000), math.ceil((tat - now) / 1000)}
)lua";

const std::string_view kHeartbeatScript = R"lua(
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local live = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - live)
redis.call('PEXPIRE', KEYS[1], live * 2)
return redis.call('ZCARD', KEYS[1])
)lua";

std::optional<LeaseGrant> lease_grant_of(long long granted, long long wait_ms, long long reset_ms,
                                         std::uint64_t asked) {
  if (granted < 0 || wait_ms < 0 || reset_ms < 0) return std::nullopt;
  if (static_cast<unsigned long long>(granted) > asked) return std::nullopt;
  // A day bounds both times far above any sane policy and keeps the products in range.
  constexpr long long kMaxMs = 86'400'000;
  if (wait_ms > kMaxMs) wait_ms = kMaxMs;
  if (reset_ms > kMaxMs) reset_ms = kMaxMs;
  return LeaseGrant{static_cast<std::uint64_t>(granted), wait_ms * 1'000'000, reset_ms * 1'000'000};
}

std::string lease_key_name(std::string_view prefix, std::string_view policy, std::uint64_t key) {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(key));
  std::string name;
  name.reserve(prefix.size() + policy.size() + 21);
  name.append(prefix).append("rl:").append(policy).append(":").append(hex, 16);
  return name;
}

std::string instances_key_name(std::string_view prefix) {
  return std::string(prefix) + "instances";
}

std::uint64_t lease_block(std::uint64_t configured, std::int64_t interval_ns, std::int64_t per_ns) {
  if (configured > 0) return configured;
  if (interval_ns <= 0 || per_ns <= 0) return 1;
  // rate = per / T (T was per / rate, rounded down, so this gives the rate back).
  const auto rate = static_cast<std::uint64_t>(per_ns / interval_ns);
  return rate / 50 > 0 ? rate / 50 : 1;
}

}  // namespace veer::limits
