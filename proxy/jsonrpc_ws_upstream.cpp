// JsonRpcWsRelay: the node side. Reading the node's frames, noticing that the node is
// gone, drained or behind, and moving to another one: connect, TLS when the pool has
// it, a client WebSocket handshake, then the Book issues the subscriptions again.
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <algorithm>

#include "core/log.hpp"
#include "proxy/jsonrpc_ws_relay.hpp"
#include "proxy/worker.hpp"

namespace veer::proxy {
namespace {

namespace ws = http::ws;

constexpr std::size_t kNodeReadChunk = 16 * 1024;
constexpr std::size_t kMaxHandshakeResponse = 16 * 1024;

std::string base64(const unsigned char* data, int length) {
  std::string out(static_cast<std::size_t>(4 * ((length + 2) / 3)), '\0');
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, length);
  return out;
}

// RFC 6455 section 4.2.2: base64(SHA-1(key + GUID)).
std::string websocket_accept(std::string_view key) {
  std::string text(key);
  text += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
  return base64(digest, SHA_DIGEST_LENGTH);
}

bool iequals_prefix(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), text.begin(), [](char a, char b) {
           return std::tolower(static_cast<unsigned char>(a)) ==
                  std::tolower(static_cast<unsigned char>(b));
         });
}

// The value of header `name` in a response head, or "".
std::string_view header_value(std::string_view head, std::string_view name) {
  std::size_t at = head.find("\r\n");
  while (at != std::string_view::npos && at + 2 < head.size()) {
    const std::size_t start = at + 2;
    const std::size_t end = head.find("\r\n", start);
    std::string_view line = head.substr(start, end == std::string_view::npos ? end : end - start);
    if (iequals_prefix(line, name) && line.size() > name.size() && line[name.size()] == ':') {
      line.remove_prefix(name.size() + 1);
      while (!line.empty() && (line.front() == ' ' || line.front() == '\t'))
        line.remove_prefix(1);
      while (!line.empty() && (line.back() == ' ' || line.back() == '\t'))
        line.remove_suffix(1);
      return line;
    }
    at = end;
  }
  return {};
}

}  // namespace

const runtime::BackendRuntime& JsonRpcWsRelay::backend() const {
  return view_->snapshot().pools[pick_.pool].backends[*pick_.backend];
}

void JsonRpcWsRelay::abort_if_using(const core::BackendStats& backend) {
  if (stats_.get() == &backend && node_state_ == NodeState::open) fail_over("was removed");
}

void JsonRpcWsRelay::read_node() {
  if (closed_ || !node_ || node_state_ == NodeState::connecting) return;
  ++node_->pending_ops;
  node_->stream.async_wait_readable(
      [self = self(), conn = node_.get(), generation = generation_](const error_code& ec) {
        if (self->node_op_done(conn)) return;  // a connection dropped since
        self->on_node_readable(generation, ec);
      });
}

bool JsonRpcWsRelay::node_op_done(UpstreamConnection* conn) {
  --conn->pending_ops;
  if (conn == node_.get()) return false;
  if (conn->pending_ops == 0)
    std::erase_if(retired_, [conn](const Retired& r) { return r.connection.get() == conn; });
  return true;
}

void JsonRpcWsRelay::on_node_readable(std::uint64_t generation, const error_code& ec) {
  if (closed_) return;
  if (ec) {
    fail_over("read failed: " + ec.message());
    return;
  }
  bool eof = false;
  while (true) {
    node_in_.reserve_writable(kNodeReadChunk);
    error_code read_error;
    const std::size_t n = node_->stream.read_some(
        asio::buffer(node_in_.write_ptr(), node_in_.writable_size()), read_error);
    if (read_error == asio::error::would_block) break;
    if (read_error) {
      eof = true;
      break;
    }
    node_in_.commit(n);
    touch();
    if (n < kNodeReadChunk) break;
  }
  if (node_state_ == NodeState::handshaking) {
    on_handshake_bytes();
  } else {
    node_bytes();
  }
  if (closed_ || generation != generation_) return;
  if (eof) {
    fail_over("closed the connection");
    return;
  }
  read_node();
}

void JsonRpcWsRelay::node_bytes() {
  jsonrpc_ws::Out out;
  while (!closed_ && node_state_ == NodeState::open) {
    std::size_t consumed = 0;
    const ws::Event e =
        node_reader_.next(std::span<char>(node_in_.mutable_read_ptr(), node_in_.size()), consumed);
    if (e.kind == ws::Event::Kind::need_more && consumed == 0) break;
    if (e.kind == ws::Event::Kind::message && e.opcode == ws::Opcode::text) {
      book_.from_node(e.payload, out);
    } else if (e.kind == ws::Event::Kind::ping) {
      ws::append_frame(node_out_, ws::Opcode::pong, e.payload, ws::Sender::client,
                       static_cast<std::uint32_t>(masks_()));
    } else if (e.kind == ws::Event::Kind::close || e.kind == ws::Event::Kind::error) {
      node_in_.consume(consumed);
      dispatch(out);
      fail_over(e.kind == ws::Event::Kind::close ? "sent a close frame" : "broke the protocol");
      return;
    }
    node_in_.consume(consumed);
  }
  dispatch(out);
}

void JsonRpcWsRelay::flush_node() {
  if (closed_ || node_state_ != NodeState::open || !node_writing_.empty() || node_out_.empty())
    return;
  // On the heap whatever its size: a retired connection's write keeps reading it after
  // the string moved (drop_node), which a short string's inline bytes would not survive.
  if (node_out_.capacity() < 64) node_out_.reserve(64);
  node_writing_.swap(node_out_);
  ++node_->pending_ops;
  node_->stream.async_write(asio::buffer(node_writing_),
                            [self = self(), conn = node_.get()](const error_code& ec, std::size_t) {
                              if (self->node_op_done(conn) || self->closed_) return;
                              self->node_writing_.clear();
                              if (ec) {
                                self->fail_over("write failed: " + ec.message());
                                return;
                              }
                              self->flush_node();
                              self->resume_client();
                            });
}

// The timer's look at the backend: drained, disabled, down or ejected, or more than
// max_lag_blocks behind the pool's highest head.
void JsonRpcWsRelay::check_backend() {
  if (node_state_ != NodeState::open) return;
  if (!stats_->routable()) {
    fail_over(std::string("is ") + core::state_name(stats_->reasons.load()));
    return;
  }
  const runtime::PoolRuntime& pool = view_->snapshot().pools[pick_.pool];
  const auto& health = pool.config->health;
  if (!health || health->max_lag_blocks == 0) return;
  // The pool's head on the expected chain (health checks); before it is known, the
  // highest of the routable backends (a node on another chain or down is not a
  // reference).
  std::uint64_t highest = pool.stats ? pool.stats->head_block.load(std::memory_order_relaxed) : 0;
  if (highest == 0) {
    for (const runtime::BackendRuntime& b : pool.backends)
      if (b.stats->routable())
        highest = std::max(highest, b.stats->head_block.load(std::memory_order_relaxed));
  }
  const std::uint64_t own = stats_->head_block.load(std::memory_order_relaxed);
  if (own > 0 && highest > own + health->max_lag_blocks) fail_over("fell behind the pool's head");
}

void JsonRpcWsRelay::fail_over(std::string_view why) {
  if (closed_ || closing_) return;
  const bool first = node_state_ == NodeState::open;
  if (worker_.may_log_now())
    core::log::warn("jsonrpc websocket: backend ", backend().address, " ", why,
                    "; moving its subscriptions");
  drop_node();
  if (first) {
    jsonrpc_ws::Out out;
    const bool movable = book_.node_lost(out);
    node_out_.clear();
    dispatch(out);
    resume_client();
    if (!movable) {
      close_client(ws::kCloseServiceRestart,
                   "backend gone; a subscription of a kind veer cannot move");
      return;
    }
    pick_.tried = 0;  // a new failover: any other backend may do
  }
  connect_next();
}

void JsonRpcWsRelay::drop_node() {
  connect_deadline_.disarm();
  if (!node_) return;
  ++generation_;
  core::close_socket(node_->stream.socket());
  worker_.buffers().release(node_->buffer);
  if (node_->pending_ops > 0) {
    // Freed by node_op_done with its last completion; a pending write's bytes go along.
    retired_.push_back({std::move(node_), std::move(node_writing_)});
  }
  node_.reset();
  if (stats_) stats_->active_connections.fetch_sub(1, std::memory_order_relaxed);
  node_writing_.clear();
  node_in_.clear();
  node_reader_ = http::ws::FrameReader(ws::Sender::server, 16 * 1024 * 1024);
  node_state_ = NodeState::gone;
}

void JsonRpcWsRelay::connect_next() {
  std::optional<runtime::Assignment> next = runtime::reassign(*view_, pick_, false);
  const runtime::Snapshot& snapshot = view_->snapshot();
  // Panic routing may hand out a backend that is down: not one to move to.
  if (next && !snapshot.pools[next->pool].backends[*next->backend].stats->routable()) next.reset();
  if (!next) {
    close_client(ws::kCloseServiceRestart, "no healthy backend to move the subscriptions to");
    return;
  }
  pick_ = *next;
  stats_ = backend().stats;
  stats_->active_connections.fetch_add(1, std::memory_order_relaxed);
  UpstreamSlot& slot = worker_.upstreams().slot(view_->pool(pick_.pool).slot_ids[*pick_.backend]);
  node_ = worker_.upstreams().create(slot);
  node_state_ = NodeState::connecting;
  worker_.deadlines().arm(connect_deadline_, settings_.connect_timeout);
  ++node_->pending_ops;
  node_->stream.socket().async_connect(
      core::to_endpoint(slot.endpoint.data(), slot.endpoint.length),
      [self = self(), conn = node_.get()](const error_code& ec) {
        if (self->node_op_done(conn)) return;
        self->on_connected(ec);
      });
}

void JsonRpcWsRelay::on_connected(const error_code& ec) {
  if (closed_) return;
  if (ec) {
    fail_over("connect failed: " + ec.message());
    return;
  }
  error_code ignored;
  node_->stream.socket().set_option(tcp::no_delay(true), ignored);
  node_->stream.socket().non_blocking(true, ignored);
  const runtime::PoolRuntime& pool = view_->snapshot().pools[pick_.pool];
  if (!pool.tls) {
    send_handshake();
    return;
  }
  node_->stream.start_tls(
      pool.tls->new_session(pool.config->backends[*pick_.backend].host_port.host),
      worker_.tls_scratch());
  node_->tls = pool.tls.get();
  ++node_->pending_ops;
  node_->stream.async_handshake([self = self(), conn = node_.get()](const error_code& ec) {
    if (self->node_op_done(conn) || self->closed_) return;
    if (ec) {
      self->fail_over("tls handshake failed");
      return;
    }
    self->send_handshake();
  });
}

void JsonRpcWsRelay::send_handshake() {
  unsigned char nonce[16];
  RAND_bytes(nonce, sizeof nonce);
  const std::string key = base64(nonce, sizeof nonce);
  handshake_accept_ = websocket_accept(key);
  node_state_ = NodeState::handshaking;
  std::string request = "GET " + (settings_.path.empty() ? std::string("/") : settings_.path) +
                        " HTTP/1.1\r\nHost: " + backend().address +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: " +
                        key + "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  node_writing_ = std::move(request);
  ++node_->pending_ops;
  node_->stream.async_write(asio::buffer(node_writing_),
                            [self = self(), conn = node_.get()](const error_code& ec, std::size_t) {
                              if (self->node_op_done(conn) || self->closed_) return;
                              self->node_writing_.clear();
                              if (ec) {
                                self->fail_over("handshake write failed");
                                return;
                              }
                              self->read_node();
                            });
}

void JsonRpcWsRelay::on_handshake_bytes() {
  const std::string_view bytes = node_in_.readable();
  const std::size_t end = bytes.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (bytes.size() > kMaxHandshakeResponse) fail_over("sent an oversized handshake response");
    return;
  }
  const std::string_view head = bytes.substr(0, end + 2);
  const bool switched = iequals_prefix(head, "HTTP/1.1 101");
  if (!switched || header_value(head, "Sec-WebSocket-Accept") != handshake_accept_) {
    fail_over("refused the WebSocket handshake");
    return;
  }
  node_in_.consume(end + 4);
  node_ready();
}

void JsonRpcWsRelay::node_ready() {
  connect_deadline_.disarm();
  node_state_ = NodeState::open;
  if (worker_.may_log_now())
    core::log::info("jsonrpc websocket: subscriptions moved to ", backend().address);
  jsonrpc_ws::Out out;
  book_.node_connected(out);
  for (std::string& text : node_backlog_)
    out.to_node.push_back(std::move(text));
  node_backlog_.clear();
  node_backlog_bytes_ = 0;
  dispatch(out);
  node_bytes();  // frames that came with the 101
  resume_client();
}

}  // namespace veer::proxy
