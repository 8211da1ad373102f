#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "strategies/strategy.hpp"

namespace veer::strategies {

// Consistent hashing with a Maglev table (Eisenbud et al., NSDI 2016, section 3.4):
// each backend fills table slots in its own pseudo-random order, turns proportional to
// its weight, until all 65,537 slots are owned; a key's hash picks a slot. Removing one
// of N backends moves only the keys it owned (about 1/N of them, plus a little Maglev
// churn); adding it back restores them, because the table depends only on the set of
// (address, weight) pairs, never on file order or worker. When a key's owner is not
// eligible the key walks on through the table from its slot, its own consistent order.
// Pick: one table read plus a bitmap test, O(1). The table is built once per snapshot
// (about 1 ms for 100 backends) and shared read-only by every worker.
class IpHash final : public Strategy {
 public:
  static constexpr std::uint32_t kTableSize = 65537;  // prime, as the paper requires
  struct Table {
    std::vector<std::uint32_t> slots;  // backend index per slot; empty when no weight
  };

  explicit IpHash(const Table& table) : table_(table) {}
  std::uint32_t pick(const PickContext& context, const Candidates& candidates) override;

  static std::unique_ptr<Strategy> make(const StrategyInputs& inputs);
  static std::shared_ptr<const void> prepare(std::span<const BackendView> backends);
  static Table build(std::span<const BackendView> backends);

 private:
  const Table& table_;
};

}  // namespace veer::strategies
