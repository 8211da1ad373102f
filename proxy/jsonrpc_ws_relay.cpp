// JsonRpcWsRelay: the client side, the message flow and the connection's end. The node
// side is in jsonrpc_ws_upstream.cpp.
#include "proxy/jsonrpc_ws_relay.hpp"

#include <algorithm>

#include "proxy/worker.hpp"
#include "runtime/jsonrpc_route.hpp"
#include "runtime/snapshot.hpp"

namespace veer::proxy {
namespace {

namespace ws = http::ws;

constexpr std::size_t kReadChunk = 16 * 1024;
// Read from the client per wake-up at most: a client writing as fast as veer reads would
// otherwise keep one wake-up reading, past the backpressure check between messages. The
// rest is read by a posted continuation, not a wait: readiness is edge-triggered, and no
// new edge comes for bytes already there.
constexpr std::size_t kMaxClientReadPerWake = 256 * 1024;
// A whole JSON-RPC message, fragmented or not: a batch of logs can be large.
constexpr std::size_t kMaxMessage = 16 * 1024 * 1024;
// How long a close frame to the client may take before the socket goes anyway.
constexpr auto kCloseLinger = std::chrono::seconds(1);

}  // namespace

JsonRpcWsRelay::JsonRpcWsRelay(Worker& worker, Stream client,
                               std::unique_ptr<UpstreamConnection> backend,
                               core::Buffer client_pending, core::Ref<runtime::WorkerView> view,
                               runtime::Assignment pick, JsonRpcWsSettings settings)
    : worker_(worker),
      client_(std::move(client)),
      node_(std::move(backend)),
      view_(std::move(view)),
      pick_(pick),
      settings_(std::move(settings)),
      book_(settings_.max_subscriptions, std::random_device{}()),
      client_reader_(ws::Sender::client, kMaxMessage),
      node_reader_(ws::Sender::server, kMaxMessage),
      masks_(std::random_device{}()) {
  stats_ = this->backend().stats;
  book_.set_policy([this](std::string_view call_text) { return plan(call_text); });
  client_in_.append(client_pending.readable());
  worker_.buffers().release(client_pending);
}

JsonRpcWsRelay::~JsonRpcWsRelay() {
  if (node_) worker_.buffers().release(node_->buffer);
  for (Retired& old : retired_)
    worker_.buffers().release(old.connection->buffer);
}

void JsonRpcWsRelay::start() {
  worker_.connections().add(*this);
  worker_.metrics().tunnels_opened.add();
  // Bytes the node sent right after its 101 are frames already.
  node_in_.append(node_->buffer.readable());
  worker_.buffers().release(node_->buffer);
  error_code ignored;
  node_->stream.socket().non_blocking(true, ignored);
  touch();
  worker_.deadlines().arm(tick_deadline_, std::chrono::milliseconds(250));
  client_bytes();
  node_bytes();
  if (closed_) return;
  read_client();
  read_node();
}

void JsonRpcWsRelay::touch() {
  worker_.deadlines().arm(idle_deadline_, settings_.idle_timeout);
}

void JsonRpcWsRelay::on_timeout(Deadline& d) {
  if (closed_) return;
  if (&d == &tick_deadline_) {
    check_backend();
    if (!closed_) worker_.deadlines().arm(tick_deadline_, std::chrono::milliseconds(250));
  } else if (&d == &connect_deadline_) {
    fail_over("connect or handshake timed out");
  } else {
    close();  // idle, or a close frame the client did not take in time
  }
}

void JsonRpcWsRelay::read_client() {
  if (client_reading_ || closed_ || node_full()) return;
  client_reading_ = true;
  client_.async_wait_readable(
      [self = self()](const error_code& ec) { self->on_client_readable(ec); });
}

void JsonRpcWsRelay::on_client_readable(const error_code& ec) {
  client_reading_ = false;
  if (closed_) return;
  if (ec) {
    close();
    return;
  }
  std::size_t taken = 0;
  while (taken < kMaxClientReadPerWake) {
    client_in_.reserve_writable(kReadChunk);
    error_code read_error;
    const std::size_t n = client_.read_some(
        asio::buffer(client_in_.write_ptr(),
                     std::min(client_in_.writable_size(), kMaxClientReadPerWake - taken)),
        read_error);
    if (read_error == asio::error::would_block) break;
    if (read_error) {
      close();
      return;
    }
    client_in_.commit(n);
    taken += n;
    touch();
    if (n < kReadChunk) break;
  }
  client_bytes();
  if (taken < kMaxClientReadPerWake) {
    read_client();
  } else if (!closed_ && !closing_ && !node_full() && !client_reading_) {
    client_reading_ = true;
    asio::post(client_.socket().get_executor(),
               [self = self()] { self->on_client_readable(error_code{}); });
  }
  // Else (full) resume_client() reads on once the node's queue drains.
}

// Every whole frame the client sent: calls go through the Book, pings are answered.
void JsonRpcWsRelay::client_bytes() {
  jsonrpc_ws::Out out;
  // Frames left while the node's queue is full are read by resume_client().
  while (true) {
    dispatch(out);  // the previous frame's calls count toward node_full()
    if (closed_ || closing_ || node_full()) return;
    std::size_t consumed = 0;
    const ws::Event e = client_reader_.next(
        std::span<char>(client_in_.mutable_read_ptr(), client_in_.size()), consumed);
    if (e.kind == ws::Event::Kind::need_more && consumed == 0) break;
    switch (e.kind) {
      case ws::Event::Kind::message:
        if (e.opcode == ws::Opcode::text) {
          book_.from_client(e.payload, out);
        } else {
          client_in_.consume(consumed);
          dispatch(out);
          close_client(ws::kCloseInvalidData, "binary frames on a JSON-RPC route");
          return;
        }
        break;
      case ws::Event::Kind::ping:
        ws::append_frame(client_out_, ws::Opcode::pong, e.payload, ws::Sender::server);
        break;
      case ws::Event::Kind::close:
        client_in_.consume(consumed);
        dispatch(out);
        close_client(ws::kCloseNormal, "");
        return;
      case ws::Event::Kind::error: {
        const std::string why(e.payload);
        dispatch(out);
        close_client(e.close_code, why);
        return;
      }
      default:
        break;
    }
    client_in_.consume(consumed);
  }
  dispatch(out);
}

void JsonRpcWsRelay::dispatch(jsonrpc_ws::Out& out) {
  if (closed_) return;
  for (const std::string& text : out.to_node)
    send_to_node(text);
  out.to_node.clear();
  if (!closing_) {
    for (const std::string& text : out.to_client)
      ws::append_frame(client_out_, ws::Opcode::text, text, ws::Sender::server);
  }
  out.to_client.clear();
  note_counters();
  if (!book_.failed().empty()) {
    close_client(ws::kCloseServiceRestart, book_.failed());
    return;
  }
  if (client_out_.size() + client_writing_.size() > settings_.max_queue_bytes && !closing_) {
    worker_.metrics().jsonrpc_ws.slow_consumer_closes.add();
    client_out_.clear();
    close_client(ws::kCloseTryAgainLater, "the client does not keep up with its subscriptions");
    return;
  }
  flush_client();
  flush_node();
}

void JsonRpcWsRelay::send_to_node(std::string_view text) {
  if (node_state_ != NodeState::open) {
    node_backlog_.emplace_back(text);
    node_backlog_bytes_ += text.size();
    return;
  }
  ws::append_frame(node_out_, ws::Opcode::text, text, ws::Sender::client,
                   static_cast<std::uint32_t>(masks_()));
}

bool JsonRpcWsRelay::node_full() const {
  return node_out_.size() + node_writing_.size() + node_backlog_bytes_ > settings_.max_queue_bytes;
}

// Reading stopped with bytes possibly left on the socket (no new readiness edge would
// come for them): read on at once, not through a wait.
void JsonRpcWsRelay::resume_client() {
  if (closed_ || closing_ || client_reading_ || node_full()) return;
  if (!client_in_.empty()) client_bytes();
  if (closed_ || closing_ || client_reading_ || node_full()) return;
  on_client_readable(error_code{});
}

// The pool's head on its chain (health checks), else the current node's: "latest" of
// the logs range cap.
std::uint64_t JsonRpcWsRelay::pool_head() const {
  const runtime::PoolRuntime& pool = view_->snapshot().pools[pick_.pool];
  const std::uint64_t head =
      pool.stats ? pool.stats->head_block.load(std::memory_order_relaxed) : 0;
  return head > 0 ? head : stats_->head_block.load(std::memory_order_relaxed);
}

// The route's method policy for one client call. Method routes and archive routing do
// not apply: the call goes to the connection's node (a forward's target is ignored), as
// the client sent it (no "latest" pinned: head 0).
jsonrpc_ws::Verdict JsonRpcWsRelay::plan(std::string_view call_text) {
  jsonrpc_ws::Verdict verdict;
  const runtime::RouteRuntime* route = pick_.route;
  if (route == nullptr || !route->jsonrpc || route->jsonrpc->config == nullptr) return verdict;
  http::jsonrpc::parse_request(call_text, 1, plan_request_);
  // What the codec finds malformed goes to the node, which answers it as it always has.
  if (plan_request_.error != 0 || plan_request_.calls.size() != 1 ||
      plan_request_.calls[0].error != 0)
    return verdict;
  const http::jsonrpc::Call& call = plan_request_.calls[0];
  plan_text_.clear();
  runtime::CallPlan plan;
  runtime::plan_call(view_->snapshot(), *route->jsonrpc, call, 0, pool_head(), plan_text_, plan);
  core::Buffer answer;
  switch (plan.kind) {
    case runtime::CallPlan::Kind::forward:
      return verdict;
    case runtime::CallPlan::Kind::none:
      verdict.kind = jsonrpc_ws::Verdict::Kind::drop;
      return verdict;
    case runtime::CallPlan::Kind::error:
      if (plan.data.empty()) {
        http::jsonrpc::append_error(answer, call.id, plan.code, plan.message);
      } else {
        http::jsonrpc::append_error(answer, call.id, plan.code, plan.message, plan.data);
      }
      break;
    case runtime::CallPlan::Kind::result:
      http::jsonrpc::append_result(answer, call.id, plan.result);
      break;
  }
  if (call.notification) {
    verdict.kind = jsonrpc_ws::Verdict::Kind::drop;
    return verdict;
  }
  verdict.kind = jsonrpc_ws::Verdict::Kind::answer;
  verdict.answer = std::string(answer.readable());
  return verdict;
}

// The worker's counters follow the Book's (gauge: opened - closed).
void JsonRpcWsRelay::note_counters() {
  runtime::JsonRpcWsCounters& c = worker_.metrics().jsonrpc_ws;
  const std::size_t now = book_.subscriptions();
  if (now > subscriptions_counted_) c.subscriptions_opened.add(now - subscriptions_counted_);
  if (now < subscriptions_counted_) c.subscriptions_closed.add(subscriptions_counted_ - now);
  subscriptions_counted_ = now;
  const jsonrpc_ws::BookCounters& b = book_.counters();
  c.resubscribes.add(b.resubscribes - counted_.resubscribes);
  c.gap_filled_blocks.add(b.gap_filled_blocks - counted_.gap_filled_blocks);
  counted_ = b;
}

void JsonRpcWsRelay::flush_client() {
  if (closed_ || !client_writing_.empty() || client_out_.empty()) return;
  client_writing_.swap(client_out_);
  client_.async_write(asio::buffer(client_writing_),
                      [self = self()](const error_code& ec, std::size_t) {
                        if (self->closed_) return;
                        if (ec) {
                          self->close();
                          return;
                        }
                        self->client_writing_.clear();
                        if (self->closing_ && self->client_out_.empty()) {
                          self->close();
                          return;
                        }
                        self->flush_client();
                      });
}

// A close frame, then the connection ends once it is written (or after kCloseLinger).
void JsonRpcWsRelay::close_client(std::uint16_t code, std::string_view reason) {
  if (closing_ || closed_) return;
  closing_ = true;
  ws::append_close(client_out_, code, reason, ws::Sender::server);
  worker_.deadlines().arm(closing_deadline_, kCloseLinger);
  flush_client();
}

void JsonRpcWsRelay::close() {
  if (closed_) return;
  closed_ = true;
  idle_deadline_.disarm();
  tick_deadline_.disarm();
  connect_deadline_.disarm();
  closing_deadline_.disarm();
  client_.close_notify();
  core::close_socket(client_.socket());
  drop_node();
  worker_.metrics().jsonrpc_ws.subscriptions_closed.add(subscriptions_counted_);
  subscriptions_counted_ = 0;
  worker_.metrics().tunnels_closed.add();
  client_slot_.release();
  worker_.connection_closed(*this, true);
}

}  // namespace veer::proxy
