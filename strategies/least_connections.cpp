#include "strategies/least_connections.hpp"

namespace veer::strategies {

std::uint32_t LeastConnections::pick(const PickContext&, const Candidates& candidates) {
  std::uint32_t best = candidates[0];
  std::int64_t fewest = backends_[best].stats->active_connections.load(std::memory_order_relaxed);
  std::uint32_t ties = 1;
  for (std::size_t i = 1; i < candidates.size(); ++i) {
    const std::uint32_t backend = candidates[i];
    const std::int64_t count =
        backends_[backend].stats->active_connections.load(std::memory_order_relaxed);
    if (count < fewest) {
      best = backend;
      fewest = count;
      ties = 1;
    } else if (count == fewest && random_.below(++ties) == 0) {
      best = backend;  // reservoir sampling: each of the tied is chosen with 1/ties
    }
  }
  return best;
}

std::unique_ptr<Strategy> LeastConnections::make(const StrategyInputs& inputs) {
  return std::make_unique<LeastConnections>(inputs.backends, inputs.seed);
}

}  // namespace veer::strategies
