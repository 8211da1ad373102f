#include "health/evaluate.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>
#include <memory>

#include "http/chunked.hpp"
#include "http/http_parser.hpp"

namespace veer::health {

std::string check_request(const conf::HealthConfig& config, std::string_view backend) {
  const bool jsonrpc = config.type == conf::HealthConfig::Type::jsonrpc;
  const std::string body =
      jsonrpc ? R"({"jsonrpc":"2.0","id":1,"method":")" + config.rpc_method + R"(","params":[]})"
              : std::string();
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

std::optional<std::uint64_t> parse_block_number(std::string_view body, bool expect_block,
                                                std::string* why) {
  boost::system::error_code ec;
  const boost::json::value answer = boost::json::parse(body, ec);
  if (ec || !answer.is_object()) {
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
  const boost::json::string* hex = result->if_string();
  std::uint64_t block = 0;
  if (hex == nullptr || hex->size() < 3 || hex->subview(0, 2) != "0x" ||
      std::from_chars(hex->data() + 2, hex->data() + hex->size(), block, 16).ptr !=
          hex->data() + hex->size()) {
    *why = "result is not a hex block number";
    return std::nullopt;
  }
  return block;
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
