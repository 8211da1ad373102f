#include "health/outlier.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>
#include <string>

namespace veer::health {

using Clock = core::BackendStats::Clock;
using conf::Duration;

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

bool ratio_ejects(const conf::OutlierConfig& config, WindowCounts counts) {
  return config.failure_percent > 0 && counts.exchanges >= config.failure_min_requests &&
         counts.failures * 100 > std::uint64_t{config.failure_percent} * counts.exchanges;
}

namespace {

// Counts one exchange (`add`: kWindowExchange or kWindowFailure) in the backend's window;
// when `now` is past the window's end, the worker that moves the start closes it: it
// takes the window's counts and leaves this exchange as the first of the next one.
std::optional<WindowCounts> count_in_window(core::BackendStats& stats, std::uint64_t add,
                                            Duration window, Clock::time_point now) {
  const Clock::rep at = now.time_since_epoch().count();
  Clock::rep start = stats.window_start.load(std::memory_order_relaxed);
  if (start == 0 &&
      stats.window_start.compare_exchange_strong(start, at, std::memory_order_relaxed)) {
    // No window yet, or one reset by an ejection or a return: the worker that starts it
    // drops what was counted meanwhile (or before a reload turned the rule on).
    stats.window_counts.store(add, std::memory_order_relaxed);
    return std::nullopt;
  }
  const Clock::rep length = std::chrono::duration_cast<Clock::duration>(window).count();
  if (at - start < length ||
      !stats.window_start.compare_exchange_strong(start, at, std::memory_order_relaxed)) {
    stats.window_counts.fetch_add(add, std::memory_order_relaxed);
    return std::nullopt;
  }
  const std::uint64_t counts = stats.window_counts.exchange(add, std::memory_order_relaxed);
  const std::uint64_t exchange_mask = (std::uint64_t{1} << kWindowFailureShift) - 1;
  return WindowCounts{counts & exchange_mask, counts >> kWindowFailureShift};
}

// Forgets the failure ratio's window: the next exchange starts a new one. Relaxed and
// racy by design: exchanges other workers count at the same moment may be lost or land
// in the new window, which moves a ratio by those few exchanges only.
void reset_window(core::BackendStats& stats) {
  stats.window_start.store(0, std::memory_order_relaxed);
  stats.window_counts.store(0, std::memory_order_relaxed);
}

// "7 of 150 exchanges failed (4.7 % > 3 %) in 30s: JSON-RPC server errors".
std::string ratio_cause(const conf::OutlierConfig& config, WindowCounts counts, Outcome last) {
  char percent[32];
  std::snprintf(
      percent, sizeof percent, "%.1f",
      100.0 * static_cast<double>(counts.failures) / static_cast<double>(counts.exchanges));
  return std::to_string(counts.failures) + " of " + std::to_string(counts.exchanges) +
         " exchanges failed (" + percent + " % > " + std::to_string(config.failure_percent) +
         " %) in " + conf::format_duration(config.failure_window) + ": " + describe(last);
}

// Ejects the backend if the pool has a slot left: the one path of both rules.
bool eject(core::BackendStats& stats, core::PoolStats& pool, const conf::OutlierConfig& config,
           std::size_t pool_size, BackendName who, Clock::time_point now, const std::string& why) {
  if (stats.has(core::Reason::ejected)) return false;
  // Claim one of the pool's ejection slots; if none is left, the backend stays.
  const std::uint32_t allowed = max_ejected(config, pool_size);
  std::uint32_t ejected = pool.ejected.load(std::memory_order_relaxed);
  do {
    if (ejected >= allowed) return false;
  } while (!pool.ejected.compare_exchange_weak(ejected, ejected + 1, std::memory_order_relaxed));
  const std::uint32_t count = stats.ejections.fetch_add(1, std::memory_order_relaxed) + 1;
  const auto duration =
      std::min<std::chrono::milliseconds>(config.base_ejection * count, config.max_ejection);
  stats.ejected_until.store((now + duration).time_since_epoch().count(), std::memory_order_relaxed);
  if (!change_reason(stats, core::Reason::ejected, true, who,
                     why + "; ejected for " + conf::format_duration(duration))) {
    pool.ejected.fetch_sub(1, std::memory_order_relaxed);  // another worker ejected it first
    return false;
  }
  stats.consecutive_failures.store(0, std::memory_order_relaxed);
  reset_window(stats);
  return true;
}

}  // namespace

bool record_outcome(Outcome outcome, core::BackendStats& stats, core::PoolStats& pool,
                    const conf::OutlierConfig* config, std::size_t pool_size, BackendName who,
                    core::BackendStats::Clock::time_point now) {
  const bool success = outcome == Outcome::success;
  if (!success)
    stats.last_failure.store(static_cast<std::uint8_t>(outcome), std::memory_order_relaxed);
  if (config == nullptr || config->failure_percent == 0) {
    if (success) {
      record_success(stats);
      return false;
    }
  } else if (const std::optional<WindowCounts> closed = count_in_window(
                 stats, success ? kWindowExchange : kWindowFailure, config->failure_window, now);
             closed && ratio_ejects(*config, *closed)) {
    const auto last = static_cast<Outcome>(stats.last_failure.load(std::memory_order_relaxed));
    if (eject(stats, pool, *config, pool_size, who, now, ratio_cause(*config, *closed, last))) {
      return true;
    }
  }
  if (success) {
    if (stats.consecutive_failures.load(std::memory_order_relaxed) != 0) {
      stats.consecutive_failures.store(0, std::memory_order_relaxed);
    }
    return false;
  }
  const std::uint32_t failures =
      stats.consecutive_failures.fetch_add(1, std::memory_order_relaxed) + 1;
  if (config == nullptr || failures < config->consecutive_failures) return false;
  return eject(stats, pool, *config, pool_size, who, now,
               std::to_string(failures) + " consecutive " + describe(outcome));
}

bool end_ejection(core::BackendStats& stats, core::PoolStats& pool, BackendName who,
                  std::string_view cause) {
  if (!change_reason(stats, core::Reason::ejected, false, who, cause)) return false;
  reset_window(stats);
  // Never below zero: a reload recounts the pool while workers may be ejecting.
  std::uint32_t ejected = pool.ejected.load(std::memory_order_relaxed);
  while (ejected > 0 &&
         !pool.ejected.compare_exchange_weak(ejected, ejected - 1, std::memory_order_relaxed)) {
  }
  return true;
}

}  // namespace veer::health
