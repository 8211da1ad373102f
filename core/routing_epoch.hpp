#pragma once

#include <atomic>
#include <cstdint>

namespace veer::core {

// Bumped whenever any backend's eligibility may have changed (a reason set or cleared,
// a weight moved). Workers compare it with the epoch of their cached candidate lists
// and rebuild them only then, so the request path reads one shared word per pick
// instead of every backend's state.
inline std::atomic<std::uint64_t> routing_epoch{1};

inline void bump_routing_epoch() {
  routing_epoch.fetch_add(1, std::memory_order_release);
}

}  // namespace veer::core
