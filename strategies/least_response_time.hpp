#pragma once

#include <chrono>
#include <memory>

#include "core/random.hpp"
#include "strategies/strategy.hpp"

namespace veer::strategies {

// Least response time: power of two choices on cost = peak-EWMA latency x (requests in
// flight + 1). Two random candidates are compared and the cheaper wins, which follows
// latency and load without herding every worker onto the single best backend.
// Latency is the time to the response head, in BackendStats::latency (shared by
// workers, decaying with time so an idle slow backend is eventually tried again). A
// backend with no sample takes the other candidate's estimate: neutral, so it is
// tried on in-flight count alone. O(1) per pick: two random draws, four atomic loads.
// Sources: Finagle PeakEwma, tower peak_ewma; Mitzenmacher, The Power of Two Choices.
class LeastResponseTime final : public Strategy {
 public:
  static constexpr StrategyKind kKind = StrategyKind::least_response_time;

  using Clock = std::chrono::steady_clock;
  using Now = Clock::time_point (*)();

  LeastResponseTime(std::span<const BackendView> backends, std::uint64_t seed, Now now)
      : Strategy(kKind), backends_(backends), random_(seed), now_(now) {}
  std::uint32_t pick(const PickContext& context, const Candidates& candidates) override;

  static std::unique_ptr<Strategy> make(const StrategyInputs& inputs);

 private:
  double cost(std::uint32_t backend, double estimate) const;

  std::span<const BackendView> backends_;
  core::Random random_;
  Now now_;  // injectable for tests
};

}  // namespace veer::strategies
