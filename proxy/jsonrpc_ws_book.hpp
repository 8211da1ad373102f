#pragma once

// What the JSON-RPC WebSocket relay (proxy/jsonrpc_ws_relay.cpp) knows about one client
// connection's calls and subscriptions, pure (no sockets) so unit tests drive it with
// text messages: the messages in from either side, the messages out to either side.
//
// - Every call forwarded to the node carries an id of veer's (a number), so answers
//   find their way back whichever node gives them, and calls in flight on a node that
//   died are answered -32603 with the client's own ids (never retried: a read could be,
//   but the client library times calls out by itself and an answer from another node at
//   another head would be no better than an error it can retry).
// - eth_subscribe: the client sees an id veer made ("0x" + 32 hex), never the node's; a
//   notification's and eth_unsubscribe's ids are rewritten both ways.
// - After a failover (node_lost, then node_connected on another node) each subscription
//   is issued again and the gap filled: newHeads with eth_getBlockByNumber for every
//   height after the last delivered one up to the new node's eth_blockNumber (at most
//   kMaxGapBlocks), logs with eth_getLogs(fromBlock = last + 1, same filter).
//   Notifications of the new node wait until the gap is filled, then pass through the
//   same rules: a head is never lower than the last one sent (a new hash at the same
//   height, a reorg, is delivered); a log is delivered once per (blockHash, logIndex);
//   a log for a height whose delivered logs had another block hash first re-sends those
//   with "removed": true.
//
// Boost.JSON parses and writes every message: subscription traffic is not the HTTP
// keep-alive hot path (a message per block per subscription), and the messages are
// rewritten anyway.

#include <boost/json/value.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace veer::proxy::jsonrpc_ws {

enum class Kind : std::uint8_t { new_heads, logs, new_pending_transactions, syncing, unknown };
Kind kind_of(std::string_view name);

// Messages to send, in order.
struct Out {
  std::vector<std::string> to_client;
  std::vector<std::string> to_node;
};

// What the route's method policy (runtime::plan_call, run by the relay) says of one
// client call, given its text.
struct Verdict {
  enum class Kind : std::uint8_t {
    forward,  // to the node, as the client sent it
    answer,   // answered locally with `answer` (the whole message, the client's id)
    drop,     // a notification veer answers nothing to and sends nowhere
  };
  Kind kind = Kind::forward;
  std::string answer;
};
using Policy = std::function<Verdict(std::string_view call_text)>;

struct BookCounters {
  std::uint64_t resubscribes = 0;
  std::uint64_t gap_filled_blocks = 0;
};

class Book {
 public:
  // Heights a failover fills at most (one eth_getBlockByNumber each).
  static constexpr std::uint64_t kMaxGapBlocks = 1024;
  // Heights whose delivered logs are remembered, for duplicates and reorgs.
  static constexpr std::uint64_t kLogHeightsKept = 16;

  // Client calls waiting for the node's answer at most; above, -32005.
  static constexpr std::uint32_t kDefaultMaxPending = 10000;

  Book(std::uint32_t max_subscriptions, std::uint64_t seed,
       std::uint32_t max_pending = kDefaultMaxPending);
  ~Book();

  // Every client call (a batch's items one by one) passes `policy` first; none: all go
  // to the node.
  void set_policy(Policy policy) { policy_ = std::move(policy); }

  // A batch is answered with one array, in the client's order, once its last answer
  // (local or the node's) is known; a batch of notifications only gets nothing.
  void from_client(std::string_view text, Out& out);
  void from_node(std::string_view text, Out& out);
  // The node is gone: calls in flight are answered with errors. False when a
  // subscription cannot be carried to another node (a kind veer does not know).
  bool node_lost(Out& out);
  // Another node took over: every subscription is issued again.
  void node_connected(Out& out);

  // Set when the client must be closed with 1012 (a subscription could not be issued
  // again on the new node); the reason.
  const std::string& failed() const { return failed_; }
  std::size_t subscriptions() const { return subs_.size(); }
  // A subscription's gap is still being filled on the new node.
  bool resyncing() const;
  const BookCounters& counters() const { return counters_; }
  // The client's calls waiting for the node.
  std::size_t client_calls_pending() const { return client_pending_; }

 private:
  struct Sub;
  struct Pending;
  // Where a client call's answer goes: straight out (batch 0), or slot `slot` of
  // batch `batch`.
  struct ReplyTo {
    std::uint64_t batch = 0;
    std::size_t slot = 0;
  };
  struct Batch {
    std::vector<std::string> answers;  // in the client's order
    std::size_t missing = 0;
    bool open = true;  // its items are still being read
  };
  void client_call(boost::json::object& call, ReplyTo to, Out& out);
  ReplyTo reserve(ReplyTo to);
  void reply(const ReplyTo& to, std::string text, Out& out);
  void finish_batch(std::uint64_t batch, Out& out);
  void node_answer(boost::json::object& answer, Out& out);
  void notification(boost::json::object& message, Out& out);
  void answered_internal(const Pending& p, boost::json::object& answer, Out& out);
  void start_gap_fill(Sub& sub, Out& out);
  void finish_sync(Sub& sub, Out& out);
  void deliver(Sub& sub, boost::json::value result, Out& out);
  void deliver_head(Sub& sub, boost::json::value header, Out& out);
  void deliver_log(Sub& sub, boost::json::object log, Out& out);
  void emit(const Sub& sub, const boost::json::value& result, Out& out);
  std::uint64_t send(std::string_view method, boost::json::value params, Out& out);
  std::string new_id();
  Sub* by_node_id(std::string_view id);

  std::uint32_t max_subscriptions_;
  std::uint32_t max_pending_;
  Policy policy_;
  std::unordered_map<std::uint64_t, Batch> batches_;
  std::uint64_t next_batch_ = 1;
  std::size_t client_pending_ = 0;
  std::mt19937_64 random_;
  std::uint64_t next_call_ = 1;
  std::map<std::string, std::unique_ptr<Sub>, std::less<>> subs_;  // by client id
  std::unordered_map<std::string, std::string> node_ids_;          // node id -> client id
  std::unordered_map<std::uint64_t, Pending> pending_;             // by veer's call id
  std::uint32_t subscribes_in_flight_ = 0;
  BookCounters counters_;
  std::string failed_;
};

// A message's error answer, for local refusals: {"jsonrpc":"2.0","id":ID,"error":...}.
std::string error_answer(const boost::json::value& id, int code, std::string_view message);

}  // namespace veer::proxy::jsonrpc_ws
