#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "strategies/strategy.hpp"

namespace veer::strategies {

// Smooth weighted round robin (nginx): every pick adds each candidate's weight to its
// running score, takes the highest score and subtracts the total weight from it. The
// heavy backend's turns are spread out (weights 5,1,1 give a a b a c a a, never five in
// a row) and over any whole cycle each backend gets exactly weight/total of the picks.
// O(n) per pick with per-worker scores, no shared state. A reload keeps the scores of
// the backends that stay, so moving one weight does not reset the others.
// Source: nginx commit 52327e0, ngx_http_upstream_round_robin.c.
class SmoothWeighted final : public Strategy {
 public:
  static constexpr StrategyKind kKind = StrategyKind::weighted;

  explicit SmoothWeighted(std::span<const BackendView> backends);
  std::uint32_t pick(const PickContext& context, const Candidates& candidates) override;

  static std::unique_ptr<Strategy> make(const StrategyInputs& inputs);

 private:
  std::span<const BackendView> backends_;
  std::vector<std::int64_t> score_;  // per backend of the pool
};

}  // namespace veer::strategies
