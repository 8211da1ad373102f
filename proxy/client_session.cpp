// ClientSession: the client connection, request heads, local responses, keep-alive.
#include "proxy/client_session.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>

#include <cstring>

#include "core/log.hpp"
#include "http/http_parser.hpp"
#include "proxy/worker.hpp"

namespace veer::proxy {
namespace {

// How long a closing connection keeps reading (and discarding) what the client still
// sends, so that our close does not turn into a reset that destroys the response
// before the client has read it (nginx's lingering_close).
constexpr auto kLingerTime = std::chrono::seconds(2);

// How long an idle keep-alive connection keeps its read buffer. Busy clients send
// their next request within milliseconds and keep reading straight into the buffer;
// a connection quiet for this long gives it back (see await_head).
constexpr auto kParkAfter = std::chrono::seconds(1);
// Spare exchanges a thread keeps: enough for connections waking from idle together; the
// rest of a crowd that parks is freed (parking is what gives their memory back).
constexpr std::size_t kMaxSpareExchanges = 64;

double millis_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace

ClientSession::ClientSession(Worker& worker, Socket socket, const std::string& listener,
                             const sockaddr_storage& peer)
    : worker_(worker), stream_(std::move(socket)), listener_(listener), hold_timer_(worker.io()) {
  take_exchange();
  // A dual-stack listener's IPv4 clients (::ffff:a.b.c.d) read as IPv4.
  peer_ = core::IpAddress::from_sockaddr(peer).value_or(core::IpAddress{});
  peer_text_.set(peer_);
  origin_ = client_ = peer_;
  origin_text_ = client_text_ = peer_text_;
}

ClientSession::~ClientSession() {
  // Every handler has run (each held a Ref): no operation can still use the buffers.
  worker_.buffers().release(in_);
  worker_.buffers().release(out_);
  put_back_exchange();
}

std::vector<std::unique_ptr<ClientSession::Exchange>>& ClientSession::spare_exchanges() {
  thread_local std::vector<std::unique_ptr<Exchange>> spares;  // a worker's sessions: one thread
  return spares;
}

void ClientSession::take_exchange() {
  if (exchange_) return;
  auto& spares = spare_exchanges();
  if (spares.empty()) {
    exchange_ = std::make_unique<Exchange>();
    return;
  }
  exchange_ = std::move(spares.back());
  spares.pop_back();
}

// Only between exchanges (next_request reset it) or when the session goes.
void ClientSession::put_back_exchange() {
  if (!exchange_) return;
  *exchange_ = {};
  auto& spares = spare_exchanges();
  if (spares.size() < kMaxSpareExchanges) spares.push_back(std::move(exchange_));
  exchange_.reset();
}

void ClientSession::start() {
  worker_.connections().add(*this);
  adopt_accepted(stream_.socket());
  if (!start_proxy_header()) start_connection();
}

void ClientSession::start_reading() {
  phase_ = Phase::head;
  // A new connection gets client_header from accept, so one that never sends a byte
  // cannot hold a slot for client_idle.
  worker_.deadlines().arm(read_deadline_, worker_.config().timeouts.client_header);
  if (!in_.empty()) {  // what came right after a PROXY protocol header
    parked_ = false;
    parse_buffered_head();
    return;
  }
  // The request often arrives with the connection: read it now. A connection that
  // has sent nothing yet holds no buffer.
  parked_ = true;
  read_available();
}

void ClientSession::drain() {
  draining_ = true;
  if (phase_ == Phase::idle || phase_ == Phase::handshake || phase_ == Phase::proxy_header ||
      (phase_ == Phase::head && in_.empty()))
    close();
}

void ClientSession::abort() {
  close();
}

void ClientSession::abort_if_using(const core::BackendStats& backend) {
  if (phase_ == Phase::exchange && exchange_->backend != nullptr &&
      exchange_->backend->stats.get() == &backend) {
    core::log::debug("closing ", client_ip(), ": its backend ", exchange_->backend->address,
                     " was removed and its drain deadline passed");
    close();
  }
}

void ClientSession::on_timeout(Deadline& deadline) {
  switch (deadline.tag()) {
    case kClientRead:
      if (phase_ == Phase::proxy_header) {
        refuse_proxy_header("header not complete within timeouts.proxy_protocol");
        return;
      }
      if (phase_ == Phase::handshake) {
        worker_.metrics().tls.failed[runtime::TlsCounters::timeout].add();
        core::log::debug("closing ", client_ip(), ": TLS handshake not done within tls_handshake");
      } else if (phase_ == Phase::head && !in_.empty()) {
        core::log::debug("closing ", client_ip(),
                         ": request head not complete within client_header");
      }
      close();
      break;
    case kClientWrite:
      close();
      break;
    case kUpstream:
      exchange_->upstream_timed_out = true;
      if (up_)
        core::interrupt_socket(up_->stream.socket());  // pending operations complete, then 504
      break;
    case kPark:
      if (phase_ == Phase::idle && !parked_) {
        parked_ = true;
        worker_.metrics().connections_parked.add();
        put_back_exchange();
        // On epoll the pending read holds the buffer: it completes aborted, and
        // on_head_bytes gives the buffer back. On io_uring the wait holds none.
        error_code ignored;
        if (!core::kIoUring) stream_.socket().cancel(ignored);
      }
      break;
  }
}

// Waiting for (more of) a request head. A hot connection reads straight into its
// buffer: once a read has drained the socket, Asio's edge-triggered epoll reactor
// arms the next read without a syscall, the pattern nginx uses. A parked one waits
// for readability without a buffer, which costs an epoll_ctl per wait but no memory.
// On io_uring the socket's multishot receive stays armed without a buffer (the bytes
// land in the ring's provided buffers and are copied out on read), so it always waits.
void ClientSession::await_head() {
  if (core::kIoUring || parked_) {
    wait_for_head();
    return;
  }
  if (!in_.allocated()) in_ = worker_.buffers().acquire();
  if (in_.writable_size() == 0) in_.compact();
  stream_.async_read_some(
      asio::buffer(in_.write_ptr(), in_.writable_size()),
      [self = self()](const error_code& ec, std::size_t n) { self->on_head_bytes(ec, n); });
}

void ClientSession::on_head_bytes(const error_code& ec, std::size_t n) {
  if (phase_ == Phase::closed) return;
  if (ec == asio::error::operation_aborted && parked_) {
    worker_.buffers().release(in_);  // idle past kParkAfter: wait without a buffer
    wait_for_head();
    return;
  }
  if (ec) {
    close();
    return;
  }
  note_head_started();
  in_.commit(n);
  parse_buffered_head();
}

void ClientSession::note_head_started() {
  park_deadline_.disarm();
  take_exchange();
  if (phase_ == Phase::idle) {
    phase_ = Phase::head;
    worker_.deadlines().arm(read_deadline_, worker_.config().timeouts.client_header);
  }
}

void ClientSession::wait_for_head() {
  stream_.async_wait_readable(
      [self = self()](const error_code& ec) { self->on_client_readable(ec); });
}

void ClientSession::on_client_readable(const error_code& ec) {
  if (phase_ == Phase::closed) return;
  if (ec) {
    close();
    return;
  }
  read_available();
}

// Reads what the socket holds now, without waiting (readiness is known or likely).
void ClientSession::read_available() {
  if (!in_.allocated()) in_ = worker_.buffers().acquire();
  if (in_.writable_size() == 0) in_.compact();
  error_code read_error;
  const std::size_t n =
      stream_.read_some(asio::buffer(in_.write_ptr(), in_.writable_size()), read_error);
  if (read_error == asio::error::would_block) {
    if (in_.empty()) worker_.buffers().release(in_);
    wait_for_head();
    return;
  }
  if (read_error) {
    close();  // closed or reset between requests: nothing to answer
    return;
  }
  note_head_started();
  parked_ = false;  // the client is active again
  in_.commit(n);
  parse_buffered_head();
}

void ClientSession::parse_buffered_head() {
  const std::uint64_t max_header = worker_.config().limits.max_header_bytes;
  // RFC 9112 section 2.2: empty lines before a request line are ignored.
  while (scan_from_ == 0 && in_.size() >= 2 && in_.readable().substr(0, 2) == "\r\n") {
    in_.consume(2);
  }
  const std::size_t end = http::find_head_end(in_.readable(), scan_from_);
  if (end == 0 || end > max_header) {
    if (in_.size() >= max_header) {
      respond_locally(431, "request head larger than limits.max_header_bytes", true);
      return;
    }
    if (in_.writable_size() == 0) {
      in_.compact();
      if (in_.writable_size() == 0) in_.reserve_writable(in_.capacity());
    }
    await_head();
    return;
  }
  on_request_head(end);
}

bool ClientSession::request_fully_read() const {
  switch (exchange_->request_framing) {
    case http::BodyFraming::content_length:
      return exchange_->request_remaining == 0;
    case http::BodyFraming::chunked:
      return exchange_->request_chunks.done();
    default:
      return true;
  }
}

void ClientSession::on_request_head(std::size_t head_length) {
  read_deadline_.disarm();
  scan_from_ = 0;
  exchange_->started = worker_.now();
  phase_ = Phase::exchange;
  exchange_->bytes_in = head_length;
  http::RequestHead& head = worker_.request_scratch();
  const http::ParseError error =
      http::parse_request_head(in_.readable().substr(0, head_length), head);
  if (error) {
    core::log::debug("refusing a request from ", client_ip(), ": ", error.reason);
    respond_locally(error.status, error.reason, true);
    return;
  }
  exchange_->http10 = head.version_minor == 0;
  exchange_->method_is_head = head.method_is_head;
  exchange_->websocket = head.websocket_upgrade;
  if (!head.keep_alive() || draining_) close_after_ = true;
  write_upstream_head(head, head_length);
  if (exchange_->request_framing == http::BodyFraming::content_length &&
      exchange_->request_remaining > exchange_->view->snapshot().config.limits.max_body_bytes) {
    if (refuse_jsonrpc_body_size(head)) return;
    respond_locally(413, "request body larger than limits.max_body_bytes", true);
    return;
  }
  if (over_client_cap_) {
    refuse_over_client_cap(head);
    return;
  }
  route_request(head);
}

// The upstream head is built first: it is what the access log and every local
// response of this request read the method, path and request id from.
void ClientSession::write_upstream_head(const http::RequestHead& head, std::size_t head_length) {
  exchange_->view = worker_.view();
  identify_client(head);
  if (!out_.allocated()) out_ = worker_.buffers().acquire();
  char generated_id[32];
  set_request_id(head.request_id.empty() ? worker_.request_ids().next(generated_id)
                                         : head.request_id);
  http::ForwardContext context = forward_context();
  if (head.websocket_upgrade) context.drop_websocket_extensions = routes_to_jsonrpc(head);
  exchange_->written = http::write_upstream_request(head, context, out_);
  exchange_->request_head_length = out_.size();
  exchange_->request_framing = head.framing;
  exchange_->request_remaining = head.content_length;
  in_.consume(head_length);
}

// Whether the request's route is a JSON-RPC route (its upgrade becomes the relay).
bool ClientSession::routes_to_jsonrpc(const http::RequestHead& head) const {
  const runtime::ListenerRuntime* listener = exchange_->view->snapshot().find_listener(listener_);
  if (listener == nullptr) return false;
  const runtime::RouteRuntime* route =
      runtime::WorkerView::route(*listener, head.authority, head.path);
  return route != nullptr && route->jsonrpc != nullptr;
}

void ClientSession::SplitFailoverLog::passed_on(const runtime::SplitRuntime& split,
                                                std::uint32_t from_target,
                                                std::uint32_t to_target) {
  if (!worker_.may_log_now()) return;
  core::log::warn("split ", split.name, ": pool ", snapshot_.pools[split.pools[from_target]].name,
                  " has no routable backend; its share goes to pool ",
                  snapshot_.pools[split.pools[to_target]].name);
}

void ClientSession::route_request(const http::RequestHead& head) {
  const runtime::Snapshot& snapshot = exchange_->view->snapshot();
  const runtime::ListenerRuntime* listener = snapshot.find_listener(listener_);
  SplitFailoverLog failover_log(worker_, snapshot);
  exchange_->pick = runtime::assign(*exchange_->view, listener, head, client_ip(), &failover_log);
  const bool with_body = exchange_->request_framing != http::BodyFraming::none;
  if (exchange_->pick.route == nullptr) {
    respond_locally(404, "no route for this host and path", with_body);
    return;
  }
  count_routed(*listener);
  exchange_->idempotent = http::is_idempotent_method(head.method);
  if (exchange_->pick.route->jsonrpc && !exchange_->websocket && head.method == "POST") {
    if (take_route_slot(&head)) start_jsonrpc(head);  // proxy/jsonrpc_exchange.cpp
    return;
  }
  if (!exchange_->pick.route->policies.empty() && !apply_rate_limits(head)) return;
  send_routed(&head);
}

// The routed request goes to its backend. The head is no longer at hand here: a
// request held by a policy's `delay` comes back to this point later.
void ClientSession::send_routed(const http::RequestHead* head) {
  const runtime::Snapshot& snapshot = exchange_->view->snapshot();
  if (!exchange_->pick.backend) {
    const bool with_body = exchange_->request_framing != http::BodyFraming::none;
    respond_locally(503, runtime::no_backend_detail(snapshot, exchange_->pick), with_body);
    return;
  }
  if (!take_route_slot(head)) return;
  use_backend();
  if (exchange_->request_framing == http::BodyFraming::chunked) {
    exchange_->request_chunks = http::ChunkedDecoder(snapshot.config.limits.max_header_bytes);
  }
  if (!frame_request_body()) return;
  // A request that is whole in memory can be sent again if a pooled connection turns
  // out to be closed; one still streaming from the client cannot.
  exchange_->replayable = request_fully_read();
  exchange_->view->pool(exchange_->pick.pool).retry_budget.record_request(exchange_->started);
  dispatch();
}

// The routed request's counters: its route's series, and its split target's share.
void ClientSession::count_routed(const runtime::ListenerRuntime& listener) {
  const runtime::MetricsView* metrics = exchange_->view->metrics();
  if (metrics == nullptr) return;
  const runtime::RouteRuntime& route = *exchange_->pick.route;
  const runtime::Snapshot& snapshot = exchange_->view->snapshot();
  exchange_->route_series =
      &metrics->route(static_cast<std::size_t>(&listener - snapshot.listeners.data()),
                      static_cast<std::size_t>(&route - listener.routes.data()));
  if (exchange_->pick.split != nullptr) {
    metrics->split_target(route.split, exchange_->pick.target).assigned.add();
    exchange_->split_target = exchange_->pick.target;
  }
}

// The rollout judge's evidence: one answer per request the split routed, on the target
// it ended on, with the time from its head to the end of its answer (and one error per
// failed try a retry moved elsewhere: count_failed_try).
void ClientSession::count_split_answer(bool error, Clock::time_point now) {
  if (exchange_->split_target == kNoSplitTarget) return;
  const runtime::MetricsView& metrics = *exchange_->view->metrics();  // set by count_routed
  metrics.split_target(exchange_->pick.route->split, exchange_->split_target)
      .count_answer(error, now - exchange_->started);
  exchange_->split_target = kNoSplitTarget;
}

// A retry must not hide a canary's failures from the judge: the failed try counts as an
// error answer of the target it was sent to, and the request's own answer then counts
// where it ends. Retries are rare, so the clock read here costs nothing that matters.
void ClientSession::count_failed_try(std::uint32_t target) {
  if (exchange_->split_target == kNoSplitTarget || target == kNoSplitTarget) return;
  const runtime::MetricsView& metrics = *exchange_->view->metrics();
  metrics.split_target(exchange_->pick.route->split, target)
      .count_answer(true, worker_.now() - exchange_->started);
}

runtime::ExchangeSeries* ClientSession::series(bool with_backend) {
  if (exchange_->route_series == nullptr) {
    // Refused before routing: the request may not even have a view yet.
    const core::Ref<runtime::WorkerView>& view = exchange_->view ? exchange_->view : worker_.view();
    const runtime::MetricsView* metrics = view->metrics();
    if (metrics == nullptr) return nullptr;
    const runtime::Snapshot& snapshot = view->snapshot();
    const runtime::ListenerRuntime* listener = snapshot.find_listener(listener_);
    if (listener == nullptr) return nullptr;  // removed by a reload meanwhile
    return &metrics->unrouted(static_cast<std::size_t>(listener - snapshot.listeners.data()));
  }
  // A JSON-RPC method route's or archive's pool is not among the route's own series.
  if (exchange_->route_series->pools[exchange_->pick.pool].empty()) return nullptr;
  if (!with_backend || exchange_->backend == nullptr)
    return &exchange_->route_series->no_backend(exchange_->pick.pool);
  const runtime::PoolRuntime& pool = *exchange_->view->pool(exchange_->pick.pool).pool;
  return &exchange_->route_series->backend(
      exchange_->pick.pool, static_cast<std::size_t>(exchange_->backend - pool.backends.data()));
}

void ClientSession::record_exchange(std::uint16_t status, bool with_backend) {
  AccessLog& log = worker_.access_log();
  runtime::ExchangeSeries* counters = series(with_backend);
  const bool split = exchange_->split_target != kNoSplitTarget;
  if (counters == nullptr && !split && !log.enabled()) return;
  const Clock::time_point now = worker_.now();
  if (split) count_split_answer(exchange_->answer_error.value_or(status >= 500), now);
  if (counters != nullptr) {
    counters->count_response(status);
    if (with_backend && exchange_->backend != nullptr)
      counters->time_response(now - exchange_->upstream_started);
  }
  if (!log.enabled()) return;
  AccessEntry entry;
  entry.client = client_ip();
  if (!(peer_ == client_)) entry.peer = peer_text_.view();
  entry.listener = listener_;
  entry.request_id = request_id();
  const std::string_view head = out_.readable();
  if (exchange_->request_head_length > 0) {
    entry.method = head.substr(exchange_->written.method_offset, exchange_->written.method_length);
    entry.path = head.substr(exchange_->written.path_offset, exchange_->written.path_length);
    entry.host = head.substr(exchange_->written.host_offset, exchange_->written.host_length);
    entry.user_agent =
        head.substr(exchange_->written.user_agent_offset, exchange_->written.user_agent_length);
  }
  if (exchange_->pick.route != nullptr) {
    entry.routed = true;
    entry.route_host = exchange_->pick.route->host;
    entry.route_path_prefix = exchange_->pick.route->path_prefix;
  }
  entry.status = status;
  entry.bytes = exchange_->response_body_bytes;
  entry.bytes_in = exchange_->bytes_in;
  if (with_backend && exchange_->backend != nullptr) {
    entry.pool = exchange_->view->snapshot().pools[exchange_->pick.pool].name;
    entry.backend = exchange_->backend->address;
    entry.upstream_ms = millis_between(exchange_->upstream_started, now);
  }
  entry.upstream_status = exchange_->upstream_status;
  if (exchange_->connected != Clock::time_point{}) {
    entry.upstream_connect_ms = millis_between(exchange_->connect_started, exchange_->connected);
  }
  if (exchange_->response_head_at != Clock::time_point{}) {
    entry.upstream_header_ms =
        millis_between(exchange_->request_sent_at, exchange_->response_head_at);
  }
  if (exchange_->upstream_tls_failures > 0) entry.upstream_error = "tls";
  if (stream_.tls() != nullptr) entry.tls_version = stream_.tls()->version();
  entry.attempts = exchange_->attempts;
  entry.limited_by = exchange_->limited_by;
  entry.rate_limit = rate_limit_name(exchange_->rate_limit);
  if (exchange_->rate_limit == RateLimit::delayed)
    entry.rate_limit_delay_ms = static_cast<double>(exchange_->held_ns) / 1e6;
  entry.total_ms = millis_between(exchange_->started, now);
  log.record(entry);
}

void ClientSession::set_request_id(std::string_view id) {
  exchange_->request_id_length =
      static_cast<std::uint8_t>(std::min(id.size(), sizeof exchange_->request_id));
  std::memcpy(exchange_->request_id, id.data(), exchange_->request_id_length);
}

void ClientSession::respond_locally(std::uint16_t status, std::string_view detail, bool close) {
  prepare_local_response(status, close);
  const std::size_t offset = out_.size();
  http::write_local_response(status, detail, request_id(), close_after_, exchange_->method_is_head,
                             out_);
  exchange_->response_body_bytes =
      exchange_->method_is_head ? 0 : detail.size() + exchange_->request_id_length + 15;
  send_local_response(offset);
}

void ClientSession::prepare_local_response(std::uint16_t status, bool close) {
  if (close || !request_fully_read()) close_after_ = true;
  phase_ = Phase::responding_locally;
  exchange_->status = status;
  if (!out_.allocated()) out_ = worker_.buffers().acquire();
  if (exchange_->request_id_length == 0) {  // refused before the head was parsed: a new id
    char generated_id[32];
    set_request_id(worker_.request_ids().next(generated_id));
  }
}

// Sends what out_ holds from `offset` on: a response veer wrote itself.
void ClientSession::send_local_response(std::size_t offset) {
  const bool with_backend = exchange_->in_flight;
  end_backend_use();
  release_route_slot();
  record_exchange(exchange_->status, with_backend);
  worker_.deadlines().arm(write_deadline_, worker_.config().timeouts.client_send);
  stream_.async_write(asio::buffer(out_.read_ptr() + offset, out_.size() - offset),
                      [self = self()](const error_code& ec, std::size_t) {
                        self->write_deadline_.disarm();
                        if (self->phase_ == Phase::closed) return;
                        if (ec) {
                          self->close();
                          return;
                        }
                        self->next_request();
                      });
}

void ClientSession::end_backend_use() {
  if (!exchange_ || !exchange_->in_flight) return;  // none: parked
  exchange_->in_flight = false;
  exchange_->backend->stats->in_flight.fetch_sub(1, std::memory_order_relaxed);
}

void ClientSession::finish_exchange() {
  if (phase_ != Phase::exchange) return;
  upstream_deadline_.disarm();
  end_backend_use();
  release_route_slot();
  record_exchange(exchange_->status, true);
  release_upstream(exchange_->upstream_reusable && exchange_->request_sent &&
                   !exchange_->request_abandoned);
  if (exchange_->replayable) in_.consume(exchange_->request_piece);
  next_request();
}

void ClientSession::next_request() {
  if (phase_ == Phase::closed) return;
  // Nothing is pending on the client socket here: a request body still arriving always
  // sets close_after_. The try has ended (it is no longer counted in flight).
  end_backend_use();
  release_route_slot();
  *exchange_ = {};
  out_.clear();
  // Until the next head names its client, a refusal (400, 431) is the origin's.
  if (!(client_ == origin_)) {
    client_ = origin_;
    client_text_ = origin_text_;
  }
  if (close_after_ || draining_) {
    close_gracefully();
    return;
  }
  if (!in_.empty()) {  // a pipelined request is already here
    phase_ = Phase::head;
    worker_.deadlines().arm(read_deadline_, worker_.config().timeouts.client_header);
    parse_buffered_head();
    return;
  }
  worker_.buffers().release(out_);
  phase_ = Phase::idle;
  const Clock::time_point now = worker_.now();  // one clock read for both deadlines
  worker_.deadlines().arm(read_deadline_, worker_.config().timeouts.client_idle, now);
  if (!parked_) worker_.deadlines().arm(park_deadline_, kParkAfter, now);
  // Idle connections end up holding no buffer (the 4 KiB-per-idle-client budget).
  if (core::kIoUring || parked_) worker_.buffers().release(in_);
  await_head();
}

// With nothing unread, close() alone sends the FIN (as nginx does: no shutdown); only a
// connection with bytes left unread shuts its sending side first and lingers, since
// closing it now would reset the connection.
void ClientSession::close_gracefully() {
  stream_.close_notify();
  const std::size_t unread = unread_bytes(stream_.socket());
  if (unread == 0 && request_fully_read() && in_.empty()) {
    close();
    return;
  }
  error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
  phase_ = Phase::lingering;
  worker_.deadlines().arm(read_deadline_, kLingerTime);
  stream_.socket().async_wait(tcp::socket::wait_read, [self = self()](const error_code& ec) {
    self->discard_until_eof(ec);
  });
}

void ClientSession::discard_until_eof(const error_code& ec) {
  if (phase_ == Phase::closed) return;
  if (ec) {
    close();
    return;
  }
  char sink[4096];
  error_code read_error;
  while (true) {
    stream_.socket().read_some(asio::buffer(sink), read_error);
    if (read_error == asio::error::would_block) {
      stream_.socket().async_wait(tcp::socket::wait_read, [self = self()](const error_code& e) {
        self->discard_until_eof(e);
      });
      return;
    }
    if (read_error) break;
  }
  close();
}

void ClientSession::close() {
  if (phase_ == Phase::closed) return;
  phase_ = Phase::closed;
  read_deadline_.disarm();
  write_deadline_.disarm();
  upstream_deadline_.disarm();
  park_deadline_.disarm();
  hold_timer_.cancel();  // a timer, not a socket operation: safe on io_uring too
  core::close_socket(stream_.socket());
  release_upstream(false);
  end_backend_use();
  release_route_slot();
  client_slot_.release();
  worker_.connection_closed(*this, true);
}

}  // namespace veer::proxy
