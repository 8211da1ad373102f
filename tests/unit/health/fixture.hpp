#pragma once

// What the health tests share: an HTTP check's configuration, and a pool of four
// backends whose passive outcomes are recorded by hand.

#include <chrono>
#include <cstddef>
#include <vector>

#include "conf/config.hpp"
#include "core/backend_stats.hpp"
#include "health/outlier.hpp"

// An inner namespace, so that these names never meet the library's.
namespace veer::health::unit {

using Clock = core::BackendStats::Clock;

inline conf::HealthConfig http_check() {
  conf::HealthConfig config;
  config.path = "/health";
  return config;
}

struct Pool {
  conf::OutlierConfig config;
  core::PoolStats stats;
  std::vector<core::BackendStats> backends{4};
};

// One failed exchange on `backend`; true when it ejected the backend.
inline bool fail(Pool& pool, std::size_t backend, Outcome outcome = Outcome::connect_failed,
                 Clock::time_point now = Clock::now()) {
  return record_outcome(outcome, pool.backends[backend], pool.stats, &pool.config,
                        pool.backends.size(), BackendName{"rpc", "127.0.0.1:1"}, now);
}

}  // namespace veer::health::unit
