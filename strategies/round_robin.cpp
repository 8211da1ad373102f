#include "strategies/round_robin.hpp"

namespace veer::strategies {

std::uint32_t RoundRobin::pick(const PickContext&, const Candidates& candidates) {
  return candidates[cursor_++ % candidates.size()];
}

std::unique_ptr<Strategy> RoundRobin::make(const StrategyInputs& inputs) {
  return std::make_unique<RoundRobin>(inputs.seed);
}

}  // namespace veer::strategies
