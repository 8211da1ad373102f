#pragma once

#include <atomic>
#include <cstdint>

namespace veer::health {

// Why a backend is not eligible for new traffic. A backend is routable when no reason
// is set (STYLE.md habit 5: health is a set of reasons, not a single flag).
enum class Reason : std::uint32_t {
  draining = 1u << 0,  // removed by a reload (later also by the admin API)
};

// Live numbers of one backend, shared by every worker and kept across snapshots while
// the backend stays in the configuration. Each field is a lone atomic written with
// relaxed ordering: strategies need fresh-enough values, not a consistent cut.
// Aligned to a cache line so two backends never share one between cores.
struct alignas(64) BackendStats {
  std::atomic<std::int64_t> active_connections{0};  // upstream connections, tunnels included
  std::atomic<std::int64_t> in_flight{0};           // requests sent, response not finished
  std::atomic<std::uint32_t> reasons{0};            // bit set of Reason

  bool routable() const { return reasons.load(std::memory_order_relaxed) == 0; }
  void set(Reason r) { reasons.fetch_or(static_cast<std::uint32_t>(r), std::memory_order_relaxed); }
  void clear(Reason r) {
    reasons.fetch_and(~static_cast<std::uint32_t>(r), std::memory_order_relaxed);
  }
};

}  // namespace veer::health
