#include "health/rise_fall.hpp"

#include <string>

#include "health/outlier.hpp"
#include "health/reasons.hpp"

namespace veer::health {
namespace {

bool record_pass(const CheckResult& result, const conf::HealthConfig& config, CheckStreak& streak,
                 core::BackendStats& stats, core::PoolStats& pool, BackendName who,
                 core::BackendStats::Clock::time_point now) {
  streak.failures = 0;
  ++streak.passes;
  // An ejected backend whose time is up comes back with its first passing check.
  if (stats.has(core::Reason::ejected) &&
      now.time_since_epoch().count() >= stats.ejected_until.load(std::memory_order_relaxed)) {
    end_ejection(stats, pool, who, "ejection over and a check passed");
  }
  if (!stats.has(core::Reason::down)) return false;
  if (streak.passes < config.rise) return true;
  change_reason(stats, core::Reason::down, false, who,
                std::to_string(streak.passes) + " consecutive passing checks: " + result.cause);
  return false;
}

bool record_failure(const CheckResult& result, const conf::HealthConfig& config,
                    CheckStreak& streak, core::BackendStats& stats, BackendName who) {
  streak.passes = 0;
  ++streak.failures;
  // While down, the API shows the last failed check's cause (a node falling further
  // behind, a refusal turning into a timeout), not only the one that took it down.
  if (update_cause(stats, core::Reason::down, result.cause)) return false;
  if (streak.failures < config.fall) return true;
  change_reason(stats, core::Reason::down, true, who,
                std::to_string(streak.failures) + " consecutive failed checks: " + result.cause);
  // The log line counts the failures; the API's cause is the check's own, as above.
  update_cause(stats, core::Reason::down, result.cause);
  return false;
}

}  // namespace

bool record_check(const CheckResult& result, const conf::HealthConfig& config, CheckStreak& streak,
                  core::BackendStats& stats, core::PoolStats& pool, BackendName who,
                  core::BackendStats::Clock::time_point now) {
  (result.ok ? stats.checks_passed : stats.checks_failed).fetch_add(1, std::memory_order_relaxed);
  return result.ok ? record_pass(result, config, streak, stats, pool, who, now)
                   : record_failure(result, config, streak, stats, who);
}

}  // namespace veer::health
