#include "runtime/route_pick.hpp"

#include "core/hash.hpp"
#include "runtime/request_key.hpp"
#include "runtime/split_route.hpp"
#include "strategies/split_buckets.hpp"

namespace veer::runtime {
namespace {

// The hash of the request's key for `pool`, when its strategy hashes one. Without a
// head (a retry) the first pick's hash stays: the key material is gone.
void hash_key_for(const PoolRuntime& pool, const http::RequestHead* head,
                  std::string_view client_ip, Assignment& assignment) {
  if (head != nullptr && pool.strategy->uses_hash_key) {
    assignment.key_hash = core::hash_bytes(request_key(pool.hash_key, *head, client_ip));
  }
}

// A backend in split target `target`, or, when that pool has nothing routable and the
// split fails over, in the next target that has one. On success sets the assignment's
// target, pool and backend; otherwise leaves it on `target` without a backend.
bool pick_in_split(WorkerView& view, Assignment& assignment, std::uint32_t target,
                   const http::RequestHead* head, std::string_view client_ip,
                   FailoverObserver* observer) {
  const SplitRuntime& split = *assignment.split;
  const bool failover = split.config->failover;
  const std::uint32_t first = target;
  assignment.backend.reset();
  for (;;) {
    const std::uint32_t pool = split.pools[target];
    hash_key_for(view.snapshot().pools[pool], head, client_ip, assignment);
    // A pool left with ejected backends only gives its share to the other targets
    // before it routes in panic.
    const auto backend =
        view.pick(pool, strategies::PickContext{assignment.key_hash}, 0, !failover);
    if (backend) {
      assignment.target = target;
      assignment.pool = pool;
      assignment.backend = backend;
      return true;
    }
    assignment.split_tried |= exclusion_bit(target);
    if (!failover) break;
    const auto next =
        strategies::split_fallback_of(split.weights, assignment.split_tried, assignment.bucket);
    if (!next) {
      // No target has a routable backend: the first one routes in panic if it can.
      hash_key_for(view.snapshot().pools[split.pools[first]], head, client_ip, assignment);
      assignment.backend =
          view.pick(split.pools[first], strategies::PickContext{assignment.key_hash});
      break;
    }
    if (observer != nullptr) observer->passed_on(split, target, *next);
    target = *next;
  }
  assignment.target = first;
  assignment.pool = split.pools[first];
  return assignment.backend.has_value();
}

}  // namespace

Assignment assign(WorkerView& view, const ListenerRuntime* listener, const http::RequestHead& head,
                  std::string_view client_ip, FailoverObserver* observer) {
  if (listener == nullptr) return Assignment{};
  const RouteRuntime* route = WorkerView::route(*listener, head.authority, head.path);
  if (route == nullptr) return Assignment{};
  return assign_target(view, route, RpcTarget{route->pool, route->split}, head, client_ip,
                       observer);
}

Assignment assign_target(WorkerView& view, const RouteRuntime* route, RpcTarget target,
                         const http::RequestHead& head, std::string_view client_ip,
                         FailoverObserver* observer) {
  Assignment assignment;
  assignment.route = route;
  const Snapshot& snapshot = view.snapshot();
  if (target.split == kNoSplit) {
    assignment.pool = target.pool;
    hash_key_for(snapshot.pools[assignment.pool], &head, client_ip, assignment);
    assignment.backend = view.pick(assignment.pool, strategies::PickContext{assignment.key_hash});
    return assignment;
  }
  assignment.split = &snapshot.splits[target.split];
  const SplitChoice choice =
      choose_split_target(*assignment.split, head, client_ip, view.split_random());
  assignment.bucket = choice.bucket;
  pick_in_split(view, assignment, choice.target, &head, client_ip, observer);
  return assignment;
}

std::optional<Assignment> assign_backend_by_tag(WorkerView& view, const RouteRuntime* route,
                                                RpcTarget target, std::uint32_t tag) {
  const Snapshot& snapshot = view.snapshot();
  const SplitRuntime* split = target.split == kNoSplit ? nullptr : &snapshot.splits[target.split];
  const std::size_t pools = split != nullptr ? split->pools.size() : 1;
  for (std::size_t i = 0; i < pools; ++i) {
    const std::uint32_t pool = split != nullptr ? split->pools[i] : target.pool;
    const std::vector<BackendRuntime>& backends = snapshot.pools[pool].backends;
    for (std::size_t b = 0; b < backends.size(); ++b) {
      if (filter_backend_tag(backends[b].address) != tag) continue;
      if (backends[b].stats->has(core::Reason::down)) continue;
      Assignment assignment;
      assignment.route = route;
      assignment.split = split;
      assignment.pool = pool;
      assignment.target = static_cast<std::uint32_t>(i);
      assignment.backend = static_cast<std::uint32_t>(b);
      return assignment;
    }
  }
  return std::nullopt;
}

std::optional<Assignment> reassign(WorkerView& view, const Assignment& current,
                                   bool same_backend_ok, FailoverObserver* observer) {
  Assignment next = current;
  const std::uint32_t backend = *current.backend;
  next.tried |= exclusion_bit(backend);
  next.backend = view.pick(current.pool, strategies::PickContext{current.key_hash}, next.tried);
  if (!next.backend && same_backend_ok) next.backend = backend;
  if (next.backend) return next;
  // Nothing else in this pool: a split that fails over tries its other targets.
  const SplitRuntime* split = current.split;
  if (split == nullptr || !split->config->failover) return std::nullopt;
  next.split_tried |= exclusion_bit(current.target);
  const auto target =
      strategies::split_fallback_of(split->weights, next.split_tried, current.bucket);
  if (!target || !pick_in_split(view, next, *target, nullptr, {}, observer)) return std::nullopt;
  if (next.pool != current.pool) next.tried = 0;  // the exclusion bits were the old pool's
  return next;
}

std::string no_backend_detail(const Snapshot& snapshot, const Assignment& assignment) {
  std::string detail;
  if (assignment.split != nullptr && assignment.split->config->failover) {
    detail = "no backend available in any pool of split ";
    detail += assignment.split->name;
    return detail;
  }
  detail = "no backend available in pool ";
  detail += snapshot.pools[assignment.pool].name;
  if (assignment.split != nullptr) {
    detail += " (split ";
    detail += assignment.split->name;
    detail += " has failover off)";
  }
  return detail;
}

}  // namespace veer::runtime
