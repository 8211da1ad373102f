#pragma once

// The JSON-RPC 2.0 codec of JSON-RPC routes (docs/JSONRPC.md): request bodies (a single
// call or a batch) and response bodies split into their items, each item's members as
// views into the body (never decoded or copied), and the writers veer's own answers
// use. Strict like http_parser: the whole document is validated (RFC 8259 grammar,
// UTF-8, nesting at most kMaxDepth) before anything is believed. Allocation-free once
// the caller's vectors have grown: parse into the worker's scratch, reused per request.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/buffer.hpp"

namespace veer::http::jsonrpc {

inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
inline constexpr int kServerError = -32000;    // geth's catch-all (reverts, nonce, ...)
inline constexpr int kLimitExceeded = -32005;  // EIP-1474
inline constexpr unsigned kMaxDepth = 64;

// One call of a request. Views into the body.
struct Call {
  std::string_view text;      // the whole item as sent, from '{' to '}'
  std::string_view id;        // the id's raw JSON ("1", "\"a\"", "null"); "null" when absent
  std::string_view method;    // the method name (printable ASCII, no escapes), "" if invalid
  std::string_view params;    // the raw JSON value of "params" ("[...]" or "{...}"); "" = none
  bool notification = false;  // no "id" member: JSON-RPC says no answer is sent (an
                              // invalid item is never one: it is answered, id null)
  // 0 when the item is a valid request; else kInvalidRequest (not an object, no or a
  // non-string method, jsonrpc not "2.0", params neither array nor object, an id that
  // is not a string, number or null, a member twice).
  int error = 0;
};

struct Request {
  bool batch = false;
  // 0, or kParseError (not JSON), or kInvalidRequest (an empty batch, or a top-level
  // value that is neither an object nor an array).
  int error = 0;
  std::vector<Call> calls;  // reused: cleared, never shrunk
};

// Parses `body` into `out` (cleared first). Batches longer than `max_batch` items stop
// the parse with `too_many` set and `out.calls` holding the first max_batch + 1 items'
// ids only, for the 413's errors. The rest of the body is still validated: a malformed
// body is a parse error (too_many false), however long.
struct RequestParse {
  bool too_many = false;
};
RequestParse parse_request(std::string_view body, std::size_t max_batch, Request& out);

// One item of a response. Views into the body.
struct Reply {
  std::string_view text;    // the whole item
  std::string_view id;      // raw JSON
  std::string_view result;  // raw JSON of "result"; "" when absent
  bool has_error = false;
  std::int64_t error_code = 0;
  std::string_view error_message;  // the message string's raw content (between quotes)
  std::string_view error_data;     // raw JSON of "data"; "" when absent
};

struct Response {
  bool batch = false;
  // False when the body is not a JSON-RPC response: not JSON, not an object or array
  // of objects, an item with neither result nor error, or both ("error": null beside a
  // result counts as no error), an error without an integer "code", a member twice.
  bool valid = false;
  std::vector<Reply> replies;  // reused
};

void parse_response(std::string_view body, Response& out);

// The raw JSON of params[index] of a params array; nullopt when params is not an array
// or is shorter.
std::optional<std::string_view> param(std::string_view params, std::size_t index);
// The raw JSON of member `name` of an object (a param such as eth_getLogs' filter);
// nullopt when absent or `object` is not an object. Of duplicate members the last, as
// geth's encoding/json reads them.
std::optional<std::string_view> member(std::string_view object, std::string_view name);

// A block parameter, as EIP-1474 and EIP-1898 write it.
struct BlockRef {
  enum class Kind : std::uint8_t { number, latest, pending, earliest, safe, finalized, hash };
  Kind kind = Kind::latest;
  std::uint64_t number = 0;  // Kind::number
};
// "0x1a", "latest", ..., or {"blockNumber": "0x1a"} / {"blockHash": "0x.."}; nullopt
// when it is none of these.
std::optional<BlockRef> parse_block_ref(std::string_view raw);

// A JSON quantity ("0x1a", no leading zeros beyond "0x0"): nullopt if malformed or > 2^64-1.
std::optional<std::uint64_t> parse_quantity(std::string_view raw);
// Appends "\"0x1a\"" (with the quotes).
void append_quantity(core::Buffer& out, std::uint64_t value);

// Writers of veer's own answers. `id` is raw JSON (a Call's id). `message` is plain
// text, escaped as it is written.
void append_error(core::Buffer& out, std::string_view id, int code, std::string_view message);
// An error with a "data" member (raw JSON), for a limit's figures.
void append_error(core::Buffer& out, std::string_view id, int code, std::string_view message,
                  std::string_view data);
// {"jsonrpc":"2.0","id":<id>,"result":<raw result>}
void append_result(core::Buffer& out, std::string_view id, std::string_view result);

// A copy of `call` with its params[index] replaced by `value` (raw JSON), for pinning
// "latest" to a block number; appended to `out`. An absent params[index] (the node's
// default, "latest") is added when params has exactly `index` items; otherwise the
// call is copied unchanged.
void append_with_param(core::Buffer& out, const Call& call, std::size_t index,
                       std::string_view value);

// '*' matches any run of characters, everything else itself (method names are ASCII).
bool glob_match(std::string_view pattern, std::string_view name);

}  // namespace veer::http::jsonrpc
