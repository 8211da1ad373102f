#pragma once

// Why a backend is out, for people: every reason set on it with the cause given when it
// was set (for `down`, the last failed check's) and since when, kept in
// BackendStats::notes beside the lock-free bit set. The admin thread reads it for
// GET /api/v1/pools; transitions and the health thread write it. Never on the request
// path: each call takes the notes' mutex and may allocate.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/backend_stats.hpp"

namespace veer::health {

struct ReasonNote {
  std::string reason;  // core::reason_name
  std::string cause;   // as given when set; "" when set without change_reason
  std::chrono::system_clock::time_point since;                 // when set (epoch when unknown)
  std::optional<std::chrono::system_clock::time_point> until;  // ejected: when it may return
};

// Every reason set on `stats`, in the order down, ejected, draining, disabled; empty when
// routable. Thread-safe (admin thread).
std::vector<ReasonNote> reasons_of(const core::BackendStats& stats);
// Same, with the clocks' readings given (tests): `until` is ejected_until (steady) moved
// onto the system clock as `system_now + (ejected_until - steady_now)`.
std::vector<ReasonNote> reasons_of(const core::BackendStats& stats,
                                   std::chrono::steady_clock::time_point steady_now,
                                   std::chrono::system_clock::time_point system_now);

// Sets or clears `reason` and, when this sets it, notes `cause` and `now`, under the
// notes' lock so that a note always describes the bit it belongs to. Returns the
// reasons before. The building block of change_reason (health/transitions.hpp), which
// also logs and bumps the routing epoch: call that instead.
std::uint32_t change_noted(core::BackendStats& stats, core::Reason reason, bool set,
                           std::string_view cause, std::chrono::system_clock::time_point now);

// Replaces the cause of `reason` when it is set, keeping since when (the health thread,
// on each failed check of a backend already down). Returns whether it was set.
bool update_cause(core::BackendStats& stats, core::Reason reason, std::string_view cause);

// "2026-12-06T12:00:00Z": UTC to the second, as the admin API writes times.
std::string utc_text(std::chrono::system_clock::time_point at);

}  // namespace veer::health
