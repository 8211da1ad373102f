#include "fake_rpc_node.hpp"

#include <boost/json.hpp>

#include "backend_process.hpp"
#include "http_client.hpp"
#include "poll.hpp"

namespace veer::test {

std::string fake_rpc_node_binary() {
  return VEER_FAKE_RPC_NODE_BINARY;
}

FakeRpcNode::FakeRpcNode(std::string name, FakeRpcNodeOptions options)
    : name_(std::move(name)), options_(options), port_(free_port()) {
  restart();
}

FakeRpcNode::~FakeRpcNode() = default;

bool FakeRpcNode::running() const {
  return process_ != nullptr;
}

void FakeRpcNode::kill() {
  process_.reset();
}

bool FakeRpcNode::restart() {
  process_.reset();
  process_ = std::make_unique<VeerProcess>(
      "", VeerOptions{.binary = fake_rpc_node_binary(),
                      .command = {"--name", name_, "--port", std::to_string(port_), "--head",
                                  std::to_string(options_.head), "--chain-id",
                                  std::to_string(options_.chain_id), "--block-ms",
                                  std::to_string(options_.block_ms), "--index",
                                  std::to_string(options_.index)}});
  if (!process_->wait_for_log("listening on", 10s)) return false;
  // Listening is logged after bind and listen, so the first call answers; poll anyway, in
  // case a slow start (a sanitizer build) delays the accept loop.
  return poll_until(
      [&] {
        const auto answer = fetch(port_, "GET", "/");
        return answer && answer->status == 200;
      },
      10s);
}

bool FakeRpcNode::control(const std::string& json) {
  const auto answer = fetch(port_, "POST", "/__control", json);
  return answer && answer->status == 200;
}

std::string FakeRpcNode::stats() {
  const auto answer = fetch(port_, "GET", "/__stats");
  return answer && answer->status == 200 ? answer->body : std::string();
}

std::uint64_t FakeRpcNode::calls(const std::string& method) {
  boost::json::error_code ec;
  const boost::json::value parsed = boost::json::parse(stats(), ec);
  if (ec || !parsed.is_object()) return 0;
  const boost::json::value* calls = parsed.get_object().if_contains("calls");
  const boost::json::value* count =
      calls != nullptr && calls->is_object() ? calls->get_object().if_contains(method) : nullptr;
  return count != nullptr && count->is_number() ? count->to_number<std::uint64_t>() : 0;
}

void FakeRpcNode::reset_stats() {
  fetch(port_, "POST", "/__reset_stats");
}

}  // namespace veer::test
