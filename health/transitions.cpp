#include "health/transitions.hpp"

#include "health/reasons.hpp"
#include "health/routing_epoch.hpp"
#include "proxy/log.hpp"

namespace veer::health {

bool change_reason(BackendStats& stats, Reason reason, bool set, BackendName who,
                   std::string_view cause) {
  const auto bit = static_cast<std::uint32_t>(reason);
  const std::uint32_t before =
      change_noted(stats, reason, set, cause, std::chrono::system_clock::now());
  if (((before & bit) != 0) == set) return false;  // already so: nothing changed
  const std::uint32_t after = set ? (before | bit) : (before & ~bit);
  if (after == 0) {
    stats.routable_since.store(BackendStats::Clock::now().time_since_epoch().count(),
                               std::memory_order_relaxed);
  }
  bump_routing_epoch();
  const char* from = state_name(before);
  const char* to = state_name(after);
  if (from != to) {
    const auto level = after == 0 ? log::Level::info : log::Level::warn;
    log::emit(level, "backend ", who.address, " of pool ", who.pool, ": ", from, " -> ", to, " (",
              cause, ")");
  }
  return true;
}

}  // namespace veer::health
