#pragma once

// The state of one HTTP JSON-RPC request on a JSON-RPC route (docs/JSONRPC.md): the
// body read whole, its calls, what runtime::plan_call decided for each, the groups of
// forwarded calls (one upstream POST per target and backend) and each call's answer.
// The session's member functions in proxy/jsonrpc_exchange.cpp (request side) and
// proxy/jsonrpc_upstream.cpp (the buffered exchange with a backend) act on it. One per
// session, made on its first JSON-RPC request and reused: the vectors and buffers keep
// their capacity, so a steady stream of calls does not allocate.
//
// Groups run one after another (never in parallel): a request's groups share the
// session's one upstream connection slot (up_) and deadline, and the common case (one
// target, one backend) has a single group anyway.

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "core/buffer.hpp"
#include "http/chunked.hpp"
#include "http/http_head.hpp"
#include "http/jsonrpc.hpp"
#include "http/jsonrpc_methods.hpp"
#include "runtime/jsonrpc_route.hpp"
#include "runtime/metrics.hpp"
#include "runtime/route_pick.hpp"

namespace veer::proxy {

// How a call ended, for the response's status and the metrics' outcome.
enum class RpcEnd : std::uint8_t {
  open,             // not answered yet
  ok,               // a result (from a backend or veer)
  client_error,     // an error of the caller's class (incl. veer's -32600/-32602)
  server_error,     // a backend's error of the server class
  transport_error,  // no usable reply from a backend (connect, reset, 5xx, malformed)
  timed_out,        // the backend did not answer within upstream_response
  no_backend,       // nothing to send it to
  rate_limited,     // refused by a policy (-32005)
  denied,           // refused by the method policy (-32601)
  silent,           // a notification: nothing is answered
};

struct RpcCallState {
  runtime::CallPlan plan;
  std::size_t answer_offset = 0;  // in JsonRpcExchange::answers
  std::size_t answer_length = 0;
  std::uint32_t group = 0;       // the group it is sent with (forwarded calls)
  std::uint8_t tries = 0;        // groups it was sent with so far
  bool may_have_landed = false;  // an earlier try may have reached a node
  RpcEnd end = RpcEnd::open;
  std::int64_t error_code = 0;  // the answer's error code (0: a result), for the metrics
};

struct RpcGroup {
  runtime::RpcTarget target;
  runtime::Assignment pick;  // route, pool and backend (none: 503 for its calls)
  bool sticky = false;       // filter calls for one backend: never merged with others
  bool done = false;
};

struct JsonRpcExchange {
  const runtime::JsonRpcRouteRuntime* route = nullptr;
  runtime::JsonRpcSeries* series = nullptr;  // the route's metrics; null when off
  // Reading the body: decoded bytes at the front of the session's in_.
  std::size_t body_length = 0;
  // Rate-limit keys per route policy, derived while the head was at hand.
  std::vector<std::uint64_t> limit_keys;
  http::jsonrpc::Request request;
  http::jsonrpc::Response response;
  std::vector<RpcCallState> calls;
  std::vector<RpcGroup> groups;
  core::Buffer text;        // plan_call's rewritten calls and formatted messages
  core::Buffer answers;     // each call's answer, one after another
  core::Buffer head;        // the upstream request head of the current group
  core::Buffer body;        // the upstream request body of the current group (unless sent_body)
  core::Buffer reply;       // the current group's response body (decoded)
  core::Buffer reply_head;  // the last 2xx response head from a backend, as it came
  std::uint32_t replied_exchanges = 0;  // exchanges whose replies were taken
  // Request bytes (head, body) of tries whose connection was retired with its write
  // perhaps still in flight (io_uring reads them until the write completes): a retry
  // writes new buffers. Freed once the session has no retired connection left.
  std::vector<core::Buffer> retired_writes;
  std::string_view sent_body;  // what the current group sends: body, or the client's bytes
  std::uint32_t current = 0;   // the group being exchanged
  bool whole_request = false;  // the current group sends the client's body unchanged
  // The current group's response.
  std::size_t response_scan = 0;
  std::uint16_t status = 0;
  http::BodyFraming framing = http::BodyFraming::none;
  std::uint64_t remaining = 0;
  http::ChunkedDecoder reply_chunks{};
  std::size_t decoded = 0;  // body bytes at the front of the connection's buffer
  bool reply_reusable = false;
  bool got_bytes = false;
  bool sent = false;                   // the request write completed
  bool reply_done = false;             // the response is whole
  bool stale = false;                  // a pooled connection the backend had closed
  bool too_large = false;              // the response passed max_body_bytes
  std::vector<std::uint32_t> matched;  // per call: its reply's index in `response`
  // The final answer: the backend's body as it came (passthrough), or built from answers.
  bool passthrough = false;
  std::optional<runtime::Assignment> first_pick;  // the access log's backend
  // The client sent Expect: 100-continue: answered before the body is first read.
  bool continue_pending = false;

  // Above this, a buffer or vector is given back when its request ends: one 10 MB
  // answer must not stay with an idle keep-alive connection.
  static constexpr std::size_t kKeptBytes = 64 * 1024;

  // Gives back what grew past kKeptBytes (buffers to `pool`, which frees odd sizes).
  void release_large(core::BufferPool& pool) {
    for (core::Buffer* buffer : {&text, &answers, &head, &body, &reply, &reply_head}) {
      if (buffer->capacity() > kKeptBytes) pool.release(*buffer);
    }
    release_large_vector(limit_keys);
    release_large_vector(request.calls);
    release_large_vector(response.replies);
    release_large_vector(calls);
    release_large_vector(groups);
    release_large_vector(matched);
  }
  template <typename T>
  static void release_large_vector(std::vector<T>& v) {
    if (v.capacity() * sizeof(T) > kKeptBytes) std::vector<T>().swap(v);
  }

  void reset() {
    route = nullptr;
    series = nullptr;
    body_length = 0;
    limit_keys.clear();
    calls.clear();
    groups.clear();
    text.clear();
    answers.clear();
    head.clear();
    body.clear();
    reply.clear();
    sent_body = {};
    current = 0;
    whole_request = false;
    passthrough = false;
    first_pick.reset();
    continue_pending = false;
    reply_head.clear();
    replied_exchanges = 0;
  }
};

}  // namespace veer::proxy
