#pragma once

// The answer to a request refused by a limit: 429 Too Many Requests for a rate-limit
// policy or a per-client connection cap, 503 for a route's max_in_flight. Always with
// Retry-After; a policy's refusal also carries the IETF fields of
// draft-ietf-httpapi-ratelimit-headers-11 (RateLimit-Policy and RateLimit, structured
// field lists of one item: `"per_client";q=100;w=1` and `"per_client";r=0;t=1`).
// A JSON-RPC request gets a JSON-RPC 2.0 error (an array of them for a batch) with the
// ids it sent; anything else the text body of write_local_response.

#include <cstdint>
#include <string_view>

#include "core/buffer.hpp"
#include "http/jsonrpc_ids.hpp"

namespace veer::http {

// EIP-1474's "limit exceeded", what Ethereum clients and their libraries expect.
inline constexpr int kJsonRpcLimitExceeded = -32005;

struct LimitRefusal {
  std::uint16_t status = 429;
  std::string_view detail;                // the text body's cause ("rate limit exceeded")
  std::string_view limited_by;            // the policy's name, or "max_connections_per_client", ...
  std::uint64_t retry_after_seconds = 1;  // at least 1
  // A policy's RateLimit-Policy item, as the snapshot wrote it; empty: no RateLimit
  // fields (connection caps).
  std::string_view policy_field;
  std::uint64_t remaining = 0;  // RateLimit's r: requests the key may still send now
  // Set for a JSON-RPC request: the body is JSON-RPC errors with these ids.
  const JsonRpcIds* jsonrpc = nullptr;
  std::string_view request_id;  // also in X-Request-Id; must not point into `out`
  bool close = false;           // Connection: close
  bool head_only = false;       // a HEAD request: no body, its length still stated
};

// Appends the whole response to `out`; returns the body's length.
std::size_t write_limit_response(const LimitRefusal& refusal, core::Buffer& out);

// Whole seconds a client waits for `wait_ns`: rounded up, at least 1 (Retry-After and
// RateLimit's t, RFC 9110 section 10.2.3).
std::uint64_t retry_after_seconds(std::int64_t wait_ns);

// Whether a request is a JSON-RPC call, for the refusal's body: a POST whose
// Content-Type is application/json, or whose body starts with '{' or '['.
bool looks_like_jsonrpc(std::string_view method, std::string_view content_type,
                        std::string_view body_start);

}  // namespace veer::http
