#include "health/heads.hpp"

#include <algorithm>
#include <string>

namespace veer::health {

std::optional<std::uint64_t> PoolHeads::expected_chain(const conf::HealthConfig& config) const {
  if (config.chain_id) return config.chain_id;
  std::map<std::uint64_t, std::size_t> votes;  // ordered: ties go to the lowest id
  for (const auto& [key, node] : nodes_) {
    if (node.chain_id) ++votes[*node.chain_id];
  }
  std::optional<std::uint64_t> best;
  std::size_t most = 0;
  for (const auto& [chain, count] : votes) {
    if (count > most) {
      best = chain;
      most = count;
    }
  }
  return best;
}

std::uint64_t PoolHeads::highest(const conf::HealthConfig& config) const {
  const std::optional<std::uint64_t> chain = expected_chain(config);
  std::uint64_t highest = 0;
  for (const auto& [key, node] : nodes_) {
    if (!node.chain_id || !chain || *node.chain_id == *chain)
      highest = std::max(highest, node.head);
  }
  return highest;
}

void PoolHeads::judge(Key backend, const conf::HealthConfig& config, CheckResult& result,
                      HeadWatch& watch, std::chrono::steady_clock::time_point now) {
  Node& node = nodes_[backend];
  if (result.chain_id) node.chain_id = result.chain_id;
  if (!result.block) return;
  node.head = *result.block;
  const std::uint64_t block = *result.block;
  if (!watch.seen || watch.head != block) watch = HeadWatch{block, now, true};
  if (!result.ok) return;
  const std::optional<std::uint64_t> chain = expected_chain(config);
  if (node.chain_id && chain && *node.chain_id != *chain) {
    result.ok = false;
    result.cause =
        "chain id " + std::to_string(*node.chain_id) + ", expected " + std::to_string(*chain);
    return;
  }
  const std::uint64_t top = highest(config);
  if (config.max_lag_blocks != 0 && block + config.max_lag_blocks < top) {
    result.ok = false;
    result.cause = "lagging: block " + std::to_string(block) + ", pool's highest " +
                   std::to_string(top) + ", max_lag_blocks " +
                   std::to_string(config.max_lag_blocks);
    return;
  }
  const auto unchanged = now - watch.since;
  if (config.stall_timeout.count() > 0 && unchanged >= config.stall_timeout) {
    result.ok = false;
    result.cause =
        "stalled: head " + std::to_string(block) + " unchanged for " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(unchanged).count()) + "s";
  }
}

}  // namespace veer::health
