#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>

namespace veer::health {

// Why a backend is not eligible for new traffic. A backend is routable when no reason
// is set (STYLE.md habit 5: health is a set of reasons, not a single flag).
enum class Reason : std::uint32_t {
  draining = 1u << 0,  // removed by a reload (later also by the admin API)
};

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
  std::atomic<std::int64_t> active_connections{0};  // upstream connections, tunnels included
  std::atomic<std::int64_t> in_flight{0};           // requests sent, response not finished
  std::atomic<std::uint32_t> reasons{0};            // bit set of Reason
  PeakEwma latency;                                 // time to response head

  bool routable() const { return reasons.load(std::memory_order_relaxed) == 0; }
  void set(Reason r) { reasons.fetch_or(static_cast<std::uint32_t>(r), std::memory_order_relaxed); }
  void clear(Reason r) {
    reasons.fetch_and(~static_cast<std::uint32_t>(r), std::memory_order_relaxed);
  }
};

}  // namespace veer::health
