#pragma once

// What one active check's result does to a backend, apart from the checks' I/O so that it
// is unit-tested with a fake clock: `fall` failures in a row set `down`, `rise` passes
// in a row lift it, and while down each failure replaces the cause the API shows. A
// passing check also ends an ejection whose time is up. Health thread only.

#include <cstdint>

#include "conf/config.hpp"
#include "core/backend_stats.hpp"
#include "health/evaluate.hpp"
#include "health/transitions.hpp"

namespace veer::health {

// Consecutive results of one backend's checks.
struct CheckStreak {
  std::uint32_t passes = 0;
  std::uint32_t failures = 0;
};

// Applies `result`. Returns true while a change of state is being confirmed (the next
// check then comes sooner).
bool record_check(const CheckResult& result, const conf::HealthConfig& config, CheckStreak& streak,
                  core::BackendStats& stats, core::PoolStats& pool, BackendName who,
                  core::BackendStats::Clock::time_point now);

}  // namespace veer::health
