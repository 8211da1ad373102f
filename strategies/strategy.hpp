#pragma once

// The balancing interface (STYLE.md habits 1 and 2). Eligibility (health, draining,
// weight 0, already tried, backup) is decided before a strategy runs; a strategy only
// chooses among the candidates it is given. One Strategy object lives on one worker
// thread, so per-worker state (cursors, smooth-WRR weights) needs no synchronization;
// anything shared across workers is read from the per-backend atomics in BackendStats.

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "core/backend_stats.hpp"

namespace veer::strategies {

// One backend of a pool as a strategy sees it; the index into this list is the
// backend's identity in pick().
struct BackendView {
  std::string_view address;  // as configured: the stable identity hashing uses
  std::uint32_t weight = 1;
  const core::BackendStats* stats = nullptr;
};

// The backends a request may go to: indices into the pool's backends, plus a bitmap
// of the same set so hashing strategies can test membership in O(1).
class Candidates {
 public:
  Candidates(std::span<const std::uint32_t> indices, std::span<const std::uint64_t> bitmap)
      : indices_(indices), bitmap_(bitmap) {}

  std::size_t size() const { return indices_.size(); }
  bool empty() const { return indices_.empty(); }
  std::uint32_t operator[](std::size_t i) const { return indices_[i]; }
  std::span<const std::uint32_t> indices() const { return indices_; }
  bool contains(std::uint32_t backend) const {
    const std::size_t word = backend / 64;
    return word < bitmap_.size() && ((bitmap_[word] >> (backend % 64)) & 1u) != 0;
  }

 private:
  std::span<const std::uint32_t> indices_;
  std::span<const std::uint64_t> bitmap_;
};

// What a request contributes to a pick.
struct PickContext {
  std::uint64_t key_hash = 0;  // hash of the pool's hash_key material (ip_hash)
};

class Strategy {
 public:
  virtual ~Strategy() = default;
  // Returns one of `candidates` (never called with an empty set). Must not allocate,
  // lock or block: it runs on a worker for every request.
  virtual std::uint32_t pick(const PickContext& context, const Candidates& candidates) = 0;
};

// What a strategy is built from when a worker adopts a new snapshot.
struct StrategyInputs {
  std::span<const BackendView> backends;
  std::uint64_t seed = 0;              // differs per worker so workers do not move in lockstep
  const Strategy* previous = nullptr;  // this worker's strategy for the pool before, if any
  const void* prepared = nullptr;      // what StrategyInfo::prepare built for this snapshot
};

struct StrategyInfo {
  std::string_view name;
  std::string_view summary;
  bool uses_hash_key = false;  // needs PickContext::key_hash (config: hash_key)
  std::unique_ptr<Strategy> (*make)(const StrategyInputs&) = nullptr;
  // Optional: immutable data built once per snapshot on the main thread and shared by
  // every worker's strategy (a consistent-hash table). Null when not needed.
  std::shared_ptr<const void> (*prepare)(std::span<const BackendView> backends) = nullptr;
};

// The name table: TOML name -> constructor and the inputs it needs.
std::span<const StrategyInfo> all_strategies();
const StrategyInfo* find_strategy(std::string_view name);

}  // namespace veer::strategies
