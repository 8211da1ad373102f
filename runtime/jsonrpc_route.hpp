#pragma once

// The policy of a JSON-RPC route (docs/JSONRPC.md), pure over a snapshot so unit tests
// cover it without sockets: what veer does with each call (answer it locally, or forward
// it to which target, rewritten how), and how it fixes each reply before the client sees
// it (never a lower eth_blockNumber, a retried transaction that already landed, filter
// ids that carry their backend). The data plane (proxy/jsonrpc_exchange*) only acts on
// these decisions. Runs per call on the worker thread: allocation-free (rewritten text
// goes into the caller's buffer).

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.hpp"
#include "core/buffer.hpp"
#include "http/jsonrpc.hpp"
#include "http/jsonrpc_methods.hpp"
#include "runtime/limits_runtime.hpp"

namespace veer::runtime {

struct Snapshot;
struct RouteRuntime;

// Where a call goes: a pool, or a split (then `pool` is unused).
struct RpcTarget {
  std::uint32_t pool = 0;            // index into Snapshot::pools
  std::uint32_t split = UINT32_MAX;  // index into Snapshot::splits; UINT32_MAX = none
  friend bool operator==(const RpcTarget&, const RpcTarget&) = default;
};

// Process-wide state of one JSON-RPC route, shared by every worker and kept across
// reloads by route id (BackendRegistry::jsonrpc_route_state).
struct JsonRpcRouteState {
  // The highest block number the route has returned for eth_blockNumber (0 = none yet).
  std::atomic<std::uint64_t> served_head{0};
  // How far above the known head (health checks) an answer may raise served_head: the
  // checks lag the nodes by an interval.
  static constexpr std::uint64_t kHeadSlack = 2;
  // served_head this far above the known head is not a lag but a chain reset (a devnet
  // restarted) or a bogus answer that got in before the head was known: it comes down.
  static constexpr std::uint64_t kResetDistance = 64;
  // Raises served_head to `head` when higher (lock-free); returns the value to serve,
  // never lower than `head`. With `known_head` (the target's chain-filtered head from
  // the health checks; 0 = not known), served_head rises at most to known_head +
  // kHeadSlack (a higher answer goes to its client as it is but pins nothing), and
  // comes back down to known_head first when it is more than kResetDistance above it.
  // Without a known head: never lower than any value returned before.
  std::uint64_t serve(std::uint64_t head, std::uint64_t known_head = 0);
  // The head "latest" is pinned to for a request: served_head, unless it is more than
  // kResetDistance above a known head (then that head).
  std::uint64_t pinned_head(std::uint64_t known_head) const;
};

struct MethodRouteRuntime {
  std::vector<std::string> match;  // globs
  RpcTarget target;
};

// A route's JSON-RPC mode, compiled with the snapshot (RouteRuntime::jsonrpc).
struct JsonRpcRouteRuntime {
  const conf::JsonRpcRouteConfig* config = nullptr;  // in the owning Snapshot's config
  RpcTarget target;                                  // the route's own target
  std::vector<MethodRouteRuntime> method_routes;     // in config order; first match wins
  std::optional<RpcTarget> archive;
  std::shared_ptr<JsonRpcRouteState> state;  // always set
};

// What veer does with one call.
struct CallPlan {
  enum class Kind : std::uint8_t {
    forward,  // send to `target`
    error,    // answer locally with error `code`, `message` (and `data`, raw JSON)
    result,   // answer locally with `result` (raw JSON), e.g. eth_accounts -> []
    none,     // a notification veer answers nothing to
  };
  Kind kind = Kind::forward;
  const http::jsonrpc::MethodInfo* method = nullptr;  // never null after plan_call
  int code = 0;
  std::string_view message;  // static text, or in the caller's `text` buffer
  std::string_view data;     // raw JSON, or ""
  std::string_view result;
  RpcTarget target;
  // forward: the call text to send when it differs from the client's (a pinned
  // "latest", a filter id without veer's backend tag): [offset, offset + length) of the
  // caller's `text` buffer; length 0 = the call as the client sent it.
  std::size_t rewritten_offset = 0;
  std::size_t rewritten_length = 0;
  // forward: a filter call that must go to the backend whose tag this is (the filter's
  // creator, filter_backend_tag of its address); none = any backend.
  std::optional<std::uint32_t> sticky_backend_tag;
  // forward: the call asks for "latest" (or has no block argument and reads the head),
  // so all such calls of one batch are pinned to one head.
  bool reads_latest = false;
  // forward: the block argument as the client sent it (before any pinning); nullopt =
  // none or not parsable. Judges a missing-state answer (jsonrpc::classify).
  std::optional<http::jsonrpc::BlockRef> block;
};

// Plans `call` (valid: call.error == 0) of a request on `route`. `head` is the block
// number "latest" means for this request (one per request: a batch sees one head; 0 =
// not known, nothing pinned), `highest_known_head` the highest head of the target's
// backends (health checks; archive routing by age needs it; 0 = not known). Rewritten
// call texts and formatted messages are appended to `text`.
void plan_call(const Snapshot& snapshot, const JsonRpcRouteRuntime& route,
               const http::jsonrpc::Call& call, std::uint64_t head,
               std::uint64_t highest_known_head, core::Buffer& text, CallPlan& out);

// The highest head the health checks know for `target` on its chain: the pool's
// PoolStats::head_block (chain-filtered, the highest of its backends on the expected
// chain), for a split the highest of its pools'; 0 = not known.
std::uint64_t known_head(const Snapshot& snapshot, const RpcTarget& target);

// How a forwarded call's reply is fixed before it goes to the client.
struct ReplyContext {
  const JsonRpcRouteRuntime* route = nullptr;
  const http::jsonrpc::Call* call = nullptr;
  const CallPlan* plan = nullptr;
  std::string_view backend_address;  // who answered (filter ids get its tag)
  bool retried = false;              // an earlier try of this call may have reached a node
  std::uint64_t known_head = 0;      // known_head() of the call's target; 0 = not known
};
// Appends the reply to send instead of `reply` to `out` and returns true, or returns
// false when `reply` goes to the client as it is. Covers: eth_blockNumber never lower
// than the route's served head (and raising it), eth_sendRawTransaction "already
// known"/"nonce too low" after a retry -> the transaction hash, eth_new*Filter ids
// tagged with their backend.
bool fix_reply(const ReplyContext& context, const http::jsonrpc::Reply& reply, core::Buffer& out);

// The tag a filter id carries for the backend that created it (a hash of its address).
std::uint32_t filter_backend_tag(std::string_view backend_address);

// Tokens one call of `method` takes from `policy` (its method_costs; 1 by default).
std::uint64_t call_cost(const PolicyRuntime& policy, std::string_view method);
// The policy's GCRA for a request costing `cost` tokens.
limits::Gcra gcra_for_cost(const limits::Gcra& gcra, std::uint64_t cost);

}  // namespace veer::runtime
