#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <mutex>
#include <string>

namespace veer::core {

// Why a backend is not eligible for new traffic. A backend is routable when no reason
// is set: health is a set of reasons, not a single flag, because each is set and
// cleared by its own owner, so an active check coming back up never lifts an
// operator's "disabled" or a drain.
enum class Reason : std::uint32_t {
  down = 1u << 0,      // active health checks failing (health/checker)
  ejected = 1u << 1,   // passive: failing real requests (health/outlier)
  draining = 1u << 2,  // being removed (reload, later the admin API)
  disabled = 1u << 3,  // administratively out (admin API)
};
inline constexpr std::size_t kReasonCount = 4;

// Why each reason was set, for people (GET /api/v1/pools, veer ctl pools): the cause
// given when it was set and when that was. Written by change_reason (a transition), by
// the health thread on each failed check while down, read by the admin thread; the
// request path never touches it, so a mutex costs nothing there. health/reasons.hpp
// reads and writes it.
struct ReasonNotes {
  struct Note {
    std::string cause;
    std::chrono::system_clock::time_point since{};
  };
  mutable std::mutex mutex;
  std::array<Note, kReasonCount> notes;  // indexed by the reason's bit position
};

// Every state a backend shows, weakest first: the one table of the names the API, logs
// and metrics use. "up" is no reason set; past it, an operator's "disabled" outranks a
// drain, which outranks failing checks, which outrank an ejection.
struct BackendState {
  std::uint32_t reason;  // the Reason bit behind this state; 0 for "up"
  const char* name;
};
inline constexpr std::array<BackendState, kReasonCount + 1> kBackendStates{{
    {0, "up"},
    {static_cast<std::uint32_t>(Reason::ejected), "ejected"},
    {static_cast<std::uint32_t>(Reason::down), "down"},
    {static_cast<std::uint32_t>(Reason::draining), "draining"},
    {static_cast<std::uint32_t>(Reason::disabled), "disabled"},
}};

// "down", "ejected", "draining", "disabled".
inline const char* reason_name(Reason reason) {
  for (const BackendState& state : kBackendStates) {
    if (state.reason == static_cast<std::uint32_t>(reason)) return state.name;
  }
  return "unknown";
}

// The one state the API and logs show, from the reasons set: the strongest wins.
inline const char* state_name(std::uint32_t reasons) {
  for (std::size_t i = kBackendStates.size() - 1; i > 0; --i) {
    if ((reasons & kBackendStates[i].reason) != 0) return kBackendStates[i].name;
  }
  return kBackendStates[0].name;
}

// Peak-EWMA of a backend's latency (time to response head), shared by all workers.
// A sample above the estimate replaces it at once (the peak: slowness is believed
// immediately); a lower one pulls it down with weight exp(-elapsed / decay). Reading
// decays the estimate by the time since the last sample, so a backend that stopped
// getting traffic drifts back toward zero and is tried again (tower's peak_ewma).
// Lock-free: concurrent updates race benignly (one sample may be lost), which only
// makes an estimate marginally staler.
class PeakEwma {
 public:
  using Clock = std::chrono::steady_clock;

  // The estimate in nanoseconds at `now`, or -1 when never sampled.
  double estimate_ns(Clock::time_point now, double decay_ns) const {
    const double value = bits_to_double(value_.load(std::memory_order_relaxed));
    if (value < 0) return -1;
    const auto stamp = stamp_.load(std::memory_order_relaxed);
    const double elapsed = static_cast<double>(now.time_since_epoch().count() - stamp);
    return elapsed > 0 ? value * std::exp(-elapsed / decay_ns) : value;
  }

  void record(std::chrono::nanoseconds sample, Clock::time_point now, double decay_ns) {
    const double rtt = static_cast<double>(sample.count());
    const double current = estimate_ns(now, decay_ns);
    double next = rtt;
    if (current >= 0 && rtt < current) {
      const auto stamp = stamp_.load(std::memory_order_relaxed);
      const double elapsed =
          std::max(0.0, static_cast<double>(now.time_since_epoch().count() - stamp));
      const double weight = std::exp(-elapsed / decay_ns);
      next = current * weight + rtt * (1.0 - weight);
    }
    value_.store(double_to_bits(next), std::memory_order_relaxed);
    stamp_.store(now.time_since_epoch().count(), std::memory_order_relaxed);
  }

 private:
  static std::uint64_t double_to_bits(double d) { return std::bit_cast<std::uint64_t>(d); }
  static double bits_to_double(std::uint64_t u) { return std::bit_cast<double>(u); }
  std::atomic<std::uint64_t> value_{double_to_bits(-1.0)};
  std::atomic<Clock::rep> stamp_{0};
};

// How fast a latency estimate forgets (the time constant of PeakEwma). Short enough
// that a backend which was 50 ms slow and recovered is tried again within about five
// seconds (its estimate decays below its healthy peers' cost), long enough to smooth
// the noise of single requests.
inline constexpr double kLatencyDecayNs = 2e9;

// Live numbers of one backend, shared by every worker and kept across snapshots while
// the backend stays in the configuration. Each field is a lone atomic written with
// relaxed ordering: strategies need fresh-enough values, not a consistent cut.
// Aligned to a cache line so two backends never share one between cores.
struct alignas(64) BackendStats {
  using Clock = std::chrono::steady_clock;

  std::atomic<std::int64_t> active_connections{0};  // upstream connections, tunnels included
  std::atomic<std::int64_t> in_flight{0};           // requests sent, response not finished
  std::atomic<std::uint64_t> requests{0};           // tries sent to it, ever (rates, metrics)
  std::atomic<std::uint32_t> reasons{0};            // bit set of Reason
  PeakEwma latency;                                 // time to response head
  // Passive health (health/outlier.hpp).
  std::atomic<std::uint32_t> consecutive_failures{0};
  std::atomic<std::uint32_t> ejections{0};  // how often it was ejected so far
  std::atomic<Clock::rep> ejected_until{0};
  // The failure ratio's current window (health/outlier.hpp): exchanges in the low 32
  // bits, failures in the high 32, so one relaxed add counts an exchange; the window's
  // start (0 = none yet, or reset by an ejection or a return); and the kind of the latest
  // failure, named in the ejection's cause.
  std::atomic<std::uint64_t> window_counts{0};
  std::atomic<Clock::rep> window_start{0};
  std::atomic<std::uint8_t> last_failure{0};
  // When it last became routable again, for slow start (0 = since the start).
  std::atomic<Clock::rep> routable_since{0};
  std::atomic<std::uint64_t> retries{0};       // requests moved away from it
  std::atomic<std::uint64_t> tls_failures{0};  // TLS handshakes with it that failed (pool tls)
  // Active health check results, written by the health thread only.
  std::atomic<std::uint64_t> checks_passed{0};
  std::atomic<std::uint64_t> checks_failed{0};
  // JSON-RPC head tracking (health thread writes, workers read): the backend's latest
  // block from its jsonrpc check's eth_blockNumber; 0 = not known.
  std::atomic<std::uint64_t> head_block{0};
  // Last, away from the atomics the workers read: cold, and taken only on transitions.
  alignas(64) ReasonNotes notes;

  bool routable() const { return reasons.load(std::memory_order_relaxed) == 0; }
  bool has(Reason r) const {
    return (reasons.load(std::memory_order_relaxed) & static_cast<std::uint32_t>(r)) != 0;
  }
  // Set and clear return the reasons before the change. They leave `notes` alone: use
  // health::change_reason, which keeps both in step.
  std::uint32_t set(Reason r) {
    return reasons.fetch_or(static_cast<std::uint32_t>(r), std::memory_order_relaxed);
  }
  std::uint32_t clear(Reason r) {
    return reasons.fetch_and(~static_cast<std::uint32_t>(r), std::memory_order_relaxed);
  }
};

// Live numbers of a pool, shared like BackendStats and kept across reloads by name.
struct alignas(64) PoolStats {
  std::atomic<std::uint32_t> ejected{0};  // backends ejected now (max_ejected_percent)
  std::atomic<bool> panic{false};         // routing across ejected backends (panic_threshold)
  // jsonrpc checks: the highest head of the pool's backends on the expected chain
  // (health thread writes, the admin thread reads); 0 = not known.
  std::atomic<std::uint64_t> head_block{0};
};

}  // namespace veer::core
