// ClientSession: the backend side of an exchange. Connection, request head, response
// head, failures.
#include <cctype>
#include <string>

#include "core/log.hpp"
#include "http/http_parser.hpp"
#include "proxy/client_session.hpp"
#include "proxy/jsonrpc_ws_relay.hpp"
#include "proxy/tunnel.hpp"
#include "proxy/worker.hpp"
#include "runtime/jsonrpc_route.hpp"

namespace veer::proxy {
namespace {

// How long a pooled connection's last use is taken as proof that it is still open.
constexpr auto kTrustRecentlyUsed = std::chrono::milliseconds(500);

bool has_websocket_extensions(const http::ResponseHead& head) {
  constexpr std::string_view kName = "sec-websocket-extensions";
  for (const http::HeaderField& field : head.headers()) {
    if (field.name.size() != kName.size()) continue;
    bool same = true;
    for (std::size_t i = 0; i < kName.size() && same; ++i)
      same = std::tolower(static_cast<unsigned char>(field.name[i])) == kName[i];
    if (same) return true;
  }
  return false;
}

bool connection_lost(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe;
}

}  // namespace

http::ResponseRewrite ClientSession::response_rewrite() const {
  http::ResponseRewrite how;
  how.close_client = close_after_;
  how.client_http10 = exchange_->http10;
  how.strip_chunked = exchange_->strip_chunked;
  if (exchange_->pick.split != nullptr && !exchange_->pick.split->config->target_header.empty()) {
    how.added_name = exchange_->pick.split->config->target_header;
    how.added_value = exchange_->view->snapshot().pools[exchange_->pick.pool].name;
  }
  how.request_id = request_id();
  return how;
}

// Takes the backend the pick names: its stats and this worker's connections to it.
void ClientSession::use_backend() {
  runtime::PoolState& state = exchange_->view->pool(exchange_->pick.pool);
  const std::uint32_t index = *exchange_->pick.backend;
  exchange_->backend = &state.pool->backends[index];
  exchange_->slot = &worker_.upstreams().slot(state.slot_ids[index]);
  if (exchange_->written.host_pending) {
    // HTTP/1.0 without Host: the route's host names the site. A route with a host
    // matches only requests that have one today, so this is the backend's address,
    // rewritten on each retry so that it names the backend that gets the request.
    const std::string_view host =
        exchange_->pick.route != nullptr && !exchange_->pick.route->host.empty()
            ? exchange_->pick.route->host
            : exchange_->backend->address;
    http::complete_with_host(exchange_->written, host, out_);
    exchange_->request_head_length = out_.size();
  }
}

// The backend's final (or 101) head arrived: for the access log.
void ClientSession::note_response_head(std::uint16_t status) {
  exchange_->upstream_status = status;
  exchange_->response_head_at = worker_.now();
}

void ClientSession::dispatch() {
  exchange_->upstream_started = worker_.now();
  exchange_->connect_started = exchange_->connected = exchange_->request_sent_at =
      exchange_->response_head_at = Clock::time_point{};
  exchange_->upstream_status = 0;
  ++exchange_->attempts;
  exchange_->backend->stats->in_flight.fetch_add(1, std::memory_order_relaxed);
  exchange_->backend->stats->requests.fetch_add(1, std::memory_order_relaxed);  // same cache line
  exchange_->in_flight = true;
  // A request that would not be retried if a pooled connection turned out closed
  // after it was sent checks the connection before trusting it: always when its body
  // is still streaming, after a pause for a POST. A backend closes idle connections
  // after seconds, not milliseconds, so a connection used a moment ago is trusted
  // without paying a syscall on every JSON-RPC call.
  const Clock::duration probe_after = !exchange_->replayable   ? Clock::duration::zero()
                                      : !exchange_->idempotent ? kTrustRecentlyUsed
                                                               : Clock::duration::max();
  const runtime::PoolRuntime& pool = exchange_->view->snapshot().pools[exchange_->pick.pool];
  up_ = worker_.upstreams().take(*exchange_->slot, pool.tls.get(), probe_after,
                                 exchange_->upstream_started);
  runtime::ExchangeSeries* counters = series(true);
  if (up_) {
    if (counters != nullptr) counters->upstream_reused.add();
    exchange_->backend->stats->active_connections.fetch_add(1, std::memory_order_relaxed);
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
  runtime::PoolState& state = exchange_->view->pool(exchange_->pick.pool);
  const conf::RetryConfig& config = state.pool->config->retries;
  if (exchange_->attempts > config.attempts) return false;
  const runtime::Snapshot& snapshot = exchange_->view->snapshot();
  SplitFailoverLog failover_log(worker_, snapshot);
  const std::optional<runtime::Assignment> next =
      runtime::reassign(*exchange_->view, exchange_->pick, same_backend_ok, &failover_log);
  if (!next) return false;
  const runtime::BackendRuntime& next_backend = snapshot.pools[next->pool].backends[*next->backend];
  const std::string_view head = out_.readable();
  const http::WrittenRequest& written = exchange_->written;
  const std::string_view method = head.substr(written.method_offset, written.method_length);
  const std::string_view path = head.substr(written.path_offset, written.path_length);
  const std::string& address = exchange_->backend->address;
  // The budget keeps retries from multiplying load on this pool's backends; a split's
  // failover to another pool is routing, not a retry storm, and stays outside it.
  if (next->pool == exchange_->pick.pool && !state.retry_budget.try_spend(worker_.now())) {
    if (worker_.may_log_now()) {
      core::log::warn("pool ", state.pool->name, ": retry budget spent (budget_percent ",
                      config.budget_percent, "); not retrying ", method, " ", path, " after ",
                      address, " ", cause);
    }
    return false;
  }
  exchange_->backend->stats->retries.fetch_add(1, std::memory_order_relaxed);
  if (worker_.may_log_now()) {
    core::log::warn("retrying ", method, " ", path, " on ", next_backend.address, ": ", address,
                    " ", cause, " (try ", exchange_->attempts + 1, " of ", config.attempts + 1,
                    ")");
  }
  upstream_deadline_.disarm();
  exchange_->upstream_timed_out = false;
  release_upstream(false);
  end_backend_use();
  // A stale pooled connection is no failure of the backend (health does not count it).
  if (!same_backend_ok) count_failed_try(exchange_->split_target);
  exchange_->pick = *next;
  if (exchange_->split_target != kNoSplitTarget) exchange_->split_target = next->target;
  use_backend();
  dispatch();
  return true;
}

void ClientSession::record_outcome(health::Outcome outcome) {
  worker_.record_outcome(*exchange_->view->pool(exchange_->pick.pool).pool, *exchange_->backend,
                         outcome);
}

void ClientSession::connect_upstream() {
  up_ = worker_.upstreams().create(*exchange_->slot);
  exchange_->backend->stats->active_connections.fetch_add(1, std::memory_order_relaxed);
  worker_.deadlines().arm(upstream_deadline_, timeouts().upstream_connect);
  exchange_->connect_started = worker_.now();
  UpstreamConnection* conn = up_.get();
  ++conn->pending_ops;
  conn->stream.socket().async_connect(
      core::to_endpoint(exchange_->slot->endpoint.data(), exchange_->slot->endpoint.length),
      [self = self(), conn](const error_code& ec) { self->on_upstream_connected(conn, ec); });
}

bool ClientSession::upstream_op_done(UpstreamConnection* conn) {
  --conn->pending_ops;
  if (conn == up_.get()) {
    if (phase_ == Phase::closed) return true;
    // The upstream deadline covers whatever is still pending on the connection.
    if (conn->pending_ops == 0) {
      upstream_deadline_.disarm();
    } else if (!exchange_->upstream_timed_out) {
      worker_.deadlines().arm(upstream_deadline_, timeouts().upstream_response);
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
    const bool timed_out = exchange_->upstream_timed_out;
    record_outcome(timed_out ? health::Outcome::timeout : health::Outcome::connect_failed);
    const std::string cause =
        timed_out ? std::string("connect timed out") : "connect failed: " + ec.message();
    if (retry(cause, false)) return;
    fail_exchange(timed_out ? 504 : 502, "upstream " + cause);
    return;
  }
  error_code ignored;
  up_->stream.socket().set_option(tcp::no_delay(true), ignored);
  const runtime::PoolRuntime& pool = exchange_->view->snapshot().pools[exchange_->pick.pool];
  if (pool.tls) {
    start_upstream_tls(*pool.tls, pool.config->backends[*exchange_->pick.backend].host_port.host);
    return;
  }
  exchange_->connected = worker_.now();
  send_request();
}

// The handshake with a TLS backend counts as part of connecting: upstream_connect
// bounds it, and a failure is a connect failure (retried elsewhere, and a passive
// health failure of the backend).
void ClientSession::start_upstream_tls(const tls::ClientTls& tls, std::string_view host) {
  UpstreamConnection* conn = up_.get();
  conn->stream.start_tls(tls.new_session(host), worker_.tls_scratch());
  conn->tls = &tls;
  // The connect's completion disarmed the deadline (no operation was pending).
  worker_.deadlines().arm(upstream_deadline_, timeouts().upstream_connect);
  ++conn->pending_ops;
  conn->stream.async_handshake(
      [self = self(), conn](const error_code& ec) { self->on_upstream_handshake(conn, ec); });
}

void ClientSession::on_upstream_handshake(UpstreamConnection* conn, const error_code& ec) {
  if (upstream_op_done(conn)) return;
  if (ec) {
    const bool timed_out = exchange_->upstream_timed_out;
    record_outcome(timed_out ? health::Outcome::timeout : health::Outcome::tls_failed);
    ++exchange_->upstream_tls_failures;
    exchange_->backend->stats->tls_failures.fetch_add(1, std::memory_order_relaxed);
    const std::string cause = timed_out                ? std::string("tls: handshake timed out")
                              : ec == tls::tls_error() ? "tls: " + conn->stream.tls()->error()
                                                       : "tls: " + ec.message();
    if (retry(cause, false)) return;
    fail_exchange(timed_out ? 504 : 502, "upstream " + cause);
    return;
  }
  exchange_->connected = worker_.now();
  send_request();
}

void ClientSession::send_request() {
  if (!up_->buffer.allocated()) up_->buffer = worker_.buffers().acquire();
  up_->buffer.clear();
  exchange_->response_scan = 0;
  exchange_->got_response_bytes = false;
  exchange_->request_sent_at = worker_.now();
  // Head and the body bytes already here go out in one writev.
  const std::array<asio::const_buffer, 2> pieces{
      asio::buffer(out_.read_ptr(), exchange_->request_head_length),
      asio::buffer(in_.read_ptr(), exchange_->request_piece)};
  // upstream_response is armed by read_upstream, below: arming it here too read the
  // clock twice for one deadline.
  UpstreamConnection* conn = up_.get();
  ++conn->pending_ops;
  conn->stream.async_write(pieces, [self = self(), conn](const error_code& ec, std::size_t) {
    self->on_request_sent(conn, ec);
  });
  read_upstream(UpstreamRead::head);
}

void ClientSession::on_request_sent(UpstreamConnection* conn, const error_code& ec) {
  if (upstream_op_done(conn)) return;
  if (ec) {
    upstream_failed(ec, true);
    return;
  }
  if (!exchange_->replayable) {
    in_.consume(exchange_->request_piece);
    exchange_->request_piece = 0;
  }
  if (request_fully_read() || exchange_->request_abandoned) {
    exchange_->request_sent = true;
    if (exchange_->response_done) finish_exchange();
    return;
  }
  relay_request_body();
}

// One read from the backend into its connection's buffer, under upstream_response:
// more of the response head, or the next piece of the body.
void ClientSession::read_upstream(UpstreamRead what) {
  UpstreamConnection* conn = up_.get();
  core::Buffer& buffer = conn->buffer;
  buffer.compact();  // what a 1xx head or the last piece left goes to the front
  worker_.deadlines().arm(upstream_deadline_, timeouts().upstream_response);
  ++conn->pending_ops;
  conn->stream.async_read_some(asio::buffer(buffer.write_ptr(), buffer.writable_size()),
                               [self = self(), conn, what](const error_code& ec, std::size_t n) {
                                 if (what == UpstreamRead::head) {
                                   self->on_response_bytes(conn, ec, n);
                                 } else {
                                   self->on_response_body_bytes(conn, ec, n);
                                 }
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
  exchange_->got_response_bytes = true;
  try_response_head();
}

void ClientSession::try_response_head() {
  core::Buffer& buffer = up_->buffer;
  const std::uint64_t max_header = exchange_->view->snapshot().config.limits.max_header_bytes;
  const std::size_t end = http::find_head_end(buffer.readable(), exchange_->response_scan);
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
    read_upstream(UpstreamRead::head);
    return;
  }
  exchange_->response_scan = 0;
  http::ResponseHead& head = worker_.response_scratch();
  const http::ParseError error =
      http::parse_response_head(buffer.readable().substr(0, end), exchange_->method_is_head, head);
  if (error) {
    record_outcome(health::Outcome::bad_response);
    fail_exchange(502, error.reason);
    return;
  }
  if (head.status == 101) {
    note_response_head(101);
    if (exchange_->websocket && head.upgrade_websocket) {
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
  if (exchange_->http10) {
    up_->buffer.consume(head_length);
    next_response_head();
    return;
  }
  const std::size_t offset = out_.size();
  http::write_client_response_head(worker_.response_scratch(), http::ResponseRewrite{}, out_);
  up_->buffer.consume(head_length);
  worker_.deadlines().arm(write_deadline_, timeouts().client_send);
  stream_.async_write(asio::buffer(out_.read_ptr() + offset, out_.size() - offset),
                      [self = self(), offset](const error_code& ec, std::size_t) {
                        self->write_deadline_.disarm();
                        if (self->phase_ != Phase::exchange) return;
                        if (ec) {
                          self->close();
                          return;
                        }
                        self->out_.truncate(offset);
                        self->next_response_head();
                      });
}

// After a 1xx: the next head may already be in the buffer.
void ClientSession::next_response_head() {
  if (up_->buffer.empty()) {
    read_upstream(UpstreamRead::head);
  } else {
    try_response_head();
  }
}

void ClientSession::on_final_response_head(std::size_t head_length) {
  const http::ResponseHead& head = worker_.response_scratch();
  note_response_head(head.status);
  const Clock::time_point now = exchange_->response_head_at;
  exchange_->backend->stats->latency.record(now - exchange_->upstream_started, now,
                                            core::kLatencyDecayNs);
  record_outcome(head.status >= 500 ? health::Outcome::server_error : health::Outcome::success);
  exchange_->status = head.status;
  exchange_->response_framing = head.framing;
  exchange_->response_remaining = head.content_length;
  exchange_->upstream_reusable =
      head.keep_alive() && head.framing != http::BodyFraming::until_close;
  if (!request_fully_read()) {
    // The backend answered before the body was complete: stop sending it. Neither
    // connection can carry another request after that.
    exchange_->request_abandoned = true;
    exchange_->upstream_reusable = false;
    close_after_ = true;
  }
  exchange_->strip_chunked = exchange_->http10 && head.framing == http::BodyFraming::chunked;
  if (head.framing == http::BodyFraming::until_close || exchange_->strip_chunked || draining_)
    close_after_ = true;
  exchange_->response_head_offset = out_.size();
  http::write_client_response_head(head, response_rewrite(), out_);
  up_->buffer.consume(head_length);
  exchange_->response_chunks =
      http::ChunkedDecoder(exchange_->view->snapshot().config.limits.max_header_bytes);
  if (!frame_response_body(up_->buffer.size())) return;
  write_response_piece(true);
}

// A send or a read on the backend connection failed. `sending`: the request write
// failed, so the backend closed before taking the request; a failed read after a
// complete write means the backend may have acted on it.
void ClientSession::upstream_failed(const error_code& ec, bool sending) {
  const char* during = sending ? "sending the request" : "waiting for the response";
  if (exchange_->upstream_timed_out) {
    // Not retried: the backend may still be working on it, and the client has
    // already waited upstream_response.
    record_outcome(health::Outcome::timeout);
    if (exchange_->response_started) {
      close();
    } else {
      fail_exchange(504, "upstream timed out " + std::string(during));
    }
    return;
  }
  if (exchange_->response_started) {
    record_outcome(health::Outcome::reset);
    close();  // the client already has part of the response: it must see a cut
    return;
  }
  // A pooled connection the backend had closed while idle is normal keep-alive
  // churn, not a failure of the backend.
  const bool stale = up_->reused && !exchange_->got_response_bytes && connection_lost(ec);
  // A TLS alert instead of an answer: with TLS 1.3 a backend refuses our client
  // certificate after our side of the handshake is done. A TLS failure like the others.
  const bool tls_failed = ec == tls::tls_error() && up_->stream.tls() != nullptr;
  if (tls_failed) {
    ++exchange_->upstream_tls_failures;
    exchange_->backend->stats->tls_failures.fetch_add(1, std::memory_order_relaxed);
  }
  if (!stale) record_outcome(tls_failed ? health::Outcome::tls_failed : health::Outcome::reset);
  if (stale)
    worker_.upstreams().close_idle(*exchange_->slot);  // its siblings are usually stale too
  const bool safe =
      exchange_->replayable && !exchange_->got_response_bytes && (sending || exchange_->idempotent);
  const std::string cause =
      tls_failed ? "tls: " + up_->stream.tls()->error() : std::string(during) + ": " + ec.message();
  if (safe && retry(cause, stale)) return;
  fail_exchange(502, tls_failed ? "upstream " + cause : cause);
}

void ClientSession::fail_exchange(std::uint16_t status, std::string_view detail, bool close) {
  core::log::debug("request to ",
                   exchange_->backend != nullptr ? exchange_->backend->address : std::string("-"),
                   " failed: ", detail);
  upstream_deadline_.disarm();
  release_upstream(false);
  close = close || !request_fully_read();
  if (!close) {
    // The request's own bytes must not be read as the next request.
    in_.consume(exchange_->request_piece);
    exchange_->request_piece = 0;
  }
  respond_locally(status, detail, close);
}

void ClientSession::release_upstream(bool reusable) {
  if (!up_) return;
  exchange_->backend->stats->active_connections.fetch_sub(1, std::memory_order_relaxed);
  if (reusable && up_->pending_ops == 0 && up_->buffer.empty()) {
    ++up_->requests;
    worker_.upstreams().park(std::move(up_));
    return;
  }
  core::close_socket(up_->stream.socket());
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
  exchange_->status = 101;
  exchange_->response_started = true;
  // The JSON-RPC relay reads frames and speaks no extension: a node that accepted the
  // client's permessage-deflate offer gets a byte tunnel as before.
  const bool extensions = has_websocket_extensions(worker_.response_scratch());
  worker_.deadlines().arm(write_deadline_, timeouts().client_send);
  stream_.async_write(pieces, [self = self(), extensions](const error_code& ec, std::size_t) {
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
    self->release_route_slot();  // a tunnel is not a request in flight
    self->record_exchange(101, true);
    self->up_->buffer.clear();
    self->in_.consume(self->exchange_->request_piece);
    if (!extensions && self->start_jsonrpc_relay()) return;
    auto tunnel = core::make_ref<Tunnel>(
        self->worker_, std::move(self->stream_), std::move(self->up_), std::move(self->in_),
        self->exchange_->backend->stats, self->timeouts().tunnel_idle);
    if (self->exchange_->pick.split != nullptr)
      tunnel->set_route(self->exchange_->pick.split->tags[self->exchange_->pick.target]);
    tunnel->keep_client_slot(std::move(self->client_slot_));
    // The tunnel took the client socket and the backend connection (still counted in
    // active_connections): this session only unregisters.
    self->phase_ = Phase::closed;
    self->read_deadline_.disarm();
    self->worker_.connection_closed(*self, false);
    tunnel->start();
  });
}

}  // namespace veer::proxy

namespace veer::proxy {

// On a JSON-RPC route the upgraded connection becomes a JsonRpcWsRelay (subscriptions
// that survive their node) instead of a byte Tunnel. False: not such a route.
bool ClientSession::start_jsonrpc_relay() {
  const runtime::RouteRuntime* route = exchange_->pick.route;
  if (route == nullptr || !route->jsonrpc || route->jsonrpc->config == nullptr) return false;
  const conf::JsonRpcRouteConfig* config = route->jsonrpc->config;
  JsonRpcWsSettings settings;
  settings.max_subscriptions = config->max_subscriptions;
  settings.max_queue_bytes = config->max_queue_bytes;
  settings.idle_timeout = timeouts().tunnel_idle;
  settings.connect_timeout = timeouts().upstream_connect;
  settings.path = std::string(
      out_.readable().substr(exchange_->written.path_offset, exchange_->written.path_length));
  auto relay =
      core::make_ref<JsonRpcWsRelay>(worker_, std::move(stream_), std::move(up_), std::move(in_),
                                     exchange_->view, exchange_->pick, std::move(settings));
  relay->keep_client_slot(std::move(client_slot_));
  phase_ = Phase::closed;
  read_deadline_.disarm();
  worker_.connection_closed(*this, false);
  relay->start();
  return true;
}

}  // namespace veer::proxy
