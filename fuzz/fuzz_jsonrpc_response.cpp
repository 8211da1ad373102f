// libFuzzer target: the JSON-RPC response codec (http/jsonrpc.hpp) and the error
// classes (http/jsonrpc_methods.hpp). The input is a response body from a backend.
//
// Invariants, each a __builtin_trap():
// - every view of a reply (text, id, result, error message and data) lies inside the
//   body; an id outside it is the literal "null";
// - a body the codec calls valid, Boost.JSON (strict RFC 8259) accepts, and each
//   reply's text is Boost's item; a reply has a result or an error, never both;
// - each reply round-trips: append_result / append_error with its id and class write a
//   body the codec reads back as one valid reply with the same id.
#include <boost/json.hpp>

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

void round_trip(const jsonrpc::Reply& reply) {
  veer::core::Buffer out;
  if (reply.has_error) {
    jsonrpc::append_error(out, reply.id, static_cast<int>(reply.error_code & 0x7fff),
                          reply.error_message, reply.error_data);
  } else {
    jsonrpc::append_result(out, reply.id, reply.result);
  }
  jsonrpc::Response back;
  jsonrpc::parse_response(out.readable(), back);
  if (!back.valid || back.replies.size() != 1 || back.replies[0].id != reply.id ||
      back.replies[0].has_error != reply.has_error)
    __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  jsonrpc::Response response;
  jsonrpc::parse_response(body, response);
  if (!response.valid) {
    if (!response.replies.empty()) __builtin_trap();
    return 0;
  }
  boost::json::error_code ec;
  boost::json::parse_options options;
  options.max_depth = jsonrpc::kMaxDepth + 8;
  const boost::json::value doc = boost::json::parse(body, ec, {}, options);
  if (ec == boost::json::error::exponent_overflow) return 0;
  if (ec || response.replies.empty()) __builtin_trap();
  if (response.batch != doc.is_array()) __builtin_trap();
  if (doc.is_array() && doc.as_array().size() != response.replies.size()) __builtin_trap();
  for (std::size_t i = 0; i < response.replies.size(); ++i) {
    const jsonrpc::Reply& reply = response.replies[i];
    if (!inside(reply.text, body) || !inside(reply.result, body) ||
        !inside(reply.error_message, body) || !inside(reply.error_data, body))
      __builtin_trap();
    if (reply.id != "null" && !inside(reply.id, body)) __builtin_trap();
    if (reply.has_error == !reply.result.empty()) __builtin_trap();
    const boost::json::value& item = doc.is_array() ? doc.as_array()[i] : doc;
    boost::json::error_code item_ec;
    if (boost::json::parse(reply.text, item_ec, {}, options) != item) __builtin_trap();
    (void)jsonrpc::classify(reply);
    (void)jsonrpc::already_delivered(reply);
    round_trip(reply);
  }
  return 0;
}
