#include "strategies/weighted.hpp"

#include <unordered_map>

namespace veer::strategies {

SmoothWeighted::SmoothWeighted(std::span<const BackendView> backends)
    : Strategy(kKind), backends_(backends), score_(backends.size(), 0) {}

std::uint32_t SmoothWeighted::pick(const PickContext&, const Candidates& candidates) {
  std::int64_t total = 0;
  std::uint32_t best = candidates[0];
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const std::uint32_t backend = candidates[i];
    const std::int64_t weight = backends_[backend].weight;
    score_[backend] += weight;
    total += weight;
    if (score_[backend] > score_[best]) best = backend;
  }
  score_[best] -= total;
  return best;
}

std::unique_ptr<Strategy> SmoothWeighted::make(const StrategyInputs& inputs) {
  auto strategy = std::make_unique<SmoothWeighted>(inputs.backends);
  if (const SmoothWeighted* previous = inputs.previous_as<SmoothWeighted>()) {
    // Backends keep their identity (their BackendStats) across snapshots.
    std::unordered_map<const core::BackendStats*, std::int64_t> scores;
    for (std::size_t j = 0; j < previous->backends_.size(); ++j) {
      scores.emplace(previous->backends_[j].stats, previous->score_[j]);
    }
    for (std::size_t i = 0; i < inputs.backends.size(); ++i) {
      const auto it = scores.find(inputs.backends[i].stats);
      if (it != scores.end()) strategy->score_[i] = it->second;
    }
  }
  return strategy;
}

}  // namespace veer::strategies
