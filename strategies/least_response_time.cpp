#include "strategies/least_response_time.hpp"

namespace veer::strategies {

double LeastResponseTime::cost(std::uint32_t backend, double estimate) const {
  const auto in_flight = backends_[backend].stats->in_flight.load(std::memory_order_relaxed);
  return estimate * static_cast<double>(in_flight + 1);
}

std::uint32_t LeastResponseTime::pick(const PickContext&, const Candidates& candidates) {
  const auto n = static_cast<std::uint32_t>(candidates.size());
  if (n == 1) return candidates[0];
  const std::uint32_t first = random_.below(n);
  std::uint32_t second = random_.below(n - 1);
  if (second >= first) ++second;  // two distinct candidates
  const std::uint32_t a = candidates[first];
  const std::uint32_t b = candidates[second];
  const Clock::time_point now = now_();
  double ea = backends_[a].stats->latency.estimate_ns(now, core::kLatencyDecayNs);
  double eb = backends_[b].stats->latency.estimate_ns(now, core::kLatencyDecayNs);
  if (ea < 0 && eb < 0) ea = eb = 1;  // neither sampled yet: in-flight decides
  if (ea < 0) ea = eb;
  if (eb < 0) eb = ea;
  return cost(a, ea) <= cost(b, eb) ? a : b;
}

std::unique_ptr<Strategy> LeastResponseTime::make(const StrategyInputs& inputs) {
  return std::make_unique<LeastResponseTime>(inputs.backends, inputs.seed, &Clock::now);
}

}  // namespace veer::strategies
