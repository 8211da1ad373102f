// ClientSession: the backend side of an exchange. Connection, request head, response
// head, failures.
#include <cstring>
#include <string>

#include "proxy/client_session.hpp"
#include "http/http_parser.hpp"
#include "core/log.hpp"
#include "runtime/request_key.hpp"
#include "proxy/tunnel.hpp"
#include "proxy/worker.hpp"
#include "strategies/split_buckets.hpp"

namespace veer::proxy {
namespace {

tcp::endpoint to_endpoint(const conf::SocketAddress& address) {
  tcp::endpoint endpoint;
  std::memcpy(endpoint.data(), address.data(), address.length);
  endpoint.resize(address.length);
  return endpoint;
}

// How long a pooled connection's last use is taken as proof that it is still open.
constexpr auto kTrustRecentlyUsed = std::chrono::milliseconds(500);

bool connection_lost(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe;
}

}  // namespace

void ClientSession::hash_request_key(std::uint32_t pool, const http::RequestHead& head) {
  const runtime::PoolRuntime& runtime = view_->snapshot().pools[pool];
  if (runtime.strategy->uses_hash_key) {
    key_hash_ = core::hash_bytes(runtime::request_key(runtime.hash_key, head, client_ip()));
  }
}

// A backend in split target `target`, or, when that pool has nothing routable and the
// split fails over, in the next target that has one. `head` is null on retries (the
// head is gone): pools that hash then reuse the key hash of the first pick.
std::optional<ClientSession::SplitPick> ClientSession::pick_in_split(std::uint32_t target,
                                                                     const http::RequestHead* head) {
  const runtime::Snapshot& snapshot = view_->snapshot();
  const bool failover = split_->config->failover;
  const std::uint32_t first = target;
  for (;;) {
    const std::uint32_t pool = split_->pools[target];
    if (head != nullptr) hash_request_key(pool, *head);
    // A pool left with ejected backends only gives its share to the other targets
    // before it routes in panic.
    if (const auto backend = view_->pick(pool, strategies::PickContext{key_hash_}, 0, !failover)) {
      return SplitPick{target, *backend};
    }
    split_tried_ |= runtime::exclusion_bit(target);
    if (!failover) return std::nullopt;
    const auto next = strategies::split_fallback_of(split_->weights, split_tried_, split_bucket_);
    if (!next) break;
    if (worker_.may_log_now()) {
      core::log::warn("split ", split_->name, ": pool ", snapshot.pools[pool].name,
                " has no routable backend; its share goes to pool ",
                snapshot.pools[split_->pools[*next]].name);
    }
    target = *next;
  }
  // No target has a routable backend: the first one routes in panic if it can.
  if (head != nullptr) hash_request_key(split_->pools[first], *head);
  const auto backend = view_->pick(split_->pools[first], strategies::PickContext{key_hash_});
  if (!backend) return std::nullopt;
  return SplitPick{first, *backend};
}

std::string ClientSession::no_backend_detail() const {
  if (split_ == nullptr)
    return "no backend available in pool " + view_->snapshot().pools[pool_index_].name;
  if (split_->config->failover) return "no backend available in any pool of split " + split_->name;
  return "no backend available in pool " + view_->snapshot().pools[pool_index_].name + " (split " +
         split_->name + " has failover off)";
}

http::ResponseRewrite ClientSession::response_rewrite() const {
  http::ResponseRewrite how;
  how.close_client = close_after_;
  how.client_http10 = http10_;
  how.strip_chunked = strip_chunked_;
  if (split_ != nullptr && !split_->config->target_header.empty()) {
    how.added_name = split_->config->target_header;
    how.added_value = view_->snapshot().pools[pool_index_].name;
  }
  how.request_id = request_id();
  return how;
}

void ClientSession::use_backend(std::uint32_t index) {
  runtime::PoolState& state = view_->pool(pool_index_);
  backend_ = &state.pool->backends[index];
  slot_ = &worker_.upstreams().slot(state.slot_ids[index]);
  if (written_.host_pending) {
    // HTTP/1.0 without Host: the route's host names the site. A route with a host
    // matches only requests that have one today, so this is the backend's address,
    // rewritten on each retry so that it names the backend that gets the request.
    const std::string_view host =
        route_ != nullptr && !route_->host.empty() ? route_->host : backend_->address;
    http::complete_with_host(written_, host, out_);
    request_head_length_ = out_.size();
  }
}

// The backend's final (or 101) head arrived: for the access log.
void ClientSession::note_response_head(std::uint16_t status) {
  upstream_status_ = status;
  response_head_at_ = Clock::now();
}

void ClientSession::dispatch() {
  upstream_started_ = Clock::now();
  connect_started_ = connected_ = request_sent_at_ = response_head_at_ = Clock::time_point{};
  upstream_status_ = 0;
  ++attempts_;
  backend_->stats->in_flight.fetch_add(1, std::memory_order_relaxed);
  backend_->stats->requests.fetch_add(1, std::memory_order_relaxed);  // same cache line
  in_flight_ = true;
  // A request that would not be retried if a pooled connection turned out closed
  // after it was sent checks the connection before trusting it: always when its body
  // is still streaming, after a pause for a POST. A backend closes idle connections
  // after seconds, not milliseconds, so a connection used a moment ago is trusted
  // without paying a syscall on every JSON-RPC call.
  const Clock::duration probe_after = !replayable_   ? Clock::duration::zero()
                                      : !idempotent_ ? kTrustRecentlyUsed
                                                     : Clock::duration::max();
  up_ = worker_.upstreams().take(*slot_, probe_after, upstream_started_);
  runtime::ExchangeSeries* counters = series(true);
  if (up_) {
    if (counters != nullptr) counters->upstream_reused.add();
    backend_->stats->active_connections.fetch_add(1, std::memory_order_relaxed);
    send_request();
    return;
  }
  if (counters != nullptr) counters->upstream_opened.add();
  connect_upstream();
}

// Another try of this request on another backend, when retries.attempts and the
// pool's retry budget allow it. The caller has decided that a retry is safe. Returns
// false, with the current try still in place, when the exchange must fail instead.
bool ClientSession::retry(std::string_view cause, bool same_backend_ok) {
  runtime::PoolState& state = view_->pool(pool_index_);
  const runtime::PoolRuntime& pool = *state.pool;
  const conf::RetryConfig& config = pool.config->retries;
  if (attempts_ > config.attempts) return false;
  const auto current = static_cast<std::uint32_t>(backend_ - pool.backends.data());
  tried_ |= runtime::exclusion_bit(current);
  std::optional<std::uint32_t> next =
      view_->pick(pool_index_, strategies::PickContext{key_hash_}, tried_);
  // A pooled connection the backend closed says nothing about the backend itself.
  if (!next && same_backend_ok) next = current;
  // Nothing else in this pool: a split that fails over tries its other targets.
  std::uint32_t next_pool = pool_index_;
  std::uint32_t next_target = split_target_;
  if (!next && split_ != nullptr && split_->config->failover) {
    split_tried_ |= runtime::exclusion_bit(split_target_);
    const auto target = strategies::split_fallback_of(split_->weights, split_tried_, split_bucket_);
    const std::optional<SplitPick> in_split =
        target ? pick_in_split(*target, nullptr) : std::nullopt;
    if (in_split) {
      next = in_split->backend;
      next_target = in_split->target;
      next_pool = split_->pools[next_target];
    }
  }
  if (!next) return false;
  const runtime::BackendRuntime& next_backend = view_->snapshot().pools[next_pool].backends[*next];
  const std::string_view head = out_.readable();
  const std::string_view method = head.substr(written_.method_offset, written_.method_length);
  const std::string_view path = head.substr(written_.path_offset, written_.path_length);
  // The budget keeps retries from multiplying load on this pool's backends; a split's
  // failover to another pool is routing, not a retry storm, and stays outside it.
  if (next_pool == pool_index_ && !state.retry_budget.try_spend(Clock::now())) {
    if (worker_.may_log_now()) {
      core::log::warn("pool ", pool.name, ": retry budget spent (budget_percent ", config.budget_percent,
                "); not retrying ", method, " ", path, " after ", backend_->address, " ", cause);
    }
    return false;
  }
  backend_->stats->retries.fetch_add(1, std::memory_order_relaxed);
  if (worker_.may_log_now()) {
    core::log::warn("retrying ", method, " ", path, " on ", next_backend.address, ": ", backend_->address,
              " ", cause, " (try ", attempts_ + 1, " of ", config.attempts + 1, ")");
  }
  upstream_deadline_.disarm();
  upstream_timed_out_ = false;
  release_upstream(false);
  end_backend_use();
  if (next_pool != pool_index_) {
    pool_index_ = next_pool;
    split_target_ = next_target;
    tried_ = 0;
  }
  use_backend(*next);
  dispatch();
  return true;
}

void ClientSession::record_outcome(health::Outcome outcome) {
  worker_.record_outcome(*view_->pool(pool_index_).pool, *backend_, outcome);
}

void ClientSession::connect_upstream() {
  up_ = worker_.upstreams().create(*slot_);
  backend_->stats->active_connections.fetch_add(1, std::memory_order_relaxed);
  worker_.deadlines().arm(upstream_deadline_, view_->snapshot().config.timeouts.upstream_connect);
  connect_started_ = Clock::now();
  UpstreamConnection* conn = up_.get();
  ++conn->pending_ops;
  conn->socket.async_connect(
      to_endpoint(slot_->endpoint),
      [self = self(), conn](const error_code& ec) { self->on_upstream_connected(conn, ec); });
}

bool ClientSession::upstream_op_done(UpstreamConnection* conn) {
  --conn->pending_ops;
  if (conn == up_.get()) {
    if (phase_ == Phase::closed) return true;
    // The upstream deadline covers whatever is still pending on the connection.
    if (conn->pending_ops == 0) {
      upstream_deadline_.disarm();
    } else if (!upstream_timed_out_) {
      worker_.deadlines().arm(upstream_deadline_,
                              view_->snapshot().config.timeouts.upstream_response);
    }
    return false;
  }
  // A connection this session dropped: free it once its last operation has finished.
  if (conn->pending_ops == 0) {
    std::erase_if(retired_, [conn](const auto& c) { return c.get() == conn; });
  }
  return true;
}

void ClientSession::on_upstream_connected(UpstreamConnection* conn, const error_code& ec) {
  if (upstream_op_done(conn)) return;
  if (ec) {
    // Nothing was sent: any request may go to another backend.
    const bool timed_out = upstream_timed_out_;
    record_outcome(timed_out ? health::Outcome::timeout : health::Outcome::connect_failed);
    const std::string cause =
        timed_out ? std::string("connect timed out") : "connect failed: " + ec.message();
    if (retry(cause, false)) return;
    fail_exchange(timed_out ? 504 : 502, "upstream " + cause);
    return;
  }
  connected_ = Clock::now();
  error_code ignored;
  up_->socket.set_option(tcp::no_delay(true), ignored);
  send_request();
}

void ClientSession::send_request() {
  if (!up_->buffer.allocated()) up_->buffer = worker_.buffers().acquire();
  up_->buffer.clear();
  response_scan_ = 0;
  got_response_bytes_ = false;
  request_sent_at_ = Clock::now();
  // Head and the body bytes already here go out in one writev.
  const std::array<asio::const_buffer, 2> pieces{
      asio::buffer(out_.read_ptr(), request_head_length_),
      asio::buffer(in_.read_ptr(), request_piece_)};
  worker_.deadlines().arm(upstream_deadline_, view_->snapshot().config.timeouts.upstream_response);
  UpstreamConnection* conn = up_.get();
  ++conn->pending_ops;
  asio::async_write(conn->socket, pieces, [self = self(), conn](const error_code& ec, std::size_t) {
    self->on_request_sent(conn, ec);
  });
  read_response();
}

void ClientSession::on_request_sent(UpstreamConnection* conn, const error_code& ec) {
  if (upstream_op_done(conn)) return;
  if (ec) {
    upstream_failed(ec, true);
    return;
  }
  if (!replayable_) {
    in_.consume(request_piece_);
    request_piece_ = 0;
  }
  if (request_fully_read() || request_abandoned_) {
    request_sent_ = true;
    if (response_done_) finish_exchange();
    return;
  }
  relay_request_body();
}

void ClientSession::read_response() {
  UpstreamConnection* conn = up_.get();
  core::Buffer& buffer = conn->buffer;
  if (buffer.writable_size() == 0) buffer.compact();
  worker_.deadlines().arm(upstream_deadline_, view_->snapshot().config.timeouts.upstream_response);
  ++conn->pending_ops;
  conn->socket.async_read_some(asio::buffer(buffer.write_ptr(), buffer.writable_size()),
                               [self = self(), conn](const error_code& ec, std::size_t n) {
                                 self->on_response_bytes(conn, ec, n);
                               });
}

void ClientSession::on_response_bytes(UpstreamConnection* conn, const error_code& ec,
                                      std::size_t n) {
  if (upstream_op_done(conn)) return;
  if (ec) {
    upstream_failed(ec, false);
    return;
  }
  conn->buffer.commit(n);
  got_response_bytes_ = true;
  try_response_head();
}

void ClientSession::try_response_head() {
  core::Buffer& buffer = up_->buffer;
  const std::uint64_t max_header = view_->snapshot().config.limits.max_header_bytes;
  const std::size_t end = http::find_head_end(buffer.readable(), response_scan_);
  if (end == 0) {
    if (buffer.size() >= max_header) {
      record_outcome(health::Outcome::bad_response);
      fail_exchange(502, "response head from the backend is too large");
      return;
    }
    if (buffer.writable_size() == 0) {
      buffer.compact();
      if (buffer.writable_size() == 0) buffer.reserve_writable(buffer.capacity());
    }
    read_response();
    return;
  }
  response_scan_ = 0;
  http::ResponseHead& head = worker_.response_scratch();
  const http::ParseError error =
      http::parse_response_head(buffer.readable().substr(0, end), method_is_head_, head);
  if (error) {
    record_outcome(health::Outcome::bad_response);
    fail_exchange(502, error.reason);
    return;
  }
  if (head.status == 101) {
    note_response_head(101);
    if (websocket_ && head.upgrade_websocket) {
      record_outcome(health::Outcome::success);
      start_tunnel(end);
    } else {
      record_outcome(health::Outcome::bad_response);
      fail_exchange(502, "the backend switched protocols without a WebSocket upgrade");
    }
    return;
  }
  if (head.status < 200) {
    forward_interim_response(end);
    return;
  }
  on_final_response_head(end);
}

void ClientSession::forward_interim_response(std::size_t head_length) {
  // HTTP/1.0 clients do not understand 1xx responses (RFC 9110 section 15.2).
  if (http10_) {
    up_->buffer.consume(head_length);
    if (up_->buffer.empty()) {
      read_response();
    } else {
      try_response_head();
    }
    return;
  }
  const std::size_t offset = out_.size();
  http::write_client_response_head(worker_.response_scratch(), http::ResponseRewrite{}, out_);
  up_->buffer.consume(head_length);
  worker_.deadlines().arm(write_deadline_, view_->snapshot().config.timeouts.client_send);
  asio::async_write(socket_, asio::buffer(out_.read_ptr() + offset, out_.size() - offset),
                    [self = self(), offset](const error_code& ec, std::size_t) {
                      self->write_deadline_.disarm();
                      if (self->phase_ != Phase::exchange) return;
                      if (ec) {
                        self->close();
                        return;
                      }
                      self->out_.truncate(offset);
                      if (self->up_->buffer.empty()) {
                        self->read_response();
                      } else {
                        self->try_response_head();
                      }
                    });
}

void ClientSession::on_final_response_head(std::size_t head_length) {
  const http::ResponseHead& head = worker_.response_scratch();
  note_response_head(head.status);
  const Clock::time_point now = response_head_at_;
  backend_->stats->latency.record(now - upstream_started_, now, core::kLatencyDecayNs);
  record_outcome(head.status >= 500 ? health::Outcome::server_error : health::Outcome::success);
  status_ = head.status;
  response_framing_ = head.framing;
  response_remaining_ = head.content_length;
  upstream_reusable_ = head.keep_alive() && head.framing != http::BodyFraming::until_close;
  if (!request_fully_read()) {
    // The backend answered before the body was complete: stop sending it. Neither
    // connection can carry another request after that.
    request_abandoned_ = true;
    upstream_reusable_ = false;
    close_after_ = true;
  }
  strip_chunked_ = http10_ && head.framing == http::BodyFraming::chunked;
  if (head.framing == http::BodyFraming::until_close || strip_chunked_ || draining_) close_after_ = true;
  response_head_offset_ = out_.size();
  http::write_client_response_head(head, response_rewrite(), out_);
  up_->buffer.consume(head_length);
  response_chunks_ = http::ChunkedDecoder(view_->snapshot().config.limits.max_header_bytes);
  if (!frame_response_body(up_->buffer.size())) return;
  write_response_piece(true);
}

// A send or a read on the backend connection failed. `sending`: the request write
// failed, so the backend closed before taking the request; a failed read after a
// complete write means the backend may have acted on it.
void ClientSession::upstream_failed(const error_code& ec, bool sending) {
  const char* during = sending ? "sending the request" : "waiting for the response";
  if (upstream_timed_out_) {
    // Not retried: the backend may still be working on it, and the client has
    // already waited upstream_response.
    record_outcome(health::Outcome::timeout);
    if (response_started_) {
      close();
    } else {
      fail_exchange(504, "upstream timed out " + std::string(during));
    }
    return;
  }
  if (response_started_) {
    record_outcome(health::Outcome::reset);
    close();  // the client already has part of the response: it must see a cut
    return;
  }
  // A pooled connection the backend had closed while idle is normal keep-alive
  // churn, not a failure of the backend.
  const bool stale = up_->reused && !got_response_bytes_ && connection_lost(ec);
  if (!stale) record_outcome(health::Outcome::reset);
  if (stale) worker_.upstreams().close_idle(*slot_);  // its siblings are usually stale too
  const bool safe = replayable_ && !got_response_bytes_ && (sending || idempotent_);
  const std::string cause = std::string(during) + ": " + ec.message();
  if (safe && retry(cause, stale)) return;
  fail_exchange(502, cause);
}

void ClientSession::fail_exchange(std::uint16_t status, std::string_view detail, bool close) {
  core::log::debug("request to ", backend_ != nullptr ? backend_->address : std::string("-"),
             " failed: ", detail);
  upstream_deadline_.disarm();
  release_upstream(false);
  close = close || !request_fully_read();
  if (!close) {
    // The request's own bytes must not be read as the next request.
    in_.consume(request_piece_);
    request_piece_ = 0;
  }
  respond_locally(status, detail, close);
}

void ClientSession::release_upstream(bool reusable) {
  if (!up_) return;
  backend_->stats->active_connections.fetch_sub(1, std::memory_order_relaxed);
  if (reusable && up_->pending_ops == 0 && up_->buffer.empty()) {
    ++up_->requests;
    worker_.upstreams().park(std::move(up_));
    return;
  }
  core::close_socket(up_->socket);
  if (up_->pending_ops > 0) {
    retired_.push_back(std::move(up_));
  } else {
    worker_.buffers().release(up_->buffer);
    up_.reset();
  }
}

void ClientSession::start_tunnel(std::size_t head_length) {
  // Forward the 101 and anything the backend sent after it, then hand both sockets
  // to a Tunnel. Bytes the client sent after its upgrade request go with them.
  const std::size_t offset = out_.size();
  http::write_client_response_head(worker_.response_scratch(), response_rewrite(), out_);
  up_->buffer.consume(head_length);
  const std::array<asio::const_buffer, 2> pieces{
      asio::buffer(out_.read_ptr() + offset, out_.size() - offset),
      asio::buffer(up_->buffer.read_ptr(), up_->buffer.size())};
  status_ = 101;
  response_started_ = true;
  worker_.deadlines().arm(write_deadline_, view_->snapshot().config.timeouts.client_send);
  asio::async_write(socket_, pieces, [self = self()](const error_code& ec, std::size_t) {
    self->write_deadline_.disarm();
    if (self->phase_ != Phase::exchange) return;
    // The request write completes long before a 101 arrives; if it somehow has not,
    // the connection cannot be handed over safely.
    if (ec || self->up_->pending_ops > 0) {
      self->close();
      return;
    }
    self->upstream_deadline_.disarm();
    self->end_backend_use();
    self->record_exchange(101, true);
    self->up_->buffer.clear();
    self->in_.consume(self->request_piece_);
    auto tunnel = core::make_ref<Tunnel>(self->worker_, std::move(self->socket_), std::move(self->up_),
                                   std::move(self->in_), self->backend_->stats,
                                   self->view_->snapshot().config.timeouts.tunnel_idle);
    if (self->split_ != nullptr) tunnel->set_route(self->split_->tags[self->split_target_]);
    // The tunnel took the client socket and the backend connection (still counted in
    // active_connections): this session only unregisters.
    self->phase_ = Phase::closed;
    self->read_deadline_.disarm();
    self->worker_.connection_closed(*self, false);
    tunnel->start();
  });
}

}  // namespace veer::proxy
