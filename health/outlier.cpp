#include "health/outlier.hpp"

#include <algorithm>
#include <string>

namespace veer::health {

const char* describe(Outcome outcome) {
  switch (outcome) {
    case Outcome::success:
      return "success";
    case Outcome::connect_failed:
      return "connect failures";
    case Outcome::tls_failed:
      return "TLS failures";
    case Outcome::reset:
      return "connections lost";
    case Outcome::timeout:
      return "timeouts";
    case Outcome::server_error:
      return "5xx responses";
    case Outcome::bad_response:
      return "invalid responses";
    case Outcome::rpc_error:
      return "JSON-RPC server errors";
  }
  return "failures";
}

std::uint32_t max_ejected(const conf::OutlierConfig& config, std::size_t pool_size) {
  return std::max<std::uint32_t>(
      1, static_cast<std::uint32_t>(pool_size * config.max_ejected_percent / 100));
}

bool record_outcome(Outcome outcome, core::BackendStats& stats, core::PoolStats& pool,
                    const conf::OutlierConfig* config, std::size_t pool_size, BackendName who,
                    core::BackendStats::Clock::time_point now) {
  if (outcome == Outcome::success) {
    record_success(stats);
    return false;
  }
  const std::uint32_t failures =
      stats.consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
  if (config == nullptr || failures < config->consecutive_failures) return false;
  if (stats.has(core::Reason::ejected)) return false;
  // Claim one of the pool's ejection slots; if none is left, the backend stays.
  const std::uint32_t allowed = max_ejected(*config, pool_size);
  std::uint32_t ejected = pool.ejected.load(std::memory_order_relaxed);
  do {
    if (ejected >= allowed) return false;
  } while (!pool.ejected.compare_exchange_weak(ejected, ejected + 1, std::memory_order_relaxed));
  const std::uint32_t count = stats.ejections.fetch_add(1, std::memory_order_relaxed) + 1;
  const auto duration =
      std::min<std::chrono::milliseconds>(config->base_ejection * count, config->max_ejection);
  stats.ejected_until.store((now + duration).time_since_epoch().count(), std::memory_order_relaxed);
  if (!change_reason(stats, core::Reason::ejected, true, who,
                     std::to_string(failures) + " consecutive " + describe(outcome) +
                         "; ejected for " + conf::format_duration(duration))) {
    pool.ejected.fetch_sub(1, std::memory_order_relaxed);  // another worker ejected it first
    return false;
  }
  stats.consecutive_failures.store(0, std::memory_order_relaxed);
  return true;
}

bool end_ejection(core::BackendStats& stats, core::PoolStats& pool, BackendName who,
                  std::string_view cause) {
  if (!change_reason(stats, core::Reason::ejected, false, who, cause)) return false;
  // Never below zero: a reload recounts the pool while workers may be ejecting.
  std::uint32_t ejected = pool.ejected.load(std::memory_order_relaxed);
  while (ejected > 0 &&
         !pool.ejected.compare_exchange_weak(ejected, ejected - 1, std::memory_order_relaxed)) {
  }
  return true;
}

}  // namespace veer::health
