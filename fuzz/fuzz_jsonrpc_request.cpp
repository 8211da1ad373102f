// libFuzzer target: the JSON-RPC request codec (http/jsonrpc.hpp) and the method table
// (http/jsonrpc_methods.hpp). The input is a request body.
//
// Invariants, each a __builtin_trap():
// - every view (item text, id, method, params, each param) lies inside the body; an id
//   outside it is the literal "null";
// - against Boost.JSON (strict RFC 8259): the codec calls a body a parse error exactly
//   when Boost refuses it (away from the depth limit, which the two count differently,
//   and exponents Boost cannot represent); each call's text is the batch item Boost
//   finds at its position, and each param is Boost's params[i];
// - a call rewritten with append_with_param is still JSON, and parses back to a valid
//   call of the same method and id;
// - a batch above max_batch keeps max_batch + 1 calls.
#include <boost/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/buffer.hpp"
#include "http/jsonrpc.hpp"
#include "http/jsonrpc_methods.hpp"

namespace {

namespace jsonrpc = veer::http::jsonrpc;

bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

boost::json::value parse_strict(std::string_view text, boost::json::error_code& ec) {
  boost::json::parse_options options;
  options.max_depth = jsonrpc::kMaxDepth + 8;  // deeper than the codec allows
  return boost::json::parse(text, ec, {}, options);
}

unsigned depth(const boost::json::value& v) {
  unsigned deepest = 0;
  if (v.is_array()) {
    for (const boost::json::value& item : v.as_array())
      deepest = std::max(deepest, depth(item));
    return deepest + 1;
  }
  if (v.is_object()) {
    for (const auto& member : v.as_object())
      deepest = std::max(deepest, depth(member.value()));
    return deepest + 1;
  }
  return 0;
}

void check_call(const jsonrpc::Call& call, std::string_view body, const boost::json::value* item) {
  if (!inside(call.text, body) || !inside(call.method, body) || !inside(call.params, body))
    __builtin_trap();
  if (call.id != "null" && !inside(call.id, body)) __builtin_trap();
  if (call.error == 0 && call.method.empty()) __builtin_trap();
  (void)jsonrpc::method_info(call.method);
  (void)jsonrpc::glob_match("eth_*", call.method);
  boost::json::error_code ec;
  if (item != nullptr && parse_strict(call.text, ec) != *item) __builtin_trap();
  if (call.error != 0) return;
  for (std::size_t i = 0; i < 4; ++i) {
    const auto p = jsonrpc::param(call.params, i);
    if (!p) break;
    if (!inside(*p, body)) __builtin_trap();
    (void)jsonrpc::parse_block_ref(*p);
    (void)jsonrpc::parse_quantity(*p);
    if (item != nullptr && item->is_object()) {
      const boost::json::value& params = item->as_object().at("params");
      if (!params.is_array() || i >= params.as_array().size()) __builtin_trap();
      if (parse_strict(*p, ec) != params.as_array()[i]) __builtin_trap();
    }
  }
  veer::core::Buffer out;
  jsonrpc::append_with_param(out, call, 1, "\"0x1\"");
  jsonrpc::Request again;
  jsonrpc::parse_request(out.readable(), 1, again);
  if (again.error != 0 || again.calls.size() != 1 || again.calls[0].error != 0 ||
      again.calls[0].method != call.method || again.calls[0].id != call.id)
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  constexpr std::size_t kMaxBatch = 8;
  jsonrpc::Request request;
  const jsonrpc::RequestParse parsed = jsonrpc::parse_request(body, kMaxBatch, request);
  if (parsed.too_many && (request.calls.size() != kMaxBatch + 1 || !request.batch))
    __builtin_trap();
  if (request.error != 0 && !request.calls.empty()) __builtin_trap();

  boost::json::error_code ec;
  const boost::json::value doc = parse_strict(body, ec);
  if (ec == boost::json::error::exponent_overflow) return 0;
  const bool refused = request.error == jsonrpc::kParseError;
  if (!refused && ec) __builtin_trap();
  if (refused && !ec && depth(doc) < jsonrpc::kMaxDepth - 1) __builtin_trap();
  if (refused || ec) return 0;

  if (doc.is_array()) {
    const boost::json::array& items = doc.as_array();
    if (items.empty() != (request.error == jsonrpc::kInvalidRequest)) __builtin_trap();
    const std::size_t expected = std::min(items.size(), kMaxBatch + 1);
    if (!items.empty() && request.calls.size() != expected) __builtin_trap();
    for (std::size_t i = 0; i < request.calls.size(); ++i)
      check_call(request.calls[i], body, &items[i]);
  } else if (doc.is_object()) {
    if (request.calls.size() != 1) __builtin_trap();
    check_call(request.calls[0], body, &doc);
  } else if (request.error != jsonrpc::kInvalidRequest) {
    __builtin_trap();
  }
  return 0;
}
