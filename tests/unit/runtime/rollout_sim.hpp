#pragma once

// Simulated traffic for rollout tests: requests at a steady rate, each sent to the canary
// with the step's share and failing or slow with its target's odds, drawn from a seeded
// generator. No sockets, no clock: the tests drive time.

#include <chrono>
#include <cstdint>
#include <random>

#include "runtime/rollout.hpp"

namespace veer::test {

struct TargetBehaviour {
  double error_rate = 0;
  std::chrono::microseconds latency{1000};
};

struct TrafficModel {
  double requests_per_second = 200;
  TargetBehaviour stable;
  TargetBehaviour canary;
};

class SimulatedTraffic {
 public:
  SimulatedTraffic(TrafficModel model, std::uint64_t seed) : model_(model), random_(seed) {}

  // What `ms` of traffic at the canary share `canary_bp` sends each target.
  void run(std::int64_t ms, std::uint32_t canary_bp, runtime::TargetEvidence& stable,
           runtime::TargetEvidence& canary) {
    carry_ += model_.requests_per_second * static_cast<double>(ms) / 1000.0;
    std::uniform_real_distribution<double> unit(0, 1);
    for (; carry_ >= 1; carry_ -= 1) {
      const bool to_canary = unit(random_) * 10000 < canary_bp;
      const TargetBehaviour& b = to_canary ? model_.canary : model_.stable;
      runtime::TargetEvidence& e = to_canary ? canary : stable;
      ++e.requests;
      if (unit(random_) < b.error_rate) ++e.errors;
      // A little spread around the target's latency, so quantiles are not one bucket.
      const double jitter = 0.8 + 0.4 * unit(random_);
      ++e.latency[runtime::latency_bucket(std::chrono::nanoseconds(
          static_cast<std::int64_t>(static_cast<double>(b.latency.count()) * 1000 * jitter)))];
    }
  }

 private:
  TrafficModel model_;
  std::mt19937_64 random_;
  double carry_ = 0;
};

// Runs a rollout on simulated traffic, 100 ms per tick, until it finishes, pauses as
// inconclusive or `limit_ms` of simulated time pass. Returns the simulated time taken.
inline std::int64_t simulate_rollout(const conf::RolloutConfig& config,
                                     runtime::RolloutProgress& progress, SimulatedTraffic& traffic,
                                     std::int64_t limit_ms) {
  constexpr std::int64_t kTick = 100;
  std::int64_t now = 0;
  while (now < limit_ms && !runtime::finished(progress.state) &&
         progress.state != runtime::RolloutState::inconclusive) {
    runtime::TargetEvidence stable, canary;
    traffic.run(kTick, runtime::canary_weight(config, progress), stable, canary);
    now += kTick;
    runtime::tick_rollout(config, progress, stable, canary, kTick, now);
  }
  return now;
}

}  // namespace veer::test
