#include "fake_rpc_service.hpp"

#include <algorithm>

namespace veer::test::fake_rpc {

namespace json = boost::json;

namespace {

constexpr std::uint64_t kMaxLogsRange = 10000;  // geth's default eth_getLogs block range

json::object error_object(std::int64_t code, std::string_view message) {
  return json::object{{"code", code}, {"message", message}};
}

json::object response(const json::value& id, json::value result) {
  return json::object{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json::object error_response(const json::value& id, std::int64_t code, std::string_view message) {
  return json::object{{"jsonrpc", "2.0"}, {"id", id}, {"error", error_object(code, message)}};
}

const json::value* param(const json::array& params, std::size_t index) {
  return index < params.size() ? &params[index] : nullptr;
}

std::string_view string_param(const json::array& params, std::size_t index) {
  const json::value* value = param(params, index);
  return value != nullptr && value->is_string() ? std::string_view(value->get_string())
                                                : std::string_view();
}

bool starts_with_any(std::string_view method, std::initializer_list<std::string_view> prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](std::string_view prefix) { return method.starts_with(prefix); });
}

}  // namespace

Service::Service(Settings settings) : settings_(std::move(settings)), chain_(settings_.head) {}

std::string Service::call(std::string_view body, Peer* peer) {
  json::error_code ec;
  json::value message = json::parse(body, ec);
  if (ec) return json::serialize(error_response(nullptr, -32700, "parse error"));
  if (!message.is_array()) return json::serialize(call_one(message, peer));
  ++batches_;
  const json::array& items = message.get_array();
  if (items.empty()) return json::serialize(error_response(nullptr, -32600, "empty batch"));
  json::array answers;
  for (const json::value& item : items)
    answers.push_back(call_one(item, peer));
  return json::serialize(answers);
}

json::value Service::call_one(const json::value& request, Peer* peer) {
  const json::object* object = request.if_object();
  const json::value* id = object != nullptr ? object->if_contains("id") : nullptr;
  const json::value null_id;
  const json::value& the_id = id != nullptr ? *id : null_id;
  const json::value* method = object != nullptr ? object->if_contains("method") : nullptr;
  if (method == nullptr || !method->is_string())
    return error_response(the_id, -32600, "invalid request");
  const std::string_view name = method->get_string();
  ++calls_[std::string(name)];
  const json::value* params_value = object->if_contains("params");
  const json::array no_params;
  const json::array& params =
      params_value != nullptr && params_value->is_array() ? params_value->get_array() : no_params;
  const bool exempt = name == "eth_chainId" || name == "eth_syncing" || name == "eth_blockNumber";
  if (!exempt && draw(error_rate_)) return error_response(the_id, error_code_, error_message_);
  Answer answer = dispatch(name, params, peer);
  if (answer.error) return error_response(the_id, answer.error->first, answer.error->second);
  return response(the_id, std::move(answer.result));
}

Service::Answer Service::dispatch(std::string_view method, const json::array& params, Peer* peer) {
  if (method == "eth_blockNumber") return {json::string(hex_quantity(chain_.head())), {}};
  if (method == "eth_chainId") return {json::string(hex_quantity(settings_.chain_id)), {}};
  if (method == "net_version") return {json::string(std::to_string(settings_.chain_id)), {}};
  if (method == "web3_clientVersion") return {json::string("fake/" + settings_.name), {}};
  if (method == "eth_syncing") {
    if (!syncing_) return {false, {}};
    return {json::object{{"startingBlock", "0x0"},
                         {"currentBlock", hex_quantity(chain_.head())},
                         {"highestBlock", hex_quantity(chain_.head() + 100)}},
            {}};
  }
  if (method == "eth_getBlockByNumber") return block_by_number(params);
  if (method == "eth_getLogs") return get_logs(params);
  if (method == "eth_call" || method == "eth_estimateGas") return execute(method);
  if (method == "eth_getBalance") return {json::string(hex_quantity(settings_.index)), {}};
  if (method == "eth_sendRawTransaction") return send_raw_transaction(params);
  if (method == "eth_newFilter") return new_filter(Filter::logs, params);
  if (method == "eth_newBlockFilter") return new_filter(Filter::blocks, params);
  if (method == "eth_newPendingTransactionFilter") return new_filter(Filter::pending, params);
  if (method == "eth_getFilterChanges") return filter_changes(params, false);
  if (method == "eth_getFilterLogs") return filter_changes(params, true);
  if (method == "eth_uninstallFilter") {
    if (filters_.erase(std::string(string_param(params, 0))) == 0)
      return {nullptr, {{-32000, "filter not found"}}};
    return {true, {}};
  }
  if (method == "eth_accounts") return {json::array{"0x" + std::string(38, '0') + "aa"}, {}};
  if (starts_with_any(method, {"debug_", "trace_", "admin_", "personal_"}))
    return {json::string(settings_.name + ":" + std::string(method)), {}};
  if (peer != nullptr && method == "eth_subscribe") return subscribe(params, peer);
  if (peer != nullptr && method == "eth_unsubscribe") return unsubscribe(params, peer);
  return {nullptr, {{-32601, "the method " + std::string(method) + " does not exist"}}};
}

Service::Answer Service::block_by_number(const json::array& params) const {
  if (missing_state_) return {nullptr, {{-32000, "header not found"}}};
  const json::value* tag = param(params, 0);
  const std::optional<std::uint64_t> number = tag ? chain_.resolve_tag(*tag) : std::nullopt;
  if (!number) return {nullptr, {{-32602, "invalid block number"}}};
  if (*number > chain_.head()) return {nullptr, {}};
  return {chain_.block(*number), {}};
}

Service::Answer Service::get_logs(const json::array& params) const {
  const json::value* filter_value = param(params, 0);
  const json::object* filter = filter_value ? filter_value->if_object() : nullptr;
  if (filter == nullptr) return {nullptr, {{-32602, "missing filter"}}};
  if (const json::value* hash = filter->if_contains("blockHash"); hash && hash->is_string()) {
    const auto number = chain_.find_block(hash->get_string());
    if (!number) return {nullptr, {{-32000, "unknown block"}}};
    return {logs_between(*number, *number), {}};
  }
  const json::value null_tag;
  const json::value* from_tag = filter->if_contains("fromBlock");
  const json::value* to_tag = filter->if_contains("toBlock");
  const auto from = chain_.resolve_tag(from_tag ? *from_tag : null_tag);
  const auto to = chain_.resolve_tag(to_tag ? *to_tag : null_tag);
  if (!from || !to) return {nullptr, {{-32602, "invalid block range"}}};
  if (*to >= *from && *to - *from >= kMaxLogsRange)
    return {nullptr, {{-32005, "query exceeds max block range 10000"}}};
  return {logs_between(*from, *to), {}};
}

json::array Service::logs_between(std::uint64_t from, std::uint64_t to) const {
  json::array logs;
  for (std::uint64_t n = from; n <= std::min(to, chain_.head()); ++n)
    logs.push_back(chain_.log(n));
  return logs;
}

Service::Answer Service::execute(std::string_view method) {
  if (missing_state_ && method == "eth_call") return {nullptr, {{-32000, "header not found"}}};
  if (draw(revert_rate_)) return {nullptr, {{3, "execution reverted"}}};
  return {method == "eth_call" ? "0x" : "0x5208", {}};
}

Service::Answer Service::send_raw_transaction(const json::array& params) {
  const std::optional<std::string> raw = parse_hex_bytes(string_param(params, 0));
  if (!raw || raw->empty()) return {nullptr, {{-32602, "invalid raw transaction"}}};
  if (!transactions_.insert(*raw).second) return {nullptr, {{-32000, "already known"}}};
  const auto digest = keccak256(*raw);
  return {json::string(hex_bytes(digest.data(), digest.size())), {}};
}

Service::Answer Service::new_filter(Filter::Kind kind, const json::array& params) {
  Filter filter{.kind = kind, .seen = chain_.head()};
  if (const json::value* value = param(params, 0); value && value->is_object()) {
    const json::object& criteria = value->get_object();
    if (const json::value* from = criteria.if_contains("fromBlock"))
      filter.from = chain_.resolve_tag(*from).value_or(0);
    if (const json::value* to = criteria.if_contains("toBlock"))
      if (!to->is_string() || to->get_string() != "latest")
        filter.to = chain_.resolve_tag(*to).value_or(UINT64_MAX);
  }
  const std::string id = new_id();
  filters_[id] = filter;
  return {json::string(id), {}};
}

Service::Answer Service::filter_changes(const json::array& params, bool all) {
  const auto found = filters_.find(std::string(string_param(params, 0)));
  if (found == filters_.end() || (all && found->second.kind != Filter::logs))
    return {nullptr, {{-32000, "filter not found"}}};
  Filter& filter = found->second;
  if (all) return {logs_between(filter.from, filter.to), {}};
  json::array changes;
  for (std::uint64_t n = filter.seen + 1; n <= chain_.head(); ++n) {
    if (filter.kind == Filter::blocks) changes.push_back(json::value(chain_.block_hash(n)));
    if (filter.kind == Filter::pending) changes.push_back(json::value(chain_.transaction_hash(n)));
    if (filter.kind == Filter::logs && n >= filter.from && n <= filter.to)
      changes.push_back(chain_.log(n));
  }
  filter.seen = chain_.head();
  return {std::move(changes), {}};
}

Service::Answer Service::subscribe(const json::array& params, Peer* peer) {
  const std::string_view kind = string_param(params, 0);
  Subscription subscription{.peer = *peer};
  if (kind == "newHeads") {
    subscription.kind = Subscription::new_heads;
  } else if (kind == "logs") {
    subscription.kind = Subscription::logs;
  } else if (kind == "newPendingTransactions") {
    subscription.kind = Subscription::pending;
  } else {
    return {nullptr, {{-32602, "unknown subscription kind " + std::string(kind)}}};
  }
  const std::string id = new_id();
  subscriptions_.emplace(id, std::move(subscription));
  ++subscribed_;
  return {json::string(id), {}};
}

Service::Answer Service::unsubscribe(const json::array& params, Peer* peer) {
  const auto found = subscriptions_.find(std::string(string_param(params, 0)));
  if (found == subscriptions_.end() || found->second.peer.id != peer->id)
    return {nullptr, {{-32000, "subscription not found"}}};
  subscriptions_.erase(found);
  return {true, {}};
}

void Service::peer_closed(std::uint64_t peer_id) {
  std::erase_if(subscriptions_, [&](const auto& entry) { return entry.second.peer.id == peer_id; });
}

bool Service::draw(double rate) {
  if (rate <= 0) return false;
  return std::uniform_real_distribution<double>(0, 1)(random_) < rate;
}

std::string Service::new_id() {
  const auto digest = keccak256(settings_.name + "/" + std::to_string(++next_id_));
  return hex_bytes(digest.data(), 16);
}

}  // namespace veer::test::fake_rpc
