#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "strategies/strategy.hpp"

namespace veer::strategies {

// IpHash's lookup table, prepared once per snapshot (the Prepared alternative of ip_hash).
struct MaglevTable {
  static constexpr std::uint32_t kSize = 65537;  // prime, as the paper requires
  std::vector<std::uint32_t> slots;              // backend index per slot; empty when no weight
};

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
  static constexpr StrategyKind kKind = StrategyKind::ip_hash;
  static constexpr std::uint32_t kTableSize = MaglevTable::kSize;
  using Table = MaglevTable;

  explicit IpHash(std::shared_ptr<const Table> table) : Strategy(kKind), table_(std::move(table)) {}
  std::uint32_t pick(const PickContext& context, const Candidates& candidates) override;

  static std::unique_ptr<Strategy> make(const StrategyInputs& inputs);
  static Prepared prepare(std::span<const BackendView> backends);
  static Table build(std::span<const BackendView> backends);

 private:
  // Shared with the snapshot that prepared it and the other workers' IpHash; never null.
  std::shared_ptr<const Table> table_;
};

}  // namespace veer::strategies
