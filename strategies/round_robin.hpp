#pragma once

#include <cstdint>
#include <memory>

#include "strategies/strategy.hpp"

namespace veer::strategies {

// Round robin: each worker walks the candidates with its own cursor, starting at a
// seeded offset so that N workers together stay even instead of all hitting the first
// backend first. O(1) per pick, no shared state. Weights are ignored (use "weighted");
// a backend of weight 0 is never a candidate. A reload keeps the cursor.
class RoundRobin final : public Strategy {
 public:
  static constexpr StrategyKind kKind = StrategyKind::round_robin;

  explicit RoundRobin(std::uint64_t cursor) : Strategy(kKind), cursor_(cursor) {}
  std::uint32_t pick(const PickContext& context, const Candidates& candidates) override;

  static std::unique_ptr<Strategy> make(const StrategyInputs& inputs);

 private:
  std::uint64_t cursor_;
};

}  // namespace veer::strategies
