// ClientSession: the client connection, request heads, local responses, keep-alive.
#include "proxy/client_session.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>

#include <cstring>

#include "http/http_parser.hpp"
#include "core/log.hpp"
#include "runtime/request_key.hpp"
#include "runtime/split_route.hpp"
#include "proxy/worker.hpp"
#include "core/hash.hpp"

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

double millis_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

}  // namespace

ClientSession::ClientSession(Worker& worker, tcp::socket socket, const std::string& listener,
                             const sockaddr_storage& peer)
    : worker_(worker), socket_(std::move(socket)), listener_(listener) {
  if (peer.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&peer)->sin_addr, client_ip_,
              sizeof client_ip_);
  } else if (peer.ss_family == AF_INET6) {
    const in6_addr& address = reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&address)) {  // dual-stack listener: show the IPv4 address
      inet_ntop(AF_INET, &address.s6_addr[12], client_ip_, sizeof client_ip_);
    } else {
      inet_ntop(AF_INET6, &address, client_ip_, sizeof client_ip_);
    }
  }
  client_ip_length_ = static_cast<std::uint8_t>(std::strlen(client_ip_));
}

ClientSession::~ClientSession() {
  // Every handler has run (each held a Ref): no operation can still use the buffers.
  worker_.buffers().release(in_);
  worker_.buffers().release(out_);
}

void ClientSession::start() {
  worker_.connections().add(*this);
  error_code ignored;
  socket_.non_blocking(true, ignored);
  phase_ = Phase::head;
  // A new connection gets client_header from accept, so one that never sends a byte
  // cannot hold a slot for client_idle.
  worker_.deadlines().arm(read_deadline_, worker_.config().timeouts.client_header);
  // The request often arrives with the connection: read it now. A connection that
  // has sent nothing yet holds no buffer.
  parked_ = true;
  read_available();
}

void ClientSession::drain() {
  draining_ = true;
  if (phase_ == Phase::idle || (phase_ == Phase::head && in_.empty())) close();
}

void ClientSession::abort() {
  close();
}

void ClientSession::abort_if_using(const core::BackendStats& backend) {
  if (phase_ == Phase::exchange && backend_ != nullptr && backend_->stats.get() == &backend) {
    core::log::debug("closing ", client_ip(), ": its backend ", backend_->address,
               " was removed and its drain deadline passed");
    close();
  }
}

void ClientSession::on_timeout(Deadline& deadline) {
  switch (deadline.tag()) {
    case kClientRead:
      if (phase_ == Phase::head && !in_.empty()) {
        core::log::debug("closing ", client_ip(), ": request head not complete within client_header");
      }
      close();
      break;
    case kClientWrite:
      close();
      break;
    case kUpstream:
      upstream_timed_out_ = true;
      if (up_) core::interrupt_socket(up_->socket);  // pending operations complete, then 504
      break;
    case kPark:
      if (phase_ == Phase::idle && !parked_) {
        parked_ = true;
        error_code ignored;
        socket_.cancel(ignored);  // epoll only: the read completes aborted, see on_head_bytes
      }
      break;
  }
}

// Waiting for (more of) a request head. A hot connection reads straight into its
// buffer: once a read has drained the socket, Asio's edge-triggered epoll reactor
// arms the next read without a syscall, the pattern nginx uses. A parked one waits
// for readability without a buffer, which costs an epoll_ctl per wait but no memory.
// On io_uring a wait costs no syscall (it is batched into the next submission) and
// cancelling a read in flight is unsafe with Asio 1.81 (asio.hpp), so it always waits.
void ClientSession::await_head() {
  if (core::kIoUring || parked_) {
    wait_for_head();
    return;
  }
  if (!in_.allocated()) in_ = worker_.buffers().acquire();
  if (in_.writable_size() == 0) in_.compact();
  socket_.async_read_some(
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
  if (phase_ == Phase::idle) {
    phase_ = Phase::head;
    worker_.deadlines().arm(read_deadline_, worker_.config().timeouts.client_header);
  }
}

void ClientSession::wait_for_head() {
  socket_.async_wait(tcp::socket::wait_read,
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
      socket_.read_some(asio::buffer(in_.write_ptr(), in_.writable_size()), read_error);
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
  switch (request_framing_) {
    case http::BodyFraming::content_length:
      return request_remaining_ == 0;
    case http::BodyFraming::chunked:
      return request_chunks_.done();
    default:
      return true;
  }
}

void ClientSession::on_request_head(std::size_t head_length) {
  read_deadline_.disarm();
  scan_from_ = 0;
  started_ = Clock::now();
  phase_ = Phase::exchange;
  bytes_in_ = head_length;
  http::RequestHead& head = worker_.request_scratch();
  const http::ParseError error = http::parse_request_head(in_.readable().substr(0, head_length), head);
  if (error) {
    core::log::debug("refusing a request from ", client_ip(), ": ", error.reason);
    respond_locally(error.status, error.reason, true);
    return;
  }
  http10_ = head.version_minor == 0;
  method_is_head_ = head.method_is_head;
  websocket_ = head.websocket_upgrade;
  if (!head.keep_alive() || draining_) close_after_ = true;

  // The upstream head is built first: it is what the access log and every local
  // response of this request read the method, path and request id from.
  view_ = worker_.view();
  const runtime::Snapshot& snapshot = view_->snapshot();
  if (!out_.allocated()) out_ = worker_.buffers().acquire();
  char generated_id[32];
  set_request_id(head.request_id.empty() ? worker_.request_ids().next(generated_id)
                                         : head.request_id);
  written_ = http::write_upstream_request(head, http::ForwardContext{client_ip(), "http", request_id()}, out_);
  request_head_length_ = out_.size();
  request_framing_ = head.framing;
  request_remaining_ = head.content_length;
  in_.consume(head_length);

  if (request_framing_ == http::BodyFraming::content_length &&
      request_remaining_ > snapshot.config.limits.max_body_bytes) {
    respond_locally(413, "request body larger than limits.max_body_bytes", true);
    return;
  }
  const runtime::ListenerRuntime* listener = snapshot.find_listener(listener_);
  const runtime::RouteRuntime* route =
      listener != nullptr ? runtime::WorkerView::route(*listener, head.authority, head.path) : nullptr;
  if (route == nullptr) {
    respond_locally(404, "no route for this host and path", request_framing_ != http::BodyFraming::none);
    return;
  }
  route_ = route;
  if (const runtime::MetricsView* metrics = view_->metrics()) {
    route_series_ = &metrics->route(static_cast<std::size_t>(listener - snapshot.listeners.data()),
                                    static_cast<std::size_t>(route - listener->routes.data()));
  }
  std::optional<std::uint32_t> pick;
  if (route->split == runtime::kNoSplit) {
    pool_index_ = route->pool;
    hash_request_key(pool_index_, head);
    pick = view_->pick(pool_index_, strategies::PickContext{key_hash_});
  } else {
    split_ = &snapshot.splits[route->split];
    const runtime::SplitChoice choice =
        runtime::choose_split_target(*split_, head, client_ip(), view_->split_random());
    split_bucket_ = choice.bucket;
    const std::optional<SplitPick> in_split = pick_in_split(choice.target, &head);
    split_target_ = in_split ? in_split->target : choice.target;
    pool_index_ = split_->pools[split_target_];
    if (in_split) pick = in_split->backend;
    if (const runtime::MetricsView* metrics = view_->metrics()) {
      metrics->split_assignments(route->split, split_target_).add();
    }
  }
  if (!pick) {
    respond_locally(503, no_backend_detail(), request_framing_ != http::BodyFraming::none);
    return;
  }
  use_backend(*pick);
  idempotent_ = http::is_idempotent_method(head.method);
  if (!frame_request_body()) return;
  view_->pool(pool_index_).retry_budget.record_request(started_);
  dispatch();
}

bool ClientSession::frame_request_body() {
  const conf::Limits& limits = view_->snapshot().config.limits;
  switch (request_framing_) {
    case http::BodyFraming::content_length:
      request_piece_ =
          static_cast<std::size_t>(std::min<std::uint64_t>(in_.size(), request_remaining_));
      request_remaining_ -= request_piece_;
      break;
    case http::BodyFraming::chunked: {
      request_chunks_ = http::ChunkedDecoder(limits.max_header_bytes);
      std::size_t used = 0;
      while (used < in_.size() && !request_chunks_.done()) {
        std::string_view data;
        const auto result = request_chunks_.next(in_.readable().substr(used), &data);
        used += result.consumed;
        if (result.status == http::ChunkedDecoder::Status::error) {
          respond_locally(400, request_chunks_.error(), true);
          return false;
        }
      }
      if (request_chunks_.data_bytes() > limits.max_body_bytes) {
        respond_locally(413, "request body larger than limits.max_body_bytes", true);
        return false;
      }
      request_piece_ = used;
      break;
    }
    default:
      request_piece_ = 0;
      break;
  }
  bytes_in_ += request_piece_;
  // A request that is whole in memory can be sent again if a pooled connection turns
  // out to be closed; one still streaming from the client cannot.
  replayable_ = request_fully_read();
  return true;
}

runtime::ExchangeSeries* ClientSession::series(bool with_backend) {
  if (route_series_ == nullptr) {
    // Refused before routing: the request may not even have a view yet.
    const core::Ref<runtime::WorkerView>& view = view_ ? view_ : worker_.view();
    const runtime::MetricsView* metrics = view->metrics();
    if (metrics == nullptr) return nullptr;
    const runtime::Snapshot& snapshot = view->snapshot();
    const runtime::ListenerRuntime* listener = snapshot.find_listener(listener_);
    if (listener == nullptr) return nullptr;  // removed by a reload meanwhile
    return &metrics->unrouted(static_cast<std::size_t>(listener - snapshot.listeners.data()));
  }
  if (!with_backend || backend_ == nullptr) return &route_series_->no_backend(pool_index_);
  const runtime::PoolRuntime& pool = *view_->pool(pool_index_).pool;
  return &route_series_->backend(pool_index_,
                                 static_cast<std::size_t>(backend_ - pool.backends.data()));
}

void ClientSession::record_exchange(std::uint16_t status, bool with_backend) {
  AccessLog& log = worker_.access_log();
  runtime::ExchangeSeries* counters = series(with_backend);
  if (counters == nullptr && !log.enabled()) return;
  const Clock::time_point now = Clock::now();
  if (counters != nullptr) {
    counters->count_response(status);
    if (with_backend && backend_ != nullptr) counters->time_response(now - upstream_started_);
  }
  if (!log.enabled()) return;
  AccessEntry entry;
  entry.client = client_ip();
  entry.listener = listener_;
  entry.request_id = request_id();
  const std::string_view head = out_.readable();
  if (request_head_length_ > 0) {
    entry.method = head.substr(written_.method_offset, written_.method_length);
    entry.path = head.substr(written_.path_offset, written_.path_length);
    entry.host = head.substr(written_.host_offset, written_.host_length);
    entry.user_agent = head.substr(written_.user_agent_offset, written_.user_agent_length);
  }
  if (route_ != nullptr) {
    entry.routed = true;
    entry.route_host = route_->host;
    entry.route_path_prefix = route_->path_prefix;
  }
  entry.status = status;
  entry.bytes = response_body_bytes_;
  entry.bytes_in = bytes_in_;
  if (with_backend && backend_ != nullptr) {
    entry.pool = view_->snapshot().pools[pool_index_].name;
    entry.backend = backend_->address;
    entry.upstream_ms = millis_between(upstream_started_, now);
  }
  entry.upstream_status = upstream_status_;
  if (connected_ != Clock::time_point{}) {
    entry.upstream_connect_ms = millis_between(connect_started_, connected_);
  }
  if (response_head_at_ != Clock::time_point{}) {
    entry.upstream_header_ms = millis_between(request_sent_at_, response_head_at_);
  }
  entry.attempts = attempts_;
  entry.total_ms = millis_between(started_, now);
  log.record(entry);
}

void ClientSession::set_request_id(std::string_view id) {
  request_id_length_ = static_cast<std::uint8_t>(std::min(id.size(), sizeof request_id_));
  std::memcpy(request_id_, id.data(), request_id_length_);
}

void ClientSession::respond_locally(std::uint16_t status, std::string_view detail, bool close) {
  if (close || !request_fully_read()) close_after_ = true;
  phase_ = Phase::responding_locally;
  status_ = status;
  if (!out_.allocated()) out_ = worker_.buffers().acquire();
  if (request_id_length_ == 0) {  // refused before the head was parsed: a new id
    char generated_id[32];
    set_request_id(worker_.request_ids().next(generated_id));
  }
  const std::size_t offset = out_.size();
  http::write_local_response(status, detail, request_id(), close_after_, method_is_head_, out_);
  response_body_bytes_ = method_is_head_ ? 0 : detail.size() + request_id_length_ + 15;
  const bool with_backend = in_flight_;
  end_backend_use();
  record_exchange(status, with_backend);
  worker_.deadlines().arm(write_deadline_, worker_.config().timeouts.client_send);
  asio::async_write(socket_, asio::buffer(out_.read_ptr() + offset, out_.size() - offset),
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
  if (!in_flight_) return;
  in_flight_ = false;
  backend_->stats->in_flight.fetch_sub(1, std::memory_order_relaxed);
}

void ClientSession::finish_exchange() {
  if (phase_ != Phase::exchange) return;
  upstream_deadline_.disarm();
  end_backend_use();
  record_exchange(status_, true);
  release_upstream(upstream_reusable_ && request_sent_ && !request_abandoned_);
  if (replayable_) in_.consume(request_piece_);
  next_request();
}

void ClientSession::next_request() {
  if (phase_ == Phase::closed) return;
  // Reset the exchange. Nothing is pending on the client socket here: a request body
  // still arriving always sets close_after_.
  view_ = core::Ref<runtime::WorkerView>();
  backend_ = nullptr;
  slot_ = nullptr;
  written_ = http::WrittenRequest{};
  request_head_length_ = response_head_offset_ = 0;
  request_id_length_ = 0;
  route_ = nullptr;
  connect_started_ = connected_ = request_sent_at_ = response_head_at_ = Clock::time_point{};
  upstream_status_ = 0;
  bytes_in_ = 0;
  request_framing_ = response_framing_ = http::BodyFraming::none;
  request_remaining_ = response_remaining_ = 0;
  request_piece_ = response_piece_ = response_consumed_ = 0;
  response_body_bytes_ = 0;
  response_scan_ = 0;
  status_ = 0;
  attempts_ = 0;
  pool_index_ = 0;
  key_hash_ = tried_ = 0;
  route_series_ = nullptr;
  split_ = nullptr;
  split_target_ = split_bucket_ = 0;
  split_tried_ = 0;
  http10_ = method_is_head_ = websocket_ = replayable_ = idempotent_ = false;
  request_sent_ = request_abandoned_ = response_started_ = false;
  response_complete_ = response_done_ = got_response_bytes_ = false;
  upstream_reusable_ = strip_chunked_ = upstream_timed_out_ = false;
  out_.clear();
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
  worker_.deadlines().arm(read_deadline_, worker_.config().timeouts.client_idle);
  if (!core::kIoUring && !parked_) worker_.deadlines().arm(park_deadline_, kParkAfter);
  // Idle connections end up holding no buffer (the 4 KiB-per-idle-client budget).
  if (core::kIoUring || parked_) worker_.buffers().release(in_);
  await_head();
}

void ClientSession::close_gracefully() {
  error_code ignored;
  int unread = 0;
  ::ioctl(socket_.native_handle(), FIONREAD, &unread);
  socket_.shutdown(tcp::socket::shutdown_send, ignored);
  if (unread == 0 && request_fully_read() && in_.empty()) {
    close();
    return;
  }
  phase_ = Phase::lingering;
  worker_.deadlines().arm(read_deadline_, kLingerTime);
  socket_.async_wait(tcp::socket::wait_read,
                     [self = self()](const error_code& ec) { self->discard_until_eof(ec); });
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
    socket_.read_some(asio::buffer(sink), read_error);
    if (read_error == asio::error::would_block) {
      socket_.async_wait(tcp::socket::wait_read,
                         [self = self()](const error_code& e) { self->discard_until_eof(e); });
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
  core::close_socket(socket_);
  release_upstream(false);
  end_backend_use();
  worker_.connection_closed(*this, true);
}

}  // namespace veer::proxy
