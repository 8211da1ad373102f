#include "strategies/round_robin.hpp"

namespace veer::strategies {

std::uint32_t RoundRobin::pick(const PickContext&, const Candidates& candidates) {
  return candidates[cursor_++ % candidates.size()];
}

std::unique_ptr<Strategy> RoundRobin::make(const StrategyInputs& inputs) {
  const RoundRobin* previous = inputs.previous_as<RoundRobin>();
  return std::make_unique<RoundRobin>(previous != nullptr ? previous->cursor_ : inputs.seed);
}

}  // namespace veer::strategies
