// ClientSession: one group of a JSON-RPC request (proxy/jsonrpc_exchange.hpp) with its
// backend, buffered: the calls go out as one POST with a Content-Length, the response
// is read whole (Content-Length or chunked, decoded; at most max_body_bytes), each
// reply is classified and fixed, and failed calls go to another backend as the method
// table allows. Connections come from and go back to the worker's pool as for any
// exchange; upstream_connect and upstream_response bound the try.
#include <string>

#include "core/log.hpp"
#include "http/http_parser.hpp"
#include "proxy/client_session.hpp"
#include "proxy/worker.hpp"

namespace veer::proxy {
namespace jr = http::jsonrpc;
namespace {

constexpr auto kRpcTrustRecentlyUsed = std::chrono::milliseconds(500);

bool rpc_connection_lost(const error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe;
}

bool is_framing_field(std::string_view line, std::string_view name) {
  if (line.size() <= name.size() || line[name.size()] != ':') return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    if ((line[i] | 0x20) != name[i]) return false;
  }
  return true;
}

}  // namespace

void ClientSession::send_jsonrpc_group() {
  RpcGroup& group = rpc_->groups[rpc_->current];
  exchange_->pick = group.pick;
  // The route's own calls (behind its split) answer for the target they went to last.
  if (exchange_->split_target != kNoSplitTarget && group.target == rpc_->route->target)
    exchange_->split_target = group.pick.target;
  use_backend();
  if (!rpc_->first_pick) rpc_->first_pick = group.pick;
  build_jsonrpc_request();
  exchange_->upstream_started = worker_.now();
  exchange_->connect_started = exchange_->connected = exchange_->request_sent_at =
      exchange_->response_head_at = Clock::time_point{};
  exchange_->upstream_status = 0;
  exchange_->upstream_timed_out = false;
  ++exchange_->attempts;
  exchange_->backend->stats->in_flight.fetch_add(1, std::memory_order_relaxed);
  exchange_->backend->stats->requests.fetch_add(1, std::memory_order_relaxed);
  exchange_->in_flight = true;
  bool replay_safe = true;
  for (RpcCallState& state : rpc_->calls) {
    if (state.end != RpcEnd::open || state.group != rpc_->current) continue;
    ++state.tries;
    replay_safe = replay_safe && state.plan.method->retry != jr::Retry::never;
  }
  rpc_->sent = false;
  rpc_->stale = false;
  const runtime::PoolRuntime& pool = exchange_->view->snapshot().pools[exchange_->pick.pool];
  up_ = worker_.upstreams().take(*exchange_->slot, pool.tls.get(),
                                 replay_safe ? Clock::duration::max() : kRpcTrustRecentlyUsed,
                                 exchange_->upstream_started);
  runtime::ExchangeSeries* counters = series(true);
  if (up_) {
    if (counters != nullptr) counters->upstream_reused.add();
    exchange_->backend->stats->active_connections.fetch_add(1, std::memory_order_relaxed);
    write_jsonrpc_request();
    return;
  }
  if (counters != nullptr) counters->upstream_opened.add();
  connect_jsonrpc();
}

// The group's body (the client's bytes when the whole request goes unchanged, else its
// calls: one as an object, several as a batch) and the rewritten head with its length.
void ClientSession::build_jsonrpc_request() {
  const std::uint32_t current = rpc_->current;
  std::size_t count = 0;
  bool unchanged = rpc_->groups.size() == 1;
  for (const RpcCallState& state : rpc_->calls) {
    const bool in_group = state.end == RpcEnd::open && state.group == current;
    count += in_group ? 1 : 0;
    unchanged = unchanged && in_group && state.plan.rewritten_length == 0 && state.tries == 0;
  }
  rpc_->whole_request = unchanged;
  if (unchanged) {
    rpc_->sent_body = in_.readable().substr(0, rpc_->body_length);
  } else {
    core::Buffer& body = rpc_->body;
    body.clear();
    if (count > 1) body.append('[');
    bool first = true;
    for (std::size_t i = 0; i < rpc_->calls.size(); ++i) {
      const RpcCallState& state = rpc_->calls[i];
      if (state.end != RpcEnd::open || state.group != current) continue;
      if (!first) body.append(',');
      first = false;
      const runtime::CallPlan& plan = state.plan;
      body.append(plan.rewritten_length == 0
                      ? rpc_->request.calls[i].text
                      : rpc_->text.readable().substr(plan.rewritten_offset, plan.rewritten_length));
    }
    if (count > 1) body.append(']');
    rpc_->sent_body = body.readable();
  }
  // The session's upstream head, less its framing fields, with this body's length.
  core::Buffer& head = rpc_->head;
  head.clear();
  std::string_view rest = out_.readable().substr(0, exchange_->request_head_length);
  while (!rest.empty()) {
    const std::size_t eol = rest.find("\r\n");
    const std::string_view line = rest.substr(0, eol == std::string_view::npos ? rest.size() : eol);
    rest.remove_prefix(std::min(rest.size(), line.size() + 2));
    if (line.empty()) break;
    // Expect too: veer has the whole body and answered the client's 100-continue.
    if (is_framing_field(line, "content-length") || is_framing_field(line, "transfer-encoding") ||
        is_framing_field(line, "expect"))
      continue;
    head.append(line);
    head.append("\r\n");
  }
  head.append("Content-Length: ");
  core::append_decimal(head, rpc_->sent_body.size());
  head.append("\r\n\r\n");
}

void ClientSession::connect_jsonrpc() {
  up_ = worker_.upstreams().create(*exchange_->slot);
  exchange_->backend->stats->active_connections.fetch_add(1, std::memory_order_relaxed);
  worker_.deadlines().arm(upstream_deadline_, timeouts().upstream_connect);
  exchange_->connect_started = worker_.now();
  UpstreamConnection* conn = up_.get();
  ++conn->pending_ops;
  conn->stream.socket().async_connect(
      core::to_endpoint(exchange_->slot->endpoint.data(), exchange_->slot->endpoint.length),
      [self = self(), conn](const error_code& ec) { self->on_jsonrpc_connected(conn, ec); });
}

void ClientSession::on_jsonrpc_connected(UpstreamConnection* conn, const error_code& ec) {
  if (upstream_op_done(conn)) return;
  if (ec) {
    const bool timed_out = exchange_->upstream_timed_out;
    jsonrpc_group_failed(
        timed_out ? RpcEnd::timed_out : RpcEnd::transport_error,
        timed_out ? std::string("connect timed out") : "connect failed: " + ec.message(), true,
        timed_out ? health::Outcome::timeout : health::Outcome::connect_failed);
    return;
  }
  error_code ignored;
  up_->stream.socket().set_option(tcp::no_delay(true), ignored);
  const runtime::PoolRuntime& pool = exchange_->view->snapshot().pools[exchange_->pick.pool];
  if (!pool.tls) {
    exchange_->connected = worker_.now();
    write_jsonrpc_request();
    return;
  }
  conn->stream.start_tls(
      pool.tls->new_session(pool.config->backends[*exchange_->pick.backend].host_port.host),
      worker_.tls_scratch());
  conn->tls = pool.tls.get();
  worker_.deadlines().arm(upstream_deadline_, timeouts().upstream_connect);
  ++conn->pending_ops;
  conn->stream.async_handshake(
      [self = self(), conn](const error_code& e) { self->on_jsonrpc_handshake(conn, e); });
}

void ClientSession::on_jsonrpc_handshake(UpstreamConnection* conn, const error_code& ec) {
  if (upstream_op_done(conn)) return;
  if (ec) {
    const bool timed_out = exchange_->upstream_timed_out;
    ++exchange_->upstream_tls_failures;
    exchange_->backend->stats->tls_failures.fetch_add(1, std::memory_order_relaxed);
    const std::string cause = timed_out                ? std::string("tls: handshake timed out")
                              : ec == tls::tls_error() ? "tls: " + conn->stream.tls()->error()
                                                       : "tls: " + ec.message();
    jsonrpc_group_failed(RpcEnd::transport_error, cause, true,
                         timed_out ? health::Outcome::timeout : health::Outcome::tls_failed);
    return;
  }
  exchange_->connected = worker_.now();
  write_jsonrpc_request();
}

void ClientSession::write_jsonrpc_request() {
  if (!up_->buffer.allocated()) up_->buffer = worker_.buffers().acquire();
  up_->buffer.clear();
  rpc_->response_scan = 0;
  rpc_->status = 0;
  rpc_->got_bytes = false;
  rpc_->reply_done = false;
  exchange_->request_sent_at = worker_.now();
  const std::array<asio::const_buffer, 2> pieces{
      asio::buffer(rpc_->head.read_ptr(), rpc_->head.size()),
      asio::buffer(rpc_->sent_body.data(), rpc_->sent_body.size())};
  // upstream_response is armed by read_jsonrpc_response, below (one clock read, not two).
  UpstreamConnection* conn = up_.get();
  ++conn->pending_ops;
  conn->stream.async_write(pieces, [self = self(), conn](const error_code& ec, std::size_t) {
    self->on_jsonrpc_sent(conn, ec);
  });
  read_jsonrpc_response();
}

void ClientSession::on_jsonrpc_sent(UpstreamConnection* conn, const error_code& ec) {
  if (upstream_op_done(conn)) return;
  if (ec) {
    // The backend closed before taking the request: nothing reached it.
    rpc_->stale = up_->reused && rpc_connection_lost(ec);
    if (rpc_->stale) worker_.upstreams().close_idle(*exchange_->slot);
    jsonrpc_group_failed(
        exchange_->upstream_timed_out ? RpcEnd::timed_out : RpcEnd::transport_error,
        "sending the request: " + ec.message(), !exchange_->upstream_timed_out,
        rpc_->stale                     ? std::nullopt
        : exchange_->upstream_timed_out ? std::optional(health::Outcome::timeout)
                                        : std::optional(health::Outcome::reset));
    return;
  }
  rpc_->sent = true;
  if (rpc_->reply_done) jsonrpc_group_replied();
}

void ClientSession::read_jsonrpc_response() {
  core::Buffer& buffer = up_->buffer;
  if (buffer.writable_size() == 0) buffer.reserve_writable(core::BufferPool::kBlockSize);
  worker_.deadlines().arm(upstream_deadline_, timeouts().upstream_response);
  UpstreamConnection* conn = up_.get();
  ++conn->pending_ops;
  conn->stream.async_read_some(asio::buffer(buffer.write_ptr(), buffer.writable_size()),
                               [self = self(), conn](const error_code& ec, std::size_t n) {
                                 self->on_jsonrpc_bytes(conn, ec, n);
                               });
}

void ClientSession::on_jsonrpc_bytes(UpstreamConnection* conn, const error_code& ec,
                                     std::size_t n) {
  if (upstream_op_done(conn)) return;
  if (ec == asio::error::eof && rpc_->status != 0 &&
      rpc_->framing == http::BodyFraming::until_close && !exchange_->upstream_timed_out) {
    rpc_->reply_reusable = false;
    rpc_->reply_done = true;
    if (rpc_->sent) jsonrpc_group_replied();
    return;
  }
  if (ec) {
    if (exchange_->upstream_timed_out) {
      jsonrpc_group_failed(RpcEnd::timed_out, "timed out", false, health::Outcome::timeout);
      return;
    }
    // A pooled connection the backend had closed while idle (keep-alive churn): no
    // failure of the backend's. But the request was written and may have been read
    // before the close, so it counts as sent: state-creating calls (Retry::never) are
    // not sent again; only a failed write proves that nothing reached the node.
    rpc_->stale = up_->reused && !rpc_->got_bytes && rpc_connection_lost(ec);
    if (rpc_->stale) worker_.upstreams().close_idle(*exchange_->slot);
    jsonrpc_group_failed(RpcEnd::transport_error, "waiting for the response: " + ec.message(),
                         false, rpc_->stale ? std::nullopt : std::optional(health::Outcome::reset));
    return;
  }
  conn->buffer.commit(n);
  rpc_->got_bytes = true;
  take_jsonrpc_response();
}

// Parses what arrived: the head (1xx skipped), then the body, bounded by
// max_body_bytes. Reads on until the response is whole.
void ClientSession::take_jsonrpc_response() {
  core::Buffer& buffer = up_->buffer;
  const conf::Limits& limits = exchange_->view->snapshot().config.limits;
  while (rpc_->status == 0) {
    const std::size_t end = http::find_head_end(buffer.readable(), rpc_->response_scan);
    if (end == 0) {
      if (buffer.size() >= limits.max_header_bytes) {
        jsonrpc_group_failed(RpcEnd::transport_error, "response head too large", false,
                             health::Outcome::bad_response);
        return;
      }
      read_jsonrpc_response();
      return;
    }
    rpc_->response_scan = 0;
    http::ResponseHead& head = worker_.response_scratch();
    const http::ParseError error =
        http::parse_response_head(buffer.readable().substr(0, end), false, head);
    if (error || head.status == 101) {
      jsonrpc_group_failed(RpcEnd::transport_error, error ? error.reason : "unexpected 101", false,
                           health::Outcome::bad_response);
      return;
    }
    if (head.status >= 200) {
      // Kept for the client's answer (respond_jsonrpc): the views die with the buffer.
      rpc_->reply_head.clear();
      rpc_->reply_head.append(buffer.readable().substr(0, end));
    }
    buffer.consume(end);
    if (head.status < 200) continue;
    note_response_head(head.status);
    exchange_->backend->stats->latency.record(
        exchange_->response_head_at - exchange_->upstream_started, exchange_->response_head_at,
        core::kLatencyDecayNs);
    rpc_->status = head.status;
    rpc_->framing = head.framing;
    rpc_->remaining = head.content_length;
    rpc_->decoded = 0;
    rpc_->reply_reusable = head.keep_alive() && head.framing != http::BodyFraming::until_close;
    rpc_->reply_chunks = http::ChunkedDecoder(limits.max_header_bytes);
    if (head.framing == http::BodyFraming::content_length &&
        head.content_length > limits.max_body_bytes) {
      rpc_->too_large = true;
      jsonrpc_group_failed(RpcEnd::transport_error, "response larger than max_body_bytes", false,
                           std::nullopt);
      return;
    }
    buffer.compact();
  }
  if (!frame_jsonrpc_reply()) return;
  rpc_->reply_done = true;
  if (rpc_->sent) jsonrpc_group_replied();
}

// True when the body is whole at the front of the buffer (rpc_->decoded bytes).
bool ClientSession::frame_jsonrpc_reply() {
  core::Buffer& buffer = up_->buffer;
  const std::uint64_t max_body = exchange_->view->snapshot().config.limits.max_body_bytes;
  switch (rpc_->framing) {
    case http::BodyFraming::none:
      rpc_->decoded = 0;
      if (!buffer.empty()) rpc_->reply_reusable = false;
      return true;
    case http::BodyFraming::content_length:
      if (buffer.size() >= rpc_->remaining) {
        if (buffer.size() > rpc_->remaining) rpc_->reply_reusable = false;
        rpc_->decoded = static_cast<std::size_t>(rpc_->remaining);
        return true;
      }
      buffer.reserve_writable(static_cast<std::size_t>(rpc_->remaining) - buffer.size());
      break;
    case http::BodyFraming::until_close:
      rpc_->decoded = buffer.size();
      if (buffer.size() > max_body) break;
      buffer.reserve_writable(core::BufferPool::kBlockSize);
      read_jsonrpc_response();
      return false;
    case http::BodyFraming::chunked: {
      http::ChunkedDecoder& chunks = rpc_->reply_chunks;
      char* base = buffer.mutable_read_ptr();
      const std::size_t end = buffer.size();
      std::size_t used = rpc_->decoded;
      std::size_t& kept = rpc_->decoded;
      while (used < end && !chunks.done()) {
        std::string_view data;
        const auto result = chunks.next(std::string_view(base + used, end - used), &data);
        if (result.status == http::ChunkedDecoder::Status::error) {
          jsonrpc_group_failed(RpcEnd::transport_error, "invalid chunked body", false,
                               health::Outcome::bad_response);
          return false;
        }
        used += result.consumed;
        if (data.empty()) continue;
        std::memmove(base + kept, data.data(), data.size());
        kept += data.size();
      }
      std::memmove(base + kept, base + used, end - used);
      buffer.truncate(kept + (end - used));
      if (chunks.done()) {
        if (buffer.size() > kept) rpc_->reply_reusable = false;
        return true;
      }
      if (chunks.data_bytes() > max_body) break;
      buffer.reserve_writable(core::BufferPool::kBlockSize);
      break;
    }
  }
  if (buffer.size() > max_body || rpc_->decoded > max_body) {
    rpc_->too_large = true;
    jsonrpc_group_failed(RpcEnd::transport_error, "response larger than max_body_bytes", false,
                         std::nullopt);
    return false;
  }
  read_jsonrpc_response();
  return false;
}

// The try is over: the connection goes back to the pool when the exchange was clean.
void ClientSession::end_jsonrpc_try(bool reusable) {
  upstream_deadline_.disarm();
  if (up_ && rpc_->reply_done && up_->pending_ops == 0) {
    // The reply stays with the session; the connection parks with an empty buffer.
    std::swap(rpc_->reply, up_->buffer);
    up_->buffer.clear();
    rpc_->reply.truncate(rpc_->decoded);
  }
  if (up_ && up_->pending_ops > 0 && !rpc_->sent) {
    // Retired below with the write perhaps still reading these: they go with it.
    rpc_->retired_writes.push_back(std::move(rpc_->head));
    if (!rpc_->whole_request) rpc_->retired_writes.push_back(std::move(rpc_->body));
    rpc_->sent_body = {};
  }
  release_upstream(reusable && rpc_->sent);
  end_backend_use();
  exchange_->upstream_timed_out = false;
}

// The group's calls could not get a usable reply. Those the method table lets go again
// go to another backend; the others are answered with the failure.
void ClientSession::jsonrpc_group_failed(RpcEnd end, std::string_view cause, bool nothing_sent,
                                         std::optional<health::Outcome> outcome) {
  if (outcome) record_outcome(*outcome);
  core::log::debug("rpc to ", exchange_->backend->address, " failed: ", cause);
  const std::string message = rpc_->too_large ? std::string("response larger than max_body_bytes")
                              : end == RpcEnd::timed_out ? std::string("upstream timed out")
                                                         : "upstream: " + std::string(cause);
  const int code = end == RpcEnd::timed_out ? jr::kServerError : jr::kInternalError;
  // A response too large here is as large on another node: not sent again.
  const bool may_retry = !rpc_->too_large;
  rpc_->too_large = false;
  rpc_->reply_done = false;
  end_jsonrpc_try(false);
  if (may_retry)
    retry_jsonrpc_calls(cause, nothing_sent,
                        nothing_sent               ? runtime::JsonRpcSeries::retry_connect_failed
                        : end == RpcEnd::timed_out ? runtime::JsonRpcSeries::retry_timeout
                                                   : runtime::JsonRpcSeries::retry_transport_error);
  for (std::size_t i = 0; i < rpc_->calls.size(); ++i) {
    if (rpc_->calls[i].end == RpcEnd::open && rpc_->calls[i].group == rpc_->current)
      answer_call(i, end, code, message);
  }
  rpc_->groups[rpc_->current].done = true;
  ++rpc_->current;
  next_jsonrpc_group();
}

// Whether a call whose try failed in transport may go to another backend: anything when
// nothing was sent; else what the method table allows, and filter calls (their filter
// lives on the node that failed: another node answers "filter not found", which tells
// the client to create it again, as after a node restart).
namespace {
bool may_send_again(const RpcCallState& state, bool nothing_sent) {
  return nothing_sent || state.plan.method->retry != jr::Retry::never ||
         state.plan.method->filter == jr::Filter::uses;
}
}  // namespace

// Moves the current group's calls marked for a retry (open, and allowed by the method
// table) to a new group on another backend, within retries.attempts and the pool's
// retry budget. Returns whether any call moved.
bool ClientSession::retry_jsonrpc_calls(std::string_view cause, bool nothing_sent,
                                        runtime::JsonRpcSeries::Retry reason) {
  const std::uint32_t current = rpc_->current;
  std::uint8_t tries = 0;
  bool wanted = false;
  for (RpcCallState& state : rpc_->calls) {
    if (state.end != RpcEnd::open || state.group != current) continue;
    if (!may_send_again(state, nothing_sent)) continue;
    wanted = true;
    tries = std::max(tries, state.tries);
  }
  if (!wanted) return false;
  const RpcGroup failed = rpc_->groups[current];
  runtime::PoolState& pool_state = exchange_->view->pool(failed.pick.pool);
  const conf::RetryConfig& config = pool_state.pool->config->retries;
  if (tries > config.attempts) return false;
  SplitFailoverLog failover_log(worker_, exchange_->view->snapshot());
  const auto next = runtime::reassign(*exchange_->view, failed.pick, rpc_->stale, &failover_log);
  if (!next) return false;
  if (next->pool == failed.pick.pool && !pool_state.retry_budget.try_spend(worker_.now()))
    return false;
  const runtime::BackendRuntime& from = pool_state.pool->backends[*failed.pick.backend];
  from.stats->retries.fetch_add(1, std::memory_order_relaxed);
  if (rpc_->series != nullptr) rpc_->series->retries[reason].add();
  if (worker_.may_log_now()) {
    core::log::warn("retrying rpc calls on ",
                    exchange_->view->snapshot().pools[next->pool].backends[*next->backend].address,
                    ": ", from.address, " ", cause);
  }
  if (failed.target == rpc_->route->target && !rpc_->stale) count_failed_try(failed.pick.target);
  RpcGroup retry;
  retry.target = failed.target;
  retry.pick = *next;
  rpc_->groups.push_back(retry);
  const auto index = static_cast<std::uint32_t>(rpc_->groups.size() - 1);
  for (RpcCallState& state : rpc_->calls) {
    if (state.end != RpcEnd::open || state.group != current) continue;
    if (!may_send_again(state, nothing_sent)) continue;
    state.group = index;
    state.may_have_landed = state.may_have_landed || !nothing_sent;
  }
  return true;
}

// Whether the body of a 4xx response is a JSON-RPC response (parsed into rpc_->response).
bool ClientSession::jsonrpc_reply_in_error_status() {
  jr::parse_response(rpc_->reply.readable(), rpc_->response);
  return rpc_->response.valid;
}

// A whole response: HTTP 5xx, a body that is no JSON-RPC response, or replies that do
// not match the calls fail the group; otherwise each call takes its reply (fixed by
// fix_reply), and server-class errors of retryable methods go again elsewhere.
void ClientSession::jsonrpc_group_replied() {
  const std::uint16_t status = rpc_->status;
  const bool reusable = rpc_->reply_reusable;
  end_jsonrpc_try(reusable);
  if (status >= 500) {
    jsonrpc_group_failed(RpcEnd::transport_error, "HTTP " + std::to_string(status), false,
                         health::Outcome::server_error);
    return;
  }
  // Some nodes (Besu) answer JSON-RPC errors with HTTP 400 and a valid error body:
  // a 4xx whose body is a JSON-RPC response is classified as any reply (below).
  if (status < 200 || (status >= 300 && status < 400) ||
      (status >= 400 && !jsonrpc_reply_in_error_status())) {
    jsonrpc_group_failed(RpcEnd::transport_error, "HTTP " + std::to_string(status), false,
                         health::Outcome::bad_response);
    return;
  }
  ++rpc_->replied_exchanges;
  const std::size_t expected = expected_jsonrpc_replies();
  jr::Response& response = rpc_->response;
  if (expected == 0) {
    record_outcome(health::Outcome::success);
  } else {
    jr::parse_response(rpc_->reply.readable(), response);
    if (!response.valid || response.replies.size() != expected) {
      jsonrpc_group_failed(
          RpcEnd::transport_error,
          response.valid ? "reply count does not match the request" : "malformed response body",
          false, health::Outcome::bad_response);
      return;
    }
  }
  if (!match_jsonrpc_replies(expected == 0 ? 0 : response.replies.size())) {
    jsonrpc_group_failed(RpcEnd::transport_error, "reply ids do not match the request", false,
                         health::Outcome::bad_response);
    return;
  }
  const RepliesTaken taken = take_jsonrpc_replies();
  // One outcome per exchange with a backend, however many calls it carried: a client's
  // batch weighs as one request in passive health, so it cannot eject a backend alone.
  if (expected != 0)
    record_outcome(taken.server_error ? health::Outcome::rpc_error : health::Outcome::success);
  const bool retried = taken.retry && retry_jsonrpc_calls("answered with a server error", false,
                                                          runtime::JsonRpcSeries::retry_rpc_error);
  rpc_->passthrough = rpc_->whole_request && !taken.changed && !retried && !taken.retry &&
                      (expected == 0 || response.batch == rpc_->request.batch);
  keep_jsonrpc_answers();
  rpc_->groups[rpc_->current].done = true;
  ++rpc_->current;
  next_jsonrpc_group();
}

// Open calls of the current group that expect a reply; notifications among them end here.
std::size_t ClientSession::expected_jsonrpc_replies() {
  std::size_t expected = 0;
  for (std::size_t i = 0; i < rpc_->calls.size(); ++i) {
    RpcCallState& state = rpc_->calls[i];
    if (state.end != RpcEnd::open || state.group != rpc_->current) continue;
    if (rpc_->request.calls[i].notification) {
      state.end = RpcEnd::silent;
    } else {
      ++expected;
    }
  }
  return expected;
}

// Matches the first `replies` replies to calls by id; every reply must name an open call
// of the current group. False when one does not.
bool ClientSession::match_jsonrpc_replies(std::size_t replies) {
  const std::uint32_t current = rpc_->current;
  const jr::Response& response = rpc_->response;
  rpc_->matched.assign(rpc_->calls.size(), UINT32_MAX);
  for (std::size_t r = 0; r < replies; ++r) {
    bool found = false;
    for (std::size_t i = 0; i < rpc_->calls.size() && !found; ++i) {
      const RpcCallState& state = rpc_->calls[i];
      if (state.end != RpcEnd::open || state.group != current || rpc_->matched[i] != UINT32_MAX)
        continue;
      if (!jr::same_id(rpc_->request.calls[i].id, response.replies[r].id)) continue;
      rpc_->matched[i] = static_cast<std::uint32_t>(r);
      found = true;
    }
    if (!found) return false;
  }
  return true;
}

// Classifies each matched reply: a server-class error of a call that may go again stays
// open for retry_jsonrpc_calls; every other reply ends its call, fixed by fix_reply.
ClientSession::RepliesTaken ClientSession::take_jsonrpc_replies() {
  RepliesTaken taken;
  const runtime::BackendRuntime& backend = *exchange_->backend;
  const std::uint64_t backend_head = backend.stats->head_block.load(std::memory_order_relaxed);
  for (std::size_t i = 0; i < rpc_->calls.size(); ++i) {
    RpcCallState& state = rpc_->calls[i];
    if (rpc_->matched[i] == UINT32_MAX) continue;
    const jr::Reply& reply = rpc_->response.replies[rpc_->matched[i]];
    const jr::ErrorClass error_class = jr::classify(reply, {state.plan.block, backend_head});
    taken.server_error = taken.server_error || error_class == jr::ErrorClass::server_error;
    if (error_class == jr::ErrorClass::server_error &&
        state.plan.method->retry != jr::Retry::never) {
      taken.retry = true;
      continue;
    }
    runtime::ReplyContext context;
    context.route = rpc_->route;
    context.call = &rpc_->request.calls[i];
    context.plan = &state.plan;
    context.backend_address = backend.address;
    context.retried = state.may_have_landed;
    context.known_head = runtime::known_head(exchange_->view->snapshot(), state.plan.target);
    state.answer_offset = rpc_->answers.size();
    if (runtime::fix_reply(context, reply, rpc_->answers)) {
      taken.changed = true;
      state.answer_length = rpc_->answers.size() - state.answer_offset;
    } else {
      state.answer_length = 0;  // copied by keep_jsonrpc_answers unless the body goes as it is
    }
    state.error_code = reply.has_error ? reply.error_code : 0;
    state.end = error_class == jr::ErrorClass::ok             ? RpcEnd::ok
                : error_class == jr::ErrorClass::client_error ? RpcEnd::client_error
                                                              : RpcEnd::server_error;
  }
  return taken;
}

// Copies the replies that end their calls as they came (unless the backend's body goes
// to the client as it is); a server-class error that could not go again is the
// backend's own answer.
void ClientSession::keep_jsonrpc_answers() {
  for (std::size_t i = 0; i < rpc_->calls.size(); ++i) {
    RpcCallState& state = rpc_->calls[i];
    if (rpc_->matched[i] == UINT32_MAX) continue;
    const jr::Reply& reply = rpc_->response.replies[rpc_->matched[i]];
    if (state.end == RpcEnd::open && state.group == rpc_->current) {
      state.end = RpcEnd::server_error;
      state.error_code = reply.error_code;
      state.answer_length = 0;
    }
    if (state.answer_length != 0 || state.end == RpcEnd::open || rpc_->passthrough) continue;
    state.answer_offset = rpc_->answers.size();
    rpc_->answers.append(reply.text);
    state.answer_length = reply.text.size();
  }
}

}  // namespace veer::proxy
