#pragma once

#include <memory>

#include "core/random.hpp"
#include "strategies/strategy.hpp"

namespace veer::strategies {

// Least connections: the candidate with the fewest active connections, counted across
// all workers (BackendStats::active_connections; a WebSocket tunnel counts for its
// whole life), ties broken uniformly at random so that equal backends share new
// connections instead of the first one taking them all. O(n) relaxed loads per pick;
// exact rather than sampled because long-lived connections make every imbalance
// last. Workers picking at the same instant can both choose the same backend, which
// bounds the spread at 1 + workers. Weights are ignored.
// Source: HAProxy leastconn (lb_fwlc.c), Envoy least_request.
class LeastConnections final : public Strategy {
 public:
  static constexpr StrategyKind kKind = StrategyKind::least_connections;

  explicit LeastConnections(std::span<const BackendView> backends, std::uint64_t seed)
      : Strategy(kKind), backends_(backends), random_(seed) {}
  std::uint32_t pick(const PickContext& context, const Candidates& candidates) override;

  static std::unique_ptr<Strategy> make(const StrategyInputs& inputs);

 private:
  std::span<const BackendView> backends_;
  core::Random random_;
};

}  // namespace veer::strategies
