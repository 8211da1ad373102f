#pragma once

// Passive health checking (outlier detection): workers report how each exchange with a
// backend ended; enough consecutive failures (connect failures, resets, timeouts, 5xx)
// (and invalid responses) eject it for base_ejection x (ejections so far), capped at
// max_ejection. Never more
// than max_ejected_percent of a pool at once (at least one may always go). The health
// thread brings an ejected backend back when its time is up (and, with active checks,
// after one passes). Lock-free: a few shared atomics per backend and per pool.

#include <chrono>
#include <cstddef>

#include "conf/config.hpp"
#include "core/backend_stats.hpp"
#include "health/transitions.hpp"

namespace veer::health {

// How an exchange with a backend ended, as passive health counts it: every failure the
// data plane sees (an error code, never an exception) maps to one of these.
// tls_failed: the TLS handshake with a backend failed (verification, protocol): a
// failure of the backend like a refused connection, named apart so that the ejection's
// cause says tls.
enum class Outcome {
  success,
  connect_failed,
  tls_failed,
  reset,
  timeout,
  server_error,
  bad_response,
  rpc_error  // a JSON-RPC error of the server class in a 2xx answer (http/jsonrpc_methods.hpp)
};

// Told (from a worker) that a backend was ejected, so its return can be scheduled.
class EjectionListener {
 public:
  virtual void backend_ejected() = 0;

 protected:
  ~EjectionListener() = default;
};

const char* describe(Outcome outcome);

// How many of a pool's `pool_size` backends may be ejected at once.
std::uint32_t max_ejected(const conf::OutlierConfig& config, std::size_t pool_size);

// The failure ratio's window counts (BackendStats::window_counts): exchanges in the low
// 32 bits, failures in the high 32, so one relaxed add counts an exchange. A window holds
// up to 2^32 - 1 exchanges (4.29 G: 30 s at 143 M requests a second) before its exchange
// count would carry into the failures.
inline constexpr unsigned kWindowFailureShift = 32;
inline constexpr std::uint64_t kWindowExchange = 1;
inline constexpr std::uint64_t kWindowFailure = (std::uint64_t{1} << kWindowFailureShift) + 1;

// A successful exchange of a pool without the failure ratio (failure_percent = 0) ends a
// run of failures: the data plane's fast path, no clock, no write in the common case. It
// reads consecutive_failures before writing it, because a write per request would bounce
// the backend's cache line between cores. It leaves the ratio's window alone: counting
// there with the rule off would only fill the counters (and wrap them over a long life).
inline void record_success(core::BackendStats& stats) {
  if (stats.consecutive_failures.load(std::memory_order_relaxed) != 0) {
    stats.consecutive_failures.store(0, std::memory_order_relaxed);
  }
}

// A closed failure-ratio window: how many exchanges it saw and how many failed.
struct WindowCounts {
  std::uint64_t exchanges = 0;
  std::uint64_t failures = 0;
};

// Whether a closed window's counts eject (Envoy's failure_percentage): at least
// failure_min_requests exchanges, and more than failure_percent of them failed.
bool ratio_ejects(const conf::OutlierConfig& config, WindowCounts counts);

// Records one exchange, success or failure: the consecutive-failure rule and, when
// failure_percent > 0, the failure ratio, whose window the first exchange past its end
// closes (lazily, lock-free: one add per exchange, and a load of the window's start).
// Returns true when this exchange ejected the backend; the caller then tells the health
// thread, which schedules its return.
bool record_outcome(Outcome outcome, core::BackendStats& stats, core::PoolStats& pool,
                    const conf::OutlierConfig* config, std::size_t pool_size, BackendName who,
                    core::BackendStats::Clock::time_point now);

// Brings an ejected backend back (health thread). Returns true when it was ejected.
// Every ejection (either rule) and every return starts the failure ratio's window afresh,
// so a backend that comes back is judged on the traffic after its return.
bool end_ejection(core::BackendStats& stats, core::PoolStats& pool, BackendName who,
                  std::string_view cause);

}  // namespace veer::health
