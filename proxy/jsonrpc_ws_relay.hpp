#pragma once

// A WebSocket upgrade on a JSON-RPC route, after the backend's 101: instead of a byte
// Tunnel, a relay that reads the frames of both sides (http/websocket_frame.hpp), keeps
// the calls and subscriptions in a jsonrpc_ws::Book, and when its backend dies, is
// drained, disabled or down, or falls more than the health check's max_lag_blocks
// behind the pool's highest head, connects to another backend of the route's target,
// shakes hands as a WebSocket client (hand-written over tls::Stream: Beast's client
// needs an Asio stream, which tls::Stream is not, and the same code runs on both
// engines), and lets the Book issue every subscription again and fill the gap. When
// that is not possible (a subscription kind veer does not know, no backend left) the
// client is closed with 1012, so that its library reconnects at once. A client whose
// unsent data passes max_queue_bytes is closed with 1013; toward the node, the client is
// not read while more than max_queue_bytes wait to be written to it (or to the next
// node, during a failover). Every client call passes the route's method policy
// (runtime::plan_call): denied methods, eth_accounts and the logs range cap are answered
// here; method routes and archive routing do not apply (a subscription's connection
// stays on one node). tunnel_idle still applies.

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "conf/duration.hpp"
#include "core/asio.hpp"
#include "core/backend_stats.hpp"
#include "core/buffer.hpp"
#include "core/ref_counted.hpp"
#include "http/jsonrpc.hpp"
#include "http/websocket_frame.hpp"
#include "proxy/client_slot.hpp"
#include "proxy/connection.hpp"
#include "proxy/deadline.hpp"
#include "proxy/jsonrpc_ws_book.hpp"
#include "proxy/socket.hpp"
#include "proxy/upstream_pool.hpp"
#include "runtime/route_pick.hpp"
#include "runtime/worker_view.hpp"

namespace veer::proxy {

class Worker;

struct JsonRpcWsSettings {
  std::uint32_t max_subscriptions = 100;
  std::uint64_t max_queue_bytes = 1024 * 1024;
  conf::Duration idle_timeout{};
  conf::Duration connect_timeout{};
  std::string path;  // of the client's upgrade request, for the handshakes with other nodes
};

class JsonRpcWsRelay final : public core::RefCounted<JsonRpcWsRelay>,
                             public Connection,
                             public TimeoutHandler {
 public:
  // As Tunnel's: `client_pending` holds bytes the client sent after its upgrade
  // request; the backend connection is counted in its stats' active_connections.
  JsonRpcWsRelay(Worker& worker, Stream client, std::unique_ptr<UpstreamConnection> backend,
                 core::Buffer client_pending, core::Ref<runtime::WorkerView> view,
                 runtime::Assignment pick, JsonRpcWsSettings settings);
  ~JsonRpcWsRelay();

  void keep_client_slot(ClientSlot slot) { client_slot_ = std::move(slot); }
  void start();
  void drain() override {}
  void abort() override { close(); }
  // A removed backend's drain deadline: the subscriptions move to another backend.
  void abort_if_using(const core::BackendStats& backend) override;
  void abort_if_routed_via(const runtime::SplitTargetTag&) override {}
  void on_timeout(Deadline& d) override;

 private:
  enum class NodeState : std::uint8_t { open, connecting, handshaking, gone };

  // Client side (jsonrpc_ws_relay.cpp).
  void read_client();
  void on_client_readable(const error_code& ec);
  void client_bytes();
  void flush_client();
  void close_client(std::uint16_t code, std::string_view reason);
  void dispatch(jsonrpc_ws::Out& out);
  void send_to_node(std::string_view text);
  void note_counters();
  jsonrpc_ws::Verdict plan(std::string_view call_text);
  std::uint64_t pool_head() const;
  // Bytes waiting for the node (written, queued, or held for the next node) pass
  // max_queue_bytes: the client is not read until they drain.
  bool node_full() const;
  void resume_client();
  void touch();
  void close();

  // Node side (jsonrpc_ws_upstream.cpp).
  void read_node();
  void on_node_readable(std::uint64_t generation, const error_code& ec);
  void node_bytes();
  void flush_node();
  void check_backend();
  void fail_over(std::string_view why);
  void connect_next();
  void on_connected(const error_code& ec);
  void send_handshake();
  void on_handshake_bytes();
  void node_ready();
  void drop_node();
  // Counts the end of one operation on `conn`; true when `conn` is no longer the current
  // node (a retired connection, freed with its last operation): the completion is stale.
  bool node_op_done(UpstreamConnection* conn);
  const runtime::BackendRuntime& backend() const;

  core::Ref<JsonRpcWsRelay> self() { return core::Ref<JsonRpcWsRelay>(this); }

  Worker& worker_;
  Stream client_;
  std::unique_ptr<UpstreamConnection> node_;
  // Dropped node connections until their last operation completes, with the bytes a
  // write of theirs may still be reading.
  struct Retired {
    std::unique_ptr<UpstreamConnection> connection;
    std::string writing;
  };
  std::vector<Retired> retired_;
  core::Ref<runtime::WorkerView> view_;  // the snapshot the pick's indices are in
  runtime::Assignment pick_;
  std::shared_ptr<core::BackendStats> stats_;  // of the current backend, counted while open
  JsonRpcWsSettings settings_;
  jsonrpc_ws::Book book_;
  http::ws::FrameReader client_reader_;
  http::ws::FrameReader node_reader_;
  core::Buffer client_in_;
  core::Buffer node_in_;
  std::string client_out_, client_writing_;
  std::string node_out_, node_writing_;
  std::vector<std::string> node_backlog_;  // calls made while no node was ready
  std::size_t node_backlog_bytes_ = 0;
  http::jsonrpc::Request plan_request_;  // plan()'s scratch
  core::Buffer plan_text_;
  std::string handshake_accept_;  // the Sec-WebSocket-Accept expected
  std::mt19937 masks_;
  std::uint64_t generation_ = 0;  // of node_: stale completions are ignored
  NodeState node_state_ = NodeState::open;
  Deadline idle_deadline_{*this, 0};
  Deadline tick_deadline_{*this, 1};
  Deadline connect_deadline_{*this, 2};
  Deadline closing_deadline_{*this, 3};
  ClientSlot client_slot_;
  std::size_t subscriptions_counted_ = 0;
  jsonrpc_ws::BookCounters counted_{};
  bool client_reading_ = false;
  bool closing_ = false;  // a close frame is queued to the client: nothing more goes out
  bool closed_ = false;
};

}  // namespace veer::proxy
