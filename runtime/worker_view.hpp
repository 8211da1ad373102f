#pragma once

// One worker's view of a snapshot: its own strategy objects (cursors and other
// per-worker state need no locks) and cached candidate lists, rebuilt only when the
// routing epoch moves. Confined to the worker thread; requests hold a Ref so that a
// snapshot swap never pulls the view out from under an exchange in flight.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/random.hpp"
#include "core/ref_counted.hpp"
#include "runtime/metrics.hpp"
#include "runtime/retry_budget.hpp"
#include "runtime/snapshot.hpp"
#include "strategies/strategy.hpp"

namespace veer::runtime {

struct PoolState {
  const PoolRuntime* pool = nullptr;
  std::unique_ptr<strategies::Strategy> strategy;
  std::vector<strategies::BackendView> views;
  // Per backend, in the pool's order: the data plane's number for the backend's
  // address (its idle connections), so that a pick needs no lookup by address.
  std::vector<std::uint32_t> slot_ids;

  // Eligible backends, split into primaries and backups (used only when no primary is).
  std::uint64_t epoch = 0;
  std::vector<std::uint32_t> primaries;
  std::vector<std::uint32_t> backups;
  std::vector<std::uint64_t> primary_bits;
  std::vector<std::uint64_t> backup_bits;
  bool panic = false;          // too few primaries routable: ejected ones are candidates too
  std::uint32_t routable = 0;  // primaries routable without panic

  // Scratch for picks that leave some candidates out (retries, slow start), sized once.
  std::vector<std::uint32_t> filtered;
  std::vector<std::uint64_t> filtered_bits;
  core::Random random{0};
  RetryBudget retry_budget;  // carried over from the previous view of the same pool
};

// The bit of backend `index` in a pick's exclusion mask. Pools of more than 64
// backends share bits, so a retry may also skip an untried backend: harmless.
constexpr std::uint64_t exclusion_bit(std::uint32_t index) {
  return std::uint64_t{1} << (index % 64);
}

class WorkerView : public core::RefCounted<WorkerView> {
 public:
  // `slot_id` maps a backend address to the number of this worker's idle-connection
  // slot for it (unit tests that never connect pass any number); `workers` share each retry
  // budget's reserve; `previous` is the view this one replaces (strategy state and retry budgets
  // carry over), if any.
  template <typename SlotId>
  WorkerView(std::shared_ptr<const Snapshot> snapshot, std::uint64_t seed, std::uint32_t workers,
             const WorkerView* previous, SlotId&& slot_id)
      : snapshot_(std::move(snapshot)) {
    init(seed, workers, previous);
    for (PoolState& state : pools_) {
      for (const BackendRuntime& backend : state.pool->backends) {
        state.slot_ids.push_back(slot_id(backend.endpoint));
      }
    }
  }

  const Snapshot& snapshot() const { return *snapshot_; }
  std::uint64_t version() const { return snapshot_->version; }
  PoolState& pool(std::uint32_t index) { return pools_[index]; }
  // This worker's counters for this snapshot; null when metrics are off.
  const MetricsView* metrics() const { return metrics_.get(); }
  void set_metrics(std::unique_ptr<MetricsView> metrics) { metrics_ = std::move(metrics); }
  // Draws buckets for splits with sticky = "none".
  core::Random& split_random() { return split_random_; }

  // The first route of `listener` matching the request (routes are tried in file
  // order), or nullptr.
  static const RouteRuntime* route(const ListenerRuntime& listener, std::string_view authority,
                                   std::string_view path);

  // A backend index of `pool` for this request, or nullopt when nothing is routable.
  // `excluded` (exclusion_bit of each) leaves out backends already tried. Runs the
  // eligibility rules around the strategy: backups only when no primary is routable,
  // panic mode, slow start. Without `panic_ok`, a pool whose every primary is ejected
  // answers nullopt rather than route in panic (a split fails over to another pool
  // first).
  std::optional<std::uint32_t> pick(std::uint32_t pool, const strategies::PickContext& context,
                                    std::uint64_t excluded = 0, bool panic_ok = true);

 private:
  void init(std::uint64_t seed, std::uint32_t workers, const WorkerView* previous);
  void refresh_candidates(PoolState& state, std::uint64_t epoch);
  static strategies::Candidates filter(PoolState& state, const strategies::Candidates& from,
                                       std::uint64_t excluded);
  static bool admit_cold(PoolState& state, std::uint32_t backend);

  std::shared_ptr<const Snapshot> snapshot_;
  std::vector<PoolState> pools_;
  core::Random split_random_{0};
  std::unique_ptr<MetricsView> metrics_;
};

}  // namespace veer::runtime
