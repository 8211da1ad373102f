// The fake node's scripting side: POST /__control, the stats, and the chain's movement
// (growth, rewinds, reorgs) with the subscription notifications they cause.

#include "fake_rpc_service.hpp"

namespace veer::test::fake_rpc {

namespace json = boost::json;

namespace {

// Heads set far ahead notify their blocks one by one, up to this many (the last ones).
constexpr std::uint64_t kMaxNotifiedJump = 1000;

std::optional<double> number_of(const json::value& value) {
  if (value.is_double()) return value.get_double();
  if (value.is_int64()) return static_cast<double>(value.get_int64());
  if (value.is_uint64()) return static_cast<double>(value.get_uint64());
  return std::nullopt;
}

}  // namespace

bool Service::control(std::string_view body, std::string& error) {
  json::error_code ec;
  const json::value message = json::parse(body, ec);
  if (ec || !message.is_object()) {
    error = "a JSON object expected";
    return false;
  }
  static const std::set<std::string_view> known = {
      "head",       "block_ms",      "chain_id",    "syncing",     "error_rate",
      "error_code", "error_message", "http_status", "revert_rate", "missing_state",
      "delay_ms",   "reorg",         "seed"};
  for (const auto& member : message.get_object()) {
    const bool boolean = member.key() == "syncing" || member.key() == "missing_state";
    if (!known.contains(member.key()) ||
        (boolean                           ? !member.value().is_bool()
         : member.key() == "error_message" ? !member.value().is_string()
                                           : !number_of(member.value()))) {
      error = "bad member " + std::string(member.key());
      return false;
    }
  }
  for (const auto& member : message.get_object())
    apply(member.key(), member.value());
  return true;
}

void Service::apply(std::string_view key, const json::value& value) {
  if (key == "syncing") {
    syncing_ = value.get_bool();
    return;
  }
  if (key == "missing_state") {
    missing_state_ = value.get_bool();
    return;
  }
  if (key == "error_message") {
    error_message_ = value.get_string();
    return;
  }
  const double number = *number_of(value);
  const auto whole = static_cast<std::uint64_t>(number < 0 ? 0 : number);
  if (key == "head") set_head(whole);
  if (key == "chain_id") settings_.chain_id = whole;
  if (key == "error_rate") error_rate_ = number;
  if (key == "error_code") error_code_ = static_cast<std::int64_t>(number);
  if (key == "http_status") http_status_ = static_cast<int>(number);
  if (key == "revert_rate") revert_rate_ = number;
  if (key == "delay_ms") delay_ms_ = static_cast<std::uint32_t>(whole);
  if (key == "reorg") reorg(whole);
  if (key == "seed") random_.seed(whole);
  if (key == "block_ms") {
    settings_.block_ms = static_cast<std::uint32_t>(whole);
    if (on_block_ms_change) on_block_ms_change();
  }
}

void Service::grow() {
  set_head(chain_.head() + 1);
}

void Service::set_head(std::uint64_t head) {
  const std::uint64_t old = chain_.head();
  chain_.set_head(head);
  if (head <= old) return;  // a rewind: nothing to announce
  const std::uint64_t first = head - old > kMaxNotifiedJump ? head - kMaxNotifiedJump + 1 : old + 1;
  for (std::uint64_t n = first; n <= head; ++n) {
    notify(Subscription::new_heads, chain_.block(n));
    notify(Subscription::logs, chain_.log(n));
    notify(Subscription::pending, json::value(chain_.transaction_hash(n)));
  }
}

void Service::reorg(std::uint64_t blocks) {
  if (blocks == 0) return;
  const std::uint64_t head = chain_.head();
  const std::uint64_t first = blocks > head ? 0 : head - blocks + 1;
  for (std::uint64_t n = first; n <= head; ++n)
    notify(Subscription::logs, chain_.log(n, true));
  chain_.reorg(blocks);
  for (std::uint64_t n = first; n <= head; ++n) {
    notify(Subscription::logs, chain_.log(n));
    notify(Subscription::new_heads, chain_.block(n));
  }
}

void Service::notify(Subscription::Kind kind, const json::value& result) {
  for (const auto& [id, subscription] : subscriptions_) {
    if (subscription.kind != kind) continue;
    json::object message{{"jsonrpc", "2.0"},
                         {"method", "eth_subscription"},
                         {"params", json::object{{"subscription", id}, {"result", result}}}};
    subscription.peer.send(json::serialize(message));
  }
}

std::string Service::stats() const {
  json::object calls;
  for (const auto& [method, count] : calls_)
    calls[method] = count;
  return json::serialize(json::object{{"calls", std::move(calls)},
                                      {"batches", batches_},
                                      {"ws_connections", ws_connections_},
                                      {"subscriptions", subscribed_},
                                      {"active_subscriptions", subscriptions_.size()},
                                      {"head", chain_.head()}});
}

void Service::reset_stats() {
  calls_.clear();
  batches_ = 0;
  ws_connections_ = 0;
  subscribed_ = 0;
}

}  // namespace veer::test::fake_rpc
