#pragma once

// Which backend gets a request, in one place (HAProxy's assign_server, src/backend.c):
// the listener's route, a split's target (override, sticky bucket, failover between
// targets), the hash of the request's key and the strategy's pick, and on a retry the
// next backend or target. Pure over a WorkerView, so unit tests cover it without
// sockets. Runs on the worker thread, for every request: nothing here allocates but
// the text of a 503 (no_backend_detail).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "http/http_head.hpp"
#include "runtime/jsonrpc_route.hpp"
#include "runtime/snapshot.hpp"
#include "runtime/worker_view.hpp"

namespace veer::runtime {

// Where a request goes, and what its retries need to choose again. Pointers and
// indices are into the WorkerView's snapshot, which the request holds.
struct Assignment {
  const RouteRuntime* route = nullptr;   // null: no route of the listener matched (404)
  const SplitRuntime* split = nullptr;   // the split the route goes through, if any
  std::uint32_t pool = 0;                // index into Snapshot::pools
  std::uint32_t target = 0;              // index of `pool` among split->pools
  std::uint32_t bucket = 0;              // the request's split bucket: failover keeps a
                                         // key on one fallback target
  std::uint64_t key_hash = 0;            // hash of the hash_key material; retries reuse it
  std::uint64_t tried = 0;               // exclusion_bit of each backend of `pool` tried
  std::uint64_t split_tried = 0;         // exclusion_bit of each target found without a backend
  std::optional<std::uint32_t> backend;  // index into the pool's backends; none: 503
};

// Told when a split passes a request on from a target whose pool has no routable
// backend to another target, so that the data plane can log it under its rate limit.
class FailoverObserver {
 public:
  virtual void passed_on(const SplitRuntime& split, std::uint32_t from_target,
                         std::uint32_t to_target) = 0;

 protected:
  ~FailoverObserver() = default;
};

// The first pick for a request that arrived on `listener` (null when a reload removed
// it: no route). `client_ip` is the key of last resort for hashing and sticky splits.
// The result has no route for a 404 and no backend for a 503.
Assignment assign(WorkerView& view, const ListenerRuntime* listener, const http::RequestHead& head,
                  std::string_view client_ip, FailoverObserver* observer = nullptr);

// The first pick for a request of `route` sent to `target` (a pool or split of the
// snapshot) rather than the route's own: a JSON-RPC method route or archive target.
// assign() is this with the route's target. `route` must not be null.
Assignment assign_target(WorkerView& view, const RouteRuntime* route, RpcTarget target,
                         const http::RequestHead& head, std::string_view client_ip,
                         FailoverObserver* observer = nullptr);

// The backend of `target` (for a split, of any of its pools) whose address has filter
// tag `tag` (filter_backend_tag): a JSON-RPC filter lives on the node that created it.
// Such a backend serves its filters while it is in the snapshot and its health checks
// pass, even when it is draining, disabled or ejected (the filter is there and nowhere
// else); one that is down or gone cannot (nullopt: the call goes to any backend, which
// answers "filter not found"). The result has no key hash; do not reassign() it: no
// other backend has the filter.
std::optional<Assignment> assign_backend_by_tag(WorkerView& view, const RouteRuntime* route,
                                                RpcTarget target, std::uint32_t tag);

// The next try after `current` (which has a backend) failed: another backend of the
// same pool not tried yet; the same backend when `same_backend_ok` and no other is
// left (a stale pooled connection says nothing about the backend); else, behind a
// split that fails over, a backend of the next target. nullopt when nothing is left.
// The request head is gone by then: hashing pools reuse the first pick's key hash.
std::optional<Assignment> reassign(WorkerView& view, const Assignment& current,
                                   bool same_backend_ok, FailoverObserver* observer = nullptr);

// The body of the 503 for an assignment without a backend.
std::string no_backend_detail(const Snapshot& snapshot, const Assignment& assignment);

}  // namespace veer::runtime
