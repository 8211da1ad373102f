#include "runtime/reload_plan.hpp"

#include <set>

namespace veer::runtime {

std::vector<AdminHold> admin_holds(const Snapshot& snapshot, const conf::Overrides& changes) {
  std::vector<AdminHold> holds;
  for (const PoolRuntime& pool : snapshot.pools) {
    for (const BackendRuntime& backend : pool.backends) {
      const conf::BackendChange* change = changes.find(pool.name, backend.address);
      const conf::AdminState state = change ? change->state : conf::AdminState::none;
      holds.push_back(AdminHold{&pool, &backend, state == conf::AdminState::drain,
                                state == conf::AdminState::down});
    }
  }
  return holds;
}

std::vector<RemovedBackend> removed_backends(const Snapshot& previous, const Snapshot& next) {
  std::set<const core::BackendStats*> kept;
  for (const PoolRuntime& pool : next.pools) {
    for (const BackendRuntime& backend : pool.backends)
      kept.insert(backend.stats.get());
  }
  std::vector<RemovedBackend> removed;
  for (const PoolRuntime& pool : previous.pools) {
    for (const BackendRuntime& backend : pool.backends) {
      if (!kept.contains(backend.stats.get())) removed.push_back(RemovedBackend{&pool, &backend});
    }
  }
  return removed;
}

namespace {

// The target's weight in `before`, 0 when `before` lacks it. Tags are the identity:
// BackendRegistry gives each (split, pool) pair one for as long as a snapshot holds it.
std::uint64_t weight_before(const SplitRuntime& before, const SplitTargetTag* tag) {
  std::uint64_t weight = 0;
  for (std::size_t j = 0; j < before.tags.size(); ++j) {
    if (before.tags[j].get() == tag) weight = before.weights[j];
  }
  return weight;
}

}  // namespace

std::vector<SplitWeightChange> split_weight_changes(const Snapshot& previous,
                                                    const Snapshot& next) {
  std::vector<SplitWeightChange> changes;
  for (const SplitRuntime& split : next.splits) {
    const SplitRuntime* before = previous.find_split(split.name);
    if (before == nullptr) continue;
    SplitWeightChange change{&split, {}, {}};
    for (std::size_t i = 0; i < split.tags.size(); ++i) {
      const std::uint64_t from = weight_before(*before, split.tags[i].get());
      const std::uint64_t to = split.weights[i];
      if (from == to) continue;
      change.moves.push_back(WeightMove{split.tags[i]->pool, from, to});
      if (to == 0) change.emptied.push_back(split.tags[i]);
    }
    if (!change.moves.empty()) changes.push_back(std::move(change));
  }
  return changes;
}

std::string describe(const std::vector<WeightMove>& moves) {
  std::string text;
  for (const WeightMove& move : moves) {
    if (!text.empty()) text += ", ";
    text.append(move.pool).append(" ").append(std::to_string(move.from));
    text.append(" -> ").append(std::to_string(move.to));
  }
  return text;
}

ReloadPlan plan_reload(const Snapshot& previous, const Snapshot& next,
                       const conf::Overrides& changes, std::optional<conf::Duration> drain) {
  ReloadPlan plan;
  plan.holds = admin_holds(next, changes);
  plan.removed = removed_backends(previous, next);
  plan.drain = drain.value_or(next.config.timeouts.drain);
  plan.splits = split_weight_changes(previous, next);
  return plan;
}

}  // namespace veer::runtime
