#pragma once

// The statistics of a progressive rollout (docs/RELEASES.md, "Automated rollouts"): what
// the proxy saw of a split's stable and canary targets during one step, and the
// sequential, anytime-valid judgement of each guard on it. Pure functions of counts, so
// the controller may look after every tick (or every request) without raising the
// false-alarm rate, and a restart that restores the counts restores the evidence.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

#include "conf/config.hpp"

namespace veer::runtime {

// Response times in log-linear buckets: below 16 µs one bucket per microsecond, then 16
// buckets per power of two of microseconds (about 4 % wide) up to 2^26 µs (67 s); the
// last bucket takes everything slower. Fine enough to tell 25 ms apart at any quantile.
inline constexpr std::size_t kLatencyBuckets = 16 + 16 * 22 + 1;
// Worker thread: the bucket of one response time. Allocation-free, no floating point.
std::size_t latency_bucket(std::chrono::nanoseconds elapsed);
// The bucket's upper bound in milliseconds (infinity for the last).
double latency_bucket_upper_ms(std::size_t bucket);

// One target's answers during one step: every answer counted once (HTTP exchange, or
// WebSocket upgrade), `errors` those that count against the target (5xx, connection
// failures and timeouts; on JSON-RPC routes also a server-class JSON-RPC error).
struct TargetEvidence {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  std::array<std::uint64_t, kLatencyBuckets> latency{};

  double error_ratio() const;  // 0 without requests
  // The q-quantile's bucket upper bound in ms; NaN without requests.
  double quantile_ms(double q) const;
  // Answers slower than `threshold_ms` (whole buckets above the threshold's bucket).
  std::uint64_t slower_than(double threshold_ms) const;
  void add(const TargetEvidence& more);
  friend bool operator==(const TargetEvidence&, const TargetEvidence&) = default;
};

enum class Verdict : std::uint8_t {
  pending,  // not enough evidence either way yet
  pass,     // the canary is within the tolerance, at confidence 1 - alpha
  fail,     // the canary is outside it, at confidence 1 - alpha
};
const char* to_string(Verdict verdict);

// A confidence interval for a Bernoulli rate that holds at every sample size at once
// (a confidence sequence): P(the rate ever leaves it) <= alpha.
struct Interval {
  double low = 0;
  double high = 1;
};
Interval rate_confidence(std::uint64_t trials, std::uint64_t successes, double alpha);

struct GuardJudgement {
  Verdict verdict = Verdict::pending;
  // error_ratio: the interval on (canary - stable) error ratio, compared with the
  // tolerance. latency: the interval on the share of canary answers slower than
  // `threshold_ms`, compared with `limit` = 1 - quantile.
  Interval bound;
  double limit = 0;
  double stable_value = 0;  // error ratio, or the quantile in ms (NaN when unknown)
  double canary_value = 0;
  double threshold_ms = 0;  // latency only: the stable's quantile + tolerance
};

GuardJudgement judge_error_ratio(const TargetEvidence& stable, const TargetEvidence& canary,
                                 const conf::ErrorGuardConfig& guard);
GuardJudgement judge_latency(const TargetEvidence& stable, const TargetEvidence& canary,
                             const conf::LatencyGuardConfig& guard);

}  // namespace veer::runtime
