// libFuzzer target: the JSON-RPC id scanner (http/jsonrpc_ids.hpp) and the refusal
// written with its ids (http/limit_response.hpp). The input is a request body.
//
// Invariants, each a __builtin_trap():
// - the iterator returns exactly count() ids, the same ones on a second pass, each
//   "null" or bytes of the body;
// - the ids round-trip: scanning the JSON-RPC error body veer writes gives back the
//   same ids in the same order (so every id veer echoes is well-formed JSON);
// - against Boost.JSON (strict RFC 8259): a body the scanner accepts, Boost accepts; a
//   non-empty array Boost accepts is a batch to the scanner; a single id the scanner
//   reports is the value Boost finds under "id".
#include <boost/json.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "http/jsonrpc_ids.hpp"
#include "http/limit_response.hpp"

namespace {

using veer::http::JsonRpcIds;

std::vector<std::string_view> collect(const JsonRpcIds& ids) {
  std::vector<std::string_view> out;
  JsonRpcIds::Iterator it = ids.begin();
  std::string_view id;
  while (it.next(&id))
    out.push_back(id);
  return out;
}

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

boost::json::value parse_strict(std::string_view text, boost::json::error_code& ec) {
  boost::json::parse_options options;
  options.max_depth = JsonRpcIds::kMaxDepth + 2;  // deeper than the scanner allows
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

void check_against_boost(std::string_view body, const JsonRpcIds& ids,
                         const std::vector<std::string_view>& found) {
  if (body.size() > JsonRpcIds::kScanLimit) return;
  boost::json::error_code ec;
  const boost::json::value doc = parse_strict(body, ec);
  // RFC 8259 puts no bound on exponents; Boost refuses the ones it cannot represent.
  if (ec == boost::json::error::exponent_overflow) return;
  if (ids.batch() && ec) __builtin_trap();
  // Away from the depth limit (where the two count levels differently) both accept the
  // same batches.
  if (!ec && doc.is_array() && !doc.as_array().empty() && !ids.batch() &&
      depth(doc) < JsonRpcIds::kMaxDepth - 2)
    __builtin_trap();
  if (ids.batch() || found[0] == JsonRpcIds::kNull) return;
  if (ec || !doc.is_object()) __builtin_trap();
  const boost::json::value* id = doc.as_object().if_contains("id");
  if (id == nullptr) __builtin_trap();
  boost::json::error_code id_ec;
  const boost::json::value echoed = parse_strict(found[0], id_ec);
  if (id_ec) __builtin_trap();
  // Numbers are compared by kind only: Boost 1.81 reads 0e999999999 as NaN.
  if (echoed.is_number() ? !id->is_number() : echoed != *id) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  const JsonRpcIds ids(body);
  const std::vector<std::string_view> found = collect(ids);
  if (found.size() != ids.count() || found.empty()) __builtin_trap();
  if (collect(ids) != found) __builtin_trap();
  for (const std::string_view id : found) {
    if (id != JsonRpcIds::kNull && !inside(id, body)) __builtin_trap();
  }

  veer::http::LimitRefusal refusal;
  refusal.limited_by = "per_client";
  refusal.policy_field = "\"per_client\";q=1;w=1";
  refusal.jsonrpc = &ids;
  veer::core::Buffer out;
  const std::size_t body_length = veer::http::write_limit_response(refusal, out);
  const std::string answer(out.readable().substr(out.size() - body_length));
  const JsonRpcIds answered(answer);
  if (answered.batch() != ids.batch() || collect(answered).size() != found.size()) __builtin_trap();
  std::size_t i = 0;
  for (const std::string_view id : collect(answered)) {
    if (id != found[i++]) __builtin_trap();
  }
  check_against_boost(body, ids, found);
  return 0;
}
