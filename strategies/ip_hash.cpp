#include "strategies/ip_hash.hpp"

#include <algorithm>
#include <numeric>

#include "core/hash.hpp"

namespace veer::strategies {
namespace {

// How far a key walks the table looking for an eligible backend before it settles for
// hashing over the candidates directly. With k of n backends ineligible a walk ends
// after n/(n-k) slots on average; 64 only matters when nearly everything is down.
constexpr std::uint32_t kMaxWalk = 64;
constexpr std::uint32_t kNoBackend = ~0u;

}  // namespace

IpHash::Table IpHash::build(std::span<const BackendView> backends) {
  Table table;
  std::vector<std::uint32_t> order(backends.size());
  std::iota(order.begin(), order.end(), 0u);
  // Order by address, so the table never depends on where a backend is in the file.
  std::sort(order.begin(), order.end(), [&](std::uint32_t a, std::uint32_t b) {
    return backends[a].address < backends[b].address;
  });
  std::uint32_t max_weight = 0;
  for (const BackendView& b : backends)
    max_weight = std::max(max_weight, b.weight);
  if (max_weight == 0) return table;

  table.slots.assign(kTableSize, kNoBackend);
  std::vector<std::uint64_t> offset(backends.size()), skip(backends.size()),
      next(backends.size(), 0), filled(backends.size(), 0);
  for (std::uint32_t i : order) {
    offset[i] = core::hash_bytes(backends[i].address, 0x6d61676c6576ULL) % kTableSize;
    skip[i] = core::hash_bytes(backends[i].address, 0x736b6970ULL) % (kTableSize - 1) + 1;
  }
  std::uint64_t taken = 0;
  for (std::uint64_t round = 1; taken < kTableSize; ++round) {
    for (std::uint32_t i : order) {
      // A backend of weight w takes w/max_weight of a slot per round on average.
      if (filled[i] * max_weight >= round * backends[i].weight) continue;
      std::uint64_t slot = (offset[i] + next[i] * skip[i]) % kTableSize;
      while (table.slots[slot] != kNoBackend) {
        ++next[i];
        slot = (offset[i] + next[i] * skip[i]) % kTableSize;
      }
      table.slots[slot] = i;
      ++next[i];
      ++filled[i];
      if (++taken == kTableSize) break;
    }
  }
  return table;
}

Prepared IpHash::prepare(std::span<const BackendView> backends) {
  return std::make_shared<const Table>(build(backends));
}

std::uint32_t IpHash::pick(const PickContext& context, const Candidates& candidates) {
  const std::vector<std::uint32_t>& slots = table_->slots;
  if (!slots.empty()) {
    const auto start = static_cast<std::uint32_t>(context.key_hash % kTableSize);
    for (std::uint32_t step = 0; step < kMaxWalk; ++step) {
      const std::uint32_t slot =
          start + step < kTableSize ? start + step : start + step - kTableSize;
      const std::uint32_t backend = slots[slot];
      if (candidates.contains(backend)) return backend;
    }
  }
  return candidates[static_cast<std::size_t>(context.key_hash % candidates.size())];
}

std::unique_ptr<Strategy> IpHash::make(const StrategyInputs& inputs) {
  const auto* prepared = std::get_if<std::shared_ptr<const Table>>(&inputs.prepared);
  if (prepared != nullptr && *prepared != nullptr) return std::make_unique<IpHash>(*prepared);
  // Not prepared (a caller that skipped prepare): the same table, built for this one
  // strategy, so that keys still map consistently.
  return std::make_unique<IpHash>(std::make_shared<const Table>(build(inputs.backends)));
}

}  // namespace veer::strategies
