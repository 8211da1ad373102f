#pragma once

#include <string_view>

#include "core/backend_stats.hpp"

namespace veer::health {

// Who a backend is, for log lines.
struct BackendName {
  std::string_view pool;
  std::string_view address;
};

// Sets or clears one reason on a backend. Setting it notes `cause` and the time for the
// API (health/reasons.hpp). When that changes the backend's state (up, down, ejected,
// draining, disabled), logs the transition with `cause`, bumps the routing epoch so
// workers rebuild their candidate lists, and stamps when it became routable again (slow
// start). Thread-safe; takes the notes' mutex, so only for transitions, never per
// request. Returns whether the reason changed.
bool change_reason(core::BackendStats& stats, core::Reason reason, bool set, BackendName who,
                   std::string_view cause);

}  // namespace veer::health
