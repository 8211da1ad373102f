#include "health/transitions.hpp"

#include "core/log.hpp"
#include "core/routing_epoch.hpp"
#include "health/reasons.hpp"

namespace veer::health {

bool change_reason(core::BackendStats& stats, core::Reason reason, bool set, BackendName who,
                   std::string_view cause) {
  const auto bit = static_cast<std::uint32_t>(reason);
  const std::uint32_t before =
      change_noted(stats, reason, set, cause, std::chrono::system_clock::now());
  if (((before & bit) != 0) == set) return false;  // already so: nothing changed
  const std::uint32_t after = set ? (before | bit) : (before & ~bit);
  if (after == 0) {
    stats.routable_since.store(core::BackendStats::Clock::now().time_since_epoch().count(),
                               std::memory_order_relaxed);
  }
  core::bump_routing_epoch();
  const char* from = core::state_name(before);
  const char* to = core::state_name(after);
  if (from != to) {
    const auto level = after == 0 ? core::log::Level::info : core::log::Level::warn;
    core::log::emit(level, "backend ", who.address, " of pool ", who.pool, ": ", from, " -> ", to,
                    " (", cause, ")");
  }
  return true;
}

}  // namespace veer::health
