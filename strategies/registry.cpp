#include <array>

#include "strategies/ip_hash.hpp"
#include "strategies/least_connections.hpp"
#include "strategies/least_response_time.hpp"
#include "strategies/round_robin.hpp"
#include "strategies/strategy.hpp"
#include "strategies/weighted.hpp"

namespace veer::strategies {
namespace {

constexpr std::array kStrategies{
    StrategyInfo{"round_robin", "each backend in turn", false, &RoundRobin::make, nullptr},
    StrategyInfo{"least_connections", "fewest active connections (tunnels included)", false,
                 &LeastConnections::make, nullptr},
    StrategyInfo{"weighted", "smooth weighted round robin", false, &SmoothWeighted::make, nullptr},
    StrategyInfo{"ip_hash", "consistent hashing of a client key (Maglev)", true, &IpHash::make,
                 &IpHash::prepare},
    StrategyInfo{"least_response_time", "peak-EWMA latency x in flight, power of two choices",
                 false, &LeastResponseTime::make, nullptr},
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
