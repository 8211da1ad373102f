#include <array>

#include "strategies/round_robin.hpp"
#include "strategies/strategy.hpp"

namespace veer::strategies {
namespace {

constexpr std::array kStrategies{
    StrategyInfo{"round_robin", "each backend in turn", false, &RoundRobin::make},
};

}  // namespace

std::span<const StrategyInfo> all_strategies() {
  return kStrategies;
}

const StrategyInfo* find_strategy(std::string_view name) {
  for (const StrategyInfo& info : kStrategies) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

}  // namespace veer::strategies
