#pragma once

// What veer knows about Ethereum JSON-RPC methods: how each may be retried, where its
// block argument is, which create or use server-side state (filters, subscriptions),
// and how an answer is classified (docs/JSONRPC.md, "Error classes" and "Retries").
// One table, so the retry rules, the metrics' method label and the routing by block
// argument cannot disagree.

#include <cstdint>
#include <optional>
#include <string_view>

#include "http/jsonrpc.hpp"

namespace veer::http::jsonrpc {

enum class Retry : std::uint8_t {
  read,      // may go to another backend after it may have reached one
  send_raw,  // eth_sendRawTransaction: may go again; "already known" then means ok
  never,     // state-creating (eth_newFilter*, eth_subscribe, eth_sendTransaction)
             // or unknown: only when nothing was sent
};

enum class Filter : std::uint8_t { none, creates, uses };

struct MethodInfo {
  std::string_view name;  // as known; "other" for a method not in the table
  std::uint16_t index;    // dense index of the label (metrics); kOtherMethod for unknown
  Retry retry;
  std::int8_t block_param;  // index of the block argument in params; -1 = none
  Filter filter;            // eth_newFilter family creates; eth_getFilterChanges... uses
  bool logs_range;          // eth_getLogs: fromBlock/toBlock are capped
  bool archive;             // debug_* / trace_*: routed to the archive target
};

// Every known method, in a fixed order (index = position); the last is "other".
std::size_t known_method_count();
const MethodInfo& method_by_index(std::size_t index);
// The method's entry, or "other" (retry never, no block param).
const MethodInfo& method_info(std::string_view method);

// How a reply counts (passive health, rollouts, metrics' outcome).
enum class ErrorClass : std::uint8_t {
  ok,
  client_error,  // -32600/-32602/-32601, reverts, nonce and funds errors: the caller's fault
  server_error,  // -32603, "header not found"/"missing trie node", timeouts, limits at the node
};
ErrorClass classify(const Reply& reply);

// The block a forwarded call asked for and the head of the backend that answered,
// for judging a missing-state answer ("header not found", "unknown block", "missing
// trie node"): the node's fault only when it should have the block.
struct AskedBlock {
  // The call's block argument as the client sent it; nullopt = none (reads the head).
  std::optional<BlockRef> block;
  std::uint64_t backend_head = 0;  // the answering backend's head_block; 0 = not known
};
// As classify(reply), except that a missing-state answer is a server error only when
// the call asked for a tag (latest, pending, safe, finalized) or no block, or for a
// number ("earliest" = 0) at or below `backend_head`; a number above it, a number with
// the head not known, or a block hash is the caller's (a client error), so clients
// asking for blocks that do not exist cannot eject backends.
ErrorClass classify(const Reply& reply, const AskedBlock& asked);

// Whether a reply's id (raw JSON) names the call's: the same text, or the same value
// written another way (1 / 1.0 / 1e0, "A" / "\u0041"), as nodes that re-serialise ids
// send them.
bool same_id(std::string_view call_id, std::string_view reply_id);

// An eth_sendRawTransaction error meaning an earlier try already delivered it
// ("already known", "nonce too low", "known transaction").
bool already_delivered(const Reply& reply);

// "0x" + keccak-256 of the raw transaction bytes given as a hex string param (the
// transaction hash), with quotes: "\"0x...\"". False when `raw_param` is not a quoted
// 0x-hex string of whole bytes.
bool append_transaction_hash(core::Buffer& out, std::string_view raw_param);

}  // namespace veer::http::jsonrpc
