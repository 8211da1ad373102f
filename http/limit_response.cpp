#include "http/limit_response.hpp"

#include <algorithm>

#include "core/json_escape.hpp"
#include "http/header_rewrite.hpp"

namespace veer::http {
namespace {

constexpr std::int64_t kNanosPerSecond = 1'000'000'000;

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

// A structured-field String (RFC 8941 section 3.3.3): printable ASCII with '"' and '\'
// escaped. Policy names are config keys, so nothing is lost in practice; other bytes are
// left out rather than sent as an invalid field.
void append_sf_string(core::Buffer& out, std::string_view text) {
  out.append('"');
  for (const char c : text) {
    if (c < 0x20 || c > 0x7E) continue;
    if (c == '"' || c == '\\') out.append('\\');
    out.append(c);
  }
  out.append('"');
}

void append_jsonrpc_error(core::Buffer& out, std::string_view id, const LimitRefusal& r) {
  out.append(R"({"jsonrpc":"2.0","id":)");
  out.append(id);
  out.append(R"(,"error":{"code":)");
  out.append('-');
  core::append_decimal(out, static_cast<std::uint64_t>(-kJsonRpcLimitExceeded));
  out.append(R"(,"message":")");
  core::append_json_escaped(out,
                            r.status == 429 ? std::string_view("rate limit exceeded") : r.detail);
  out.append(R"(","data":{"policy":")");
  core::append_json_escaped(out, r.limited_by);
  out.append(R"(","retry_after":)");
  core::append_decimal(out, r.retry_after_seconds);
  out.append("}}}");
}

void append_jsonrpc_body(core::Buffer& out, const LimitRefusal& r) {
  JsonRpcIds::Iterator ids = r.jsonrpc->begin();
  std::string_view id;
  if (!r.jsonrpc->batch()) {
    ids.next(&id);
    append_jsonrpc_error(out, id, r);
    return;
  }
  out.append('[');
  for (bool first = true; ids.next(&id); first = false) {
    if (!first) out.append(',');
    append_jsonrpc_error(out, id, r);
  }
  out.append(']');
}

// The same text body as write_local_response: "<detail> (request id <id>)\n".
void append_text_body(core::Buffer& out, const LimitRefusal& r) {
  out.append(r.detail);
  if (!r.request_id.empty()) {
    out.append(" (request id ");
    out.append(r.request_id);
    out.append(')');
  }
  out.append('\n');
}

void append_head(core::Buffer& out, const LimitRefusal& r, std::size_t body_length) {
  out.append("HTTP/1.1 ");
  core::append_decimal(out, r.status);
  out.append(' ');
  out.append(status_reason(r.status));
  out.append(r.jsonrpc != nullptr ? "\r\nContent-Type: application/json"
                                  : "\r\nContent-Type: text/plain; charset=utf-8");
  out.append("\r\nContent-Length: ");
  core::append_decimal(out, body_length);
  out.append("\r\nRetry-After: ");
  core::append_decimal(out, r.retry_after_seconds);
  if (!r.policy_field.empty()) {
    out.append("\r\nRateLimit-Policy: ");
    out.append(r.policy_field);
    out.append("\r\nRateLimit: ");
    append_sf_string(out, r.limited_by);
    out.append(";r=");
    core::append_decimal(out, r.remaining);
    // The effective window: no more than r requests before this many seconds, the same
    // moment Retry-After names (the draft's section 6: never earlier than the window).
    out.append(";t=");
    core::append_decimal(out, r.retry_after_seconds);
  }
  if (!r.request_id.empty()) {
    out.append("\r\nX-Request-Id: ");
    out.append(r.request_id);
  }
  out.append(r.close ? "\r\nConnection: close\r\n\r\n" : "\r\n\r\n");
}

}  // namespace

std::uint64_t retry_after_seconds(std::int64_t wait_ns) {
  if (wait_ns <= kNanosPerSecond) return 1;
  return static_cast<std::uint64_t>((wait_ns + kNanosPerSecond - 1) / kNanosPerSecond);
}

bool looks_like_jsonrpc(std::string_view method, std::string_view content_type,
                        std::string_view body_start) {
  if (method != "POST") return false;
  const std::size_t end = content_type.find_first_of("; \t");
  if (equals_ignoring_case(content_type.substr(0, end), "application/json")) return true;
  const std::size_t first = body_start.find_first_not_of(" \t\r\n");
  return first != std::string_view::npos && (body_start[first] == '{' || body_start[first] == '[');
}

// The body is written first, where it ends up, and the head after it; one rotation puts
// the head in front. The body's length is then known without writing it twice, and
// nothing but `out` is used.
std::size_t write_limit_response(const LimitRefusal& refusal, core::Buffer& out) {
  const std::size_t start = out.size();
  if (refusal.jsonrpc != nullptr) {
    append_jsonrpc_body(out, refusal);
  } else {
    append_text_body(out, refusal);
  }
  const std::size_t body_length = out.size() - start;
  append_head(out, refusal, body_length);
  char* base = out.mutable_read_ptr() + start;
  std::rotate(base, base + body_length, base + (out.size() - start));
  if (refusal.head_only) out.truncate(out.size() - body_length);
  return body_length;
}

}  // namespace veer::http
