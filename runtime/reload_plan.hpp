#pragma once

// What a reload does besides publishing the new snapshot, worked out from the two
// snapshots (the one in force and the one about to be) and the runtime changes in force:
// which admin holds the backends get, which backends start draining, which split weights
// moved. Pure functions of their arguments; app/server.cpp carries the plan out (reasons
// on BackendStats, log lines, messages to the workers) in its own order.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "conf/duration.hpp"
#include "conf/overrides.hpp"
#include "runtime/snapshot.hpp"

namespace veer::runtime {

// A backend's admin hold as the runtime changes say (conf::AdminState). Every backend of
// the snapshot gets one: a backend no change holds is neither drained nor down, which
// lifts an earlier drain or down, and ends the drain of a backend a reload brings back.
struct AdminHold {
  const PoolRuntime* pool = nullptr;
  const BackendRuntime* backend = nullptr;
  bool drained = false;
  bool down = false;
};
std::vector<AdminHold> admin_holds(const Snapshot& snapshot, const conf::Overrides& changes);

// A backend of the snapshot in force that the next one no longer has. Identity is the
// BackendStats, one per (pool, address) (BackendRegistry): a backend whose pool and
// address stay keeps its stats and is not removed, whatever else about it changed.
struct RemovedBackend {
  const PoolRuntime* pool = nullptr;  // in the snapshot in force
  const BackendRuntime* backend = nullptr;
};
std::vector<RemovedBackend> removed_backends(const Snapshot& previous, const Snapshot& next);

// One target's weight before and after; `from` is 0 for a target the split did not have.
struct WeightMove {
  std::string pool;
  std::uint64_t from = 0;
  std::uint64_t to = 0;
};

// A split of both snapshots whose target weights moved. A split new in `next` has no
// change to announce; a target `next` dropped is not listed (nothing routes to it).
struct SplitWeightChange {
  const SplitRuntime* split = nullptr;  // in `next`
  std::vector<WeightMove> moves;        // in the split's target order
  // Targets that went from a weight above 0 to 0: their WebSocket tunnels close after
  // the split's drain_tunnels_after, when it has one.
  std::vector<std::shared_ptr<const SplitTargetTag>> emptied;
};
std::vector<SplitWeightChange> split_weight_changes(const Snapshot& previous, const Snapshot& next);

// "blue 100 -> 0, green 0 -> 100": the moves as the log line says them.
std::string describe(const std::vector<WeightMove>& moves);

struct ReloadPlan {
  std::vector<AdminHold> holds;         // of `next`
  std::vector<RemovedBackend> removed;  // of `previous`
  conf::Duration drain{};               // how long what uses a removed backend has left
  std::vector<SplitWeightChange> splits;
};

// The whole plan for replacing `previous` with `next` under `changes`. `drain` is an
// admin call's own drain time; without one, next's timeouts.drain.
ReloadPlan plan_reload(const Snapshot& previous, const Snapshot& next,
                       const conf::Overrides& changes, std::optional<conf::Duration> drain);

}  // namespace veer::runtime
