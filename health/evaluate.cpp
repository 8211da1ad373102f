#include "health/evaluate.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <memory>

#include "http/chunked.hpp"
#include "http/http_parser.hpp"

namespace veer::health {

bool tracks_heads(const conf::HealthConfig& config) {
  return config.type == conf::HealthConfig::Type::jsonrpc && config.rpc_method == "eth_blockNumber";
}

namespace {

std::string rpc_call(int id, std::string_view method) {
  return R"({"jsonrpc":"2.0","id":)" + std::to_string(id) + R"(,"method":")" + std::string(method) +
         R"(","params":[]})";
}

// Ids of the head-tracking batch's calls.
constexpr int kBlockId = 1;
constexpr int kSyncingId = 2;
constexpr int kChainId = 3;

}  // namespace

std::string check_request(const conf::HealthConfig& config, std::string_view backend,
                          bool ask_chain_id) {
  const bool jsonrpc = config.type == conf::HealthConfig::Type::jsonrpc;
  std::string body;
  if (tracks_heads(config)) {
    body = "[" + rpc_call(kBlockId, "eth_blockNumber") + "," + rpc_call(kSyncingId, "eth_syncing") +
           (ask_chain_id ? "," + rpc_call(kChainId, "eth_chainId") : std::string()) + "]";
  } else if (jsonrpc) {
    body = rpc_call(kBlockId, config.rpc_method);
  }
  std::string request =
      (jsonrpc ? std::string("POST") : config.http_method) + " " + config.path +
      " HTTP/1.1\r\nHost: " + (config.host.empty() ? std::string(backend) : config.host) +
      "\r\nUser-Agent: veer-health-check\r\nConnection: close\r\n";
  for (const auto& [name, value] : config.headers)
    request += name + ": " + value + "\r\n";
  if (jsonrpc) {
    request +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  return request + "\r\n" + body;
}

namespace {

std::optional<std::uint64_t> parse_hex(const boost::json::value* value) {
  const boost::json::string* hex = value == nullptr ? nullptr : value->if_string();
  std::uint64_t number = 0;
  if (hex == nullptr || hex->size() < 3 || hex->subview(0, 2) != "0x" ||
      std::from_chars(hex->data() + 2, hex->data() + hex->size(), number, 16).ptr !=
          hex->data() + hex->size()) {
    return std::nullopt;
  }
  return number;
}

// One JSON-RPC answer object: its block number (or 0 when !expect_block), or nullopt
// with *why.
std::optional<std::uint64_t> block_of(const boost::json::value& answer, bool expect_block,
                                      std::string* why) {
  if (!answer.is_object()) {
    *why = "answer is not a JSON-RPC object";
    return std::nullopt;
  }
  const boost::json::object& object = answer.as_object();
  if (const auto* error = object.if_contains("error"); error != nullptr && !error->is_null()) {
    *why = "JSON-RPC error " + boost::json::serialize(*error);
    return std::nullopt;
  }
  const auto* result = object.if_contains("result");
  if (result == nullptr || result->is_null()) {
    *why = "JSON-RPC answer without a result";
    return std::nullopt;
  }
  if (!expect_block) return 0;
  const std::optional<std::uint64_t> block = parse_hex(result);
  if (!block) *why = "result is not a hex block number";
  return block;
}

// The result of the batch item with `id`, or null when absent or an error.
const boost::json::value* result_of(const boost::json::array& batch, int id) {
  for (const boost::json::value& item : batch) {
    const boost::json::object* object = item.if_object();
    if (object == nullptr) continue;
    const auto* item_id = object->if_contains("id");
    if (item_id == nullptr || !item_id->is_int64() || item_id->as_int64() != id) continue;
    const auto* error = object->if_contains("error");
    if (error != nullptr && !error->is_null()) return nullptr;
    return object->if_contains("result");
  }
  return nullptr;
}

// eth_syncing's result: false, or an object with currentBlock and highestBlock. Some
// nodes keep answering an object once caught up: current >= highest is not syncing.
std::optional<std::string> syncing_cause(const boost::json::value* result) {
  if (result == nullptr || !result->is_object()) return std::nullopt;
  const boost::json::object& progress = result->as_object();
  const auto current = parse_hex(progress.if_contains("currentBlock"));
  const auto highest = parse_hex(progress.if_contains("highestBlock"));
  if (current && highest && *current >= *highest) return std::nullopt;
  const auto text = [](const std::optional<std::uint64_t>& n) {
    return n ? std::to_string(*n) : std::string("unknown");
  };
  return "syncing: current " + text(current) + ", highest " + text(highest);
}

// The head-tracking batch's answer: the block (id 1), the syncing state (id 2, which only
// fails the check when the node says it is syncing) and the chain id (id 3, when asked).
CheckResult evaluate_heads(std::string_view body) {
  CheckResult result;
  boost::system::error_code ec;
  const boost::json::value answer = boost::json::parse(body, ec);
  if (ec) {
    result.cause = "answer is not JSON";
    return result;
  }
  const boost::json::array* batch = answer.if_array();
  if (batch == nullptr) {  // a node that refused the batch as a whole, or ignored it
    result.block = block_of(answer, true, &result.cause);
    result.ok = result.block.has_value();
    if (result.ok) result.cause = "block " + std::to_string(*result.block);
    return result;
  }
  const boost::json::value* block_item = nullptr;
  for (const boost::json::value& item : *batch) {
    const auto* object = item.if_object();
    const auto* id = object == nullptr ? nullptr : object->if_contains("id");
    if (id != nullptr && id->is_int64() && id->as_int64() == kBlockId) block_item = &item;
  }
  if (block_item == nullptr) {
    result.cause = "batch answer without eth_blockNumber";
    return result;
  }
  result.block = block_of(*block_item, true, &result.cause);
  if (!result.block) return result;
  if (const auto* chain = result_of(*batch, kChainId)) result.chain_id = parse_hex(chain);
  if (auto syncing = syncing_cause(result_of(*batch, kSyncingId))) {
    result.cause = std::move(*syncing);
    return result;
  }
  result.ok = true;
  result.cause = "block " + std::to_string(*result.block);
  return result;
}

}  // namespace

std::optional<std::uint64_t> parse_block_number(std::string_view body, bool expect_block,
                                                std::string* why) {
  boost::system::error_code ec;
  const boost::json::value answer = boost::json::parse(body, ec);
  if (ec) {
    *why = "answer is not a JSON-RPC object";
    return std::nullopt;
  }
  return block_of(answer, expect_block, why);
}

CheckResult evaluate_answer(const conf::HealthConfig& config, std::string_view answer) {
  CheckResult result;
  std::size_t scan = 0;
  const std::size_t head_end = http::find_head_end(answer, scan);
  if (head_end == 0) {
    result.cause = answer.empty() ? "no answer" : "incomplete answer";
    return result;
  }
  auto head = std::make_unique<http::ResponseHead>();
  if (const http::ParseError error =
          http::parse_response_head(answer.substr(0, head_end), false, *head)) {
    result.cause = std::string(error.reason);
    return result;
  }
  // The body, decoded when chunked.
  std::string body;
  std::string_view rest = answer.substr(head_end);
  if (head->framing == http::BodyFraming::chunked) {
    http::ChunkedDecoder decoder;
    while (!rest.empty() && !decoder.done()) {
      std::string_view data;
      const auto step = decoder.next(rest, &data);
      if (step.status == http::ChunkedDecoder::Status::error) break;
      body.append(data);
      rest.remove_prefix(step.consumed);
    }
  } else {
    body = rest.substr(0, head->framing == http::BodyFraming::content_length
                              ? static_cast<std::size_t>(head->content_length)
                              : rest.size());
  }
  const std::string status = "status " + std::to_string(head->status);
  if (config.type == conf::HealthConfig::Type::jsonrpc) {
    if (head->status != 200) {
      result.cause = status;
      return result;
    }
    if (tracks_heads(config)) return evaluate_heads(body);
    std::string why;
    result.block = parse_block_number(body, config.rpc_method == "eth_blockNumber", &why);
    result.ok = result.block.has_value();
    result.cause = result.ok ? (config.rpc_method == "eth_blockNumber"
                                    ? "block " + std::to_string(*result.block)
                                    : "result")
                             : why;
    if (config.rpc_method != "eth_blockNumber") result.block.reset();
    return result;
  }
  if (head->status < config.expect_min || head->status > config.expect_max) {
    result.cause = status + ", expected " + std::to_string(config.expect_min) + "-" +
                   std::to_string(config.expect_max);
    return result;
  }
  if (!config.body.empty() && body.find(config.body) == std::string::npos) {
    result.cause = "body does not contain \"" + config.body + "\"";
    return result;
  }
  result.ok = true;
  result.cause = status;
  return result;
}

}  // namespace veer::health
