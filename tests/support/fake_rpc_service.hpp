#pragma once

// The fake JSON-RPC node's behaviour without its sockets: methods, control, stats,
// filters and subscriptions (tests/support/fake_rpc_node.hpp is the contract). One
// thread: fake_rpc_node_main.cpp calls it from its only io_context.

#include <boost/json.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>

#include "fake_rpc_chain.hpp"

namespace veer::test::fake_rpc {

struct Settings {
  std::string name = "node";
  std::uint64_t head = 100;
  std::uint64_t chain_id = 1;
  std::uint32_t block_ms = 0;
  std::uint32_t index = 0;
};

// Who sent a call: HTTP has no peer; a WebSocket connection has an id and a way to push
// notifications to it.
struct Peer {
  std::uint64_t id = 0;
  std::function<void(std::string)> send;
};

class Service {
 public:
  explicit Service(Settings settings);

  // The answer to a JSON-RPC message (one call or a batch), as text.
  std::string call(std::string_view body, Peer* peer);
  // Applies a /__control object; false (with the reason) when it is not one.
  bool control(std::string_view body, std::string& error);
  std::string stats() const;
  void reset_stats();
  void peer_opened() { ++ws_connections_; }
  void peer_closed(std::uint64_t peer_id);

  // One new block on top of the head (the block_ms timer), with its notifications.
  void grow();

  const std::string& name() const { return settings_.name; }
  std::uint32_t block_ms() const { return settings_.block_ms; }
  std::uint32_t delay_ms() const { return delay_ms_; }
  int http_status() const { return http_status_; }
  // Called when block_ms changes, so the server restarts its timer.
  std::function<void()> on_block_ms_change;

 private:
  struct Answer {
    boost::json::value result;
    std::optional<std::pair<std::int64_t, std::string>> error;
  };
  struct Filter {
    enum Kind { logs, blocks, pending } kind = logs;
    std::uint64_t from = 0, to = UINT64_MAX;
    std::uint64_t seen = 0;  // the head at the last poll
  };
  struct Subscription {
    enum Kind { new_heads, logs, pending } kind = new_heads;
    Peer peer;
  };

  boost::json::value call_one(const boost::json::value& request, Peer* peer);
  Answer dispatch(std::string_view method, const boost::json::array& params, Peer* peer);
  Answer block_by_number(const boost::json::array& params) const;
  Answer get_logs(const boost::json::array& params) const;
  Answer execute(std::string_view method);
  Answer send_raw_transaction(const boost::json::array& params);
  Answer new_filter(Filter::Kind kind, const boost::json::array& params);
  Answer filter_changes(const boost::json::array& params, bool all);
  Answer subscribe(const boost::json::array& params, Peer* peer);
  Answer unsubscribe(const boost::json::array& params, Peer* peer);
  bool draw(double rate);
  std::string new_id();
  boost::json::array logs_between(std::uint64_t from, std::uint64_t to) const;

  void apply(std::string_view key, const boost::json::value& value);
  void set_head(std::uint64_t head);
  void reorg(std::uint64_t blocks);
  void notify(Subscription::Kind kind, const boost::json::value& result);

  Settings settings_;
  Chain chain_;
  bool syncing_ = false;
  double error_rate_ = 0;
  std::int64_t error_code_ = -32603;
  std::string error_message_ = "internal error";
  int http_status_ = 0;
  double revert_rate_ = 0;
  bool missing_state_ = false;
  std::uint32_t delay_ms_ = 0;
  std::mt19937_64 random_{1};
  std::uint64_t next_id_ = 0;

  std::set<std::string> transactions_;
  std::map<std::string, Filter> filters_;
  std::map<std::string, Subscription> subscriptions_;

  std::map<std::string, std::uint64_t> calls_;
  std::uint64_t batches_ = 0;
  std::uint64_t ws_connections_ = 0;
  std::uint64_t subscribed_ = 0;
};

}  // namespace veer::test::fake_rpc
