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

#include "proxy/ref_counted.hpp"
#include "proxy/snapshot.hpp"
#include "strategies/strategy.hpp"

namespace veer::proxy {

struct UpstreamSlot;  // a worker's idle connections to one backend address

struct PoolState {
  const PoolRuntime* pool = nullptr;
  std::unique_ptr<strategies::Strategy> strategy;
  std::vector<strategies::BackendView> views;
  std::vector<UpstreamSlot*> slots;  // per backend, in the pool's order

  // Eligible backends, split into primaries and backups (used only when no primary is).
  std::uint64_t epoch = 0;
  std::vector<std::uint32_t> primaries;
  std::vector<std::uint32_t> backups;
  std::vector<std::uint64_t> primary_bits;
  std::vector<std::uint64_t> backup_bits;
};

class WorkerView : public RefCounted<WorkerView> {
 public:
  // `slot_for` maps a backend address to this worker's idle-connection slot (a pointer;
  // unit tests that never connect pass null);
  // `previous` is the view this one replaces (strategy state carries over), if any.
  template <typename SlotFor>
  WorkerView(std::shared_ptr<const Snapshot> snapshot, std::uint64_t seed,
             const WorkerView* previous, SlotFor&& slot_for)
      : snapshot_(std::move(snapshot)) {
    init(seed, previous);
    for (PoolState& state : pools_) {
      for (const BackendRuntime& backend : state.pool->backends) {
        state.slots.push_back(slot_for(backend.endpoint));
      }
    }
  }

  const Snapshot& snapshot() const { return *snapshot_; }
  std::uint64_t version() const { return snapshot_->version; }
  PoolState& pool(std::uint32_t index) { return pools_[index]; }

  // The first route of `listener` matching the request (routes are tried in file
  // order), or nullptr.
  static const RouteRuntime* route(const ListenerRuntime& listener, std::string_view authority,
                                   std::string_view path);

  // A backend index of `pool` for this request, or nullopt when nothing is routable.
  std::optional<std::uint32_t> pick(std::uint32_t pool, const strategies::PickContext& context);

 private:
  void init(std::uint64_t seed, const WorkerView* previous);
  void refresh_candidates(PoolState& state, std::uint64_t epoch);

  std::shared_ptr<const Snapshot> snapshot_;
  std::vector<PoolState> pools_;
};

}  // namespace veer::proxy
