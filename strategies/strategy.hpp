#pragma once

// The balancing interface: one small interface and one file pair per strategy, so a new
// algorithm adds a file pair, a StrategyKind and a row of the name table, and touches
// nothing else. Eligibility (health, draining, weight 0, already tried, backup) is
// decided before a strategy runs, in one place for every strategy; a strategy only
// chooses among the candidates it is given. One Strategy object lives on one worker
// thread, so per-worker state (cursors, smooth-WRR weights) needs no synchronization;
// anything shared across workers is read from the per-backend atomics in BackendStats.

#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <variant>

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

// Which class a Strategy object is, so that a new strategy can take over the state of
// the one it replaces (StrategyInputs::previous_as) by comparing a word, not by RTTI.
enum class StrategyKind : std::uint8_t {
  round_robin,
  least_connections,
  weighted,
  ip_hash,
  least_response_time,
};

class Strategy {
 public:
  explicit Strategy(StrategyKind kind) : kind_(kind) {}
  virtual ~Strategy() = default;
  StrategyKind kind() const { return kind_; }
  // Returns one of `candidates` (never called with an empty set). Must not allocate,
  // lock or block: it runs on a worker for every request.
  virtual std::uint32_t pick(const PickContext& context, const Candidates& candidates) = 0;

 private:
  StrategyKind kind_;
};

struct MaglevTable;  // strategies/ip_hash.hpp

// Immutable data a strategy builds once per snapshot on the main thread and every
// worker's strategy shares (a consistent-hash table): one alternative per strategy
// that prepares something. A strategy takes out its own alternative by type and keeps
// a share of it, so what it reads lives as long as it does, whoever else lets go.
using Prepared = std::variant<std::monostate, std::shared_ptr<const MaglevTable>>;

// What a strategy is built from when a worker adopts a new snapshot.
struct StrategyInputs {
  std::span<const BackendView> backends;
  std::uint64_t seed = 0;              // differs per worker so workers do not move in lockstep
  const Strategy* previous = nullptr;  // this worker's strategy for the pool before, if any
  Prepared prepared = {};              // what StrategyInfo::prepare built for this snapshot

  // `previous` when it is an S (whose per-worker state a new S carries over), else null.
  template <class S>
  const S* previous_as() const {
    return previous != nullptr && previous->kind() == S::kKind ? static_cast<const S*>(previous)
                                                               : nullptr;
  }
};

struct StrategyInfo {
  std::string_view name;
  std::string_view summary;
  bool uses_hash_key = false;  // needs PickContext::key_hash (config: hash_key)
  std::unique_ptr<Strategy> (*make)(const StrategyInputs&) = nullptr;
  // Optional: builds StrategyInputs::prepared. Null when the strategy needs nothing.
  Prepared (*prepare)(std::span<const BackendView> backends) = nullptr;
};

// The name table: TOML name -> constructor and the inputs it needs.
std::span<const StrategyInfo> all_strategies();
const StrategyInfo* find_strategy(std::string_view name);

}  // namespace veer::strategies
