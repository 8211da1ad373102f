// ClientSession: limits on the request path. A routed request passes its route's
// rate-limit policies (runtime::PolicyRuntime: a process-wide Limiter each), then its
// route's max_in_flight; a connection past its listener's max_connections_per_client
// has its first request refused. A refused request's body is read (bounded by
// max_body_bytes, the first JsonRpcIds::kScanLimit bytes kept in in_) before the answer,
// so that a JSON-RPC call gets its ids back and a keep-alive connection stays usable.
#include <algorithm>
#include <cstring>

#include "core/hash.hpp"
#include "core/log.hpp"
#include "proxy/client_session.hpp"
#include "proxy/rate_check.hpp"
#include "proxy/worker.hpp"

namespace veer::proxy {
namespace {

std::string_view content_type(const http::RequestHead& head) {
  constexpr std::string_view kName = "content-type";
  for (const http::HeaderField& field : head.headers()) {
    if (field.name.size() == kName.size() &&
        std::equal(kName.begin(), kName.end(), field.name.begin(),
                   [](char a, char b) { return a == (b | 0x20); }))
      return field.value;
  }
  return {};
}

std::int64_t steady_ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string_view ClientSession::rate_limit_name(RateLimit outcome) {
  switch (outcome) {
    case RateLimit::allowed:
      return "allowed";
    case RateLimit::delayed:
      return "delayed";
    case RateLimit::refused:
      return "refused";
    case RateLimit::dry_run:
      return "dry_run";
    case RateLimit::none:
      break;
  }
  return {};
}

// The route's policies (proxy/rate_check.hpp), on the clock read when the head was
// complete.
bool ClientSession::apply_rate_limits(const http::RequestHead& head) {
  const RateCheck check = check_rate_limits(exchange_->view->snapshot(), *exchange_->pick.route,
                                            exchange_->view->metrics(), head, client_address(),
                                            steady_ns(exchange_->started));
  exchange_->rate_limit = check.dry_run ? RateLimit::dry_run : RateLimit::allowed;
  if (check.by != nullptr) exchange_->limited_by = check.by->name;
  if (check.verdict == limits::Verdict::refuse) {
    exchange_->rate_limit = RateLimit::refused;
    http::LimitRefusal response;
    response.detail = "rate limit exceeded";
    response.limited_by = check.by->name;
    response.retry_after_seconds = http::retry_after_seconds(check.refusal.wait);
    response.policy_field = check.by->policy_field;
    response.remaining = check.refusal.remaining;
    refuse(&head, response);
    return false;
  }
  if (check.verdict == limits::Verdict::allow) return true;
  hold_request(check.hold);
  return false;
}

// A policy's `delay`: the request waits until it conforms, then goes on. Nothing is
// read from the client meanwhile; a client that closes is noticed when its answer is
// written. A drain lets the held request go on (its response then closes the
// connection); the drain deadline closes it like any other.
void ClientSession::hold_request(std::int64_t wait_ns) {
  exchange_->rate_limit = RateLimit::delayed;
  exchange_->held_ns = wait_ns;
  hold_timer_.expires_after(std::chrono::nanoseconds(wait_ns));
  hold_timer_.async_wait([self = self()](const error_code&) { self->hold_over(); });
}

void ClientSession::hold_over() {
  if (phase_ != Phase::exchange) return;  // closed meanwhile
  send_routed(nullptr);
}

// The route's max_in_flight, process-wide: counted from the first try until the
// response is complete (or the exchange fails). Routes without a cap count nothing, so
// they never touch the shared counter.
bool ClientSession::take_route_slot(const http::RequestHead* head) {
  const runtime::RouteRuntime& route = *exchange_->pick.route;
  if (route.max_in_flight == 0 || exchange_->route_in_flight != nullptr) return true;
  runtime::RouteInFlight& in_flight = *route.in_flight;
  if (in_flight.count.fetch_add(1, std::memory_order_relaxed) >= route.max_in_flight) {
    in_flight.count.fetch_sub(1, std::memory_order_relaxed);
    worker_.metrics().refusals.max_in_flight.add();
    exchange_->limited_by = "max_in_flight";
    http::LimitRefusal response;
    response.status = 503;
    response.detail = "route max_in_flight reached";
    response.limited_by = "max_in_flight";
    refuse(head, response);
    return false;
  }
  exchange_->route_in_flight = &in_flight;
  return true;
}

void ClientSession::release_route_slot() {
  if (!exchange_ || exchange_->route_in_flight == nullptr) return;  // none: parked
  exchange_->route_in_flight->count.fetch_sub(1, std::memory_order_relaxed);
  exchange_->route_in_flight = nullptr;
}

void ClientSession::count_client_connection() {
  limits::ClientCounts* counts = worker_.client_counts();
  if (counts == nullptr) return;
  const runtime::ListenerRuntime* listener = worker_.view()->snapshot().find_listener(listener_);
  if (listener == nullptr || listener->config == nullptr) return;
  const std::uint32_t cap = listener->config->max_connections_per_client;
  if (cap == 0) return;
  const std::uint64_t key = core::hash_bytes(
      std::string_view(reinterpret_cast<const char*>(origin_.bytes.data()), origin_.bytes.size()));
  if (counts->try_acquire(key, cap)) {
    client_slot_ = ClientSlot(*counts, key);
  } else {
    over_client_cap_ = true;
  }
}

void ClientSession::refuse_over_client_cap(const http::RequestHead& head) {
  worker_.metrics().refusals.max_connections_per_client.add();
  exchange_->limited_by = "max_connections_per_client";
  http::LimitRefusal response;
  response.detail = "too many connections from this client";
  response.limited_by = "max_connections_per_client";
  close_after_ = true;
  refuse(&head, response);
}

// Refuses the request with `response` once its body is read. `head` is the request's
// parsed head, or null after a delay (the worker's scratch head then belongs to another
// request): only the body then tells a JSON-RPC call, and only for a POST.
void ClientSession::refuse(const http::RequestHead* head, const http::LimitRefusal& response) {
  Refusal& refusal = exchange_->refusal;
  refusal.response = response;
  if (head != nullptr) {
    refusal.post = head->method == "POST";
    refusal.json_content_type = http::looks_like_jsonrpc(head->method, content_type(*head), {});
  } else {
    const std::string_view written = out_.readable();
    refusal.post = written.substr(exchange_->written.method_offset,
                                  exchange_->written.method_length) == "POST";
  }
  if (exchange_->request_framing == http::BodyFraming::content_length &&
      exchange_->request_remaining > http::JsonRpcIds::kScanLimit) {
    refusal.body_dropped = true;
  }
  if (exchange_->request_framing == http::BodyFraming::chunked)
    exchange_->request_chunks =
        http::ChunkedDecoder(exchange_->view->snapshot().config.limits.max_header_bytes);
  if (!absorb_refused_body()) return;
  if (request_fully_read()) {
    answer_refusal();
    return;
  }
  if (!refusal.body_dropped && exchange_->request_framing == http::BodyFraming::content_length)
    in_.reserve_writable(static_cast<std::size_t>(exchange_->request_remaining));
  read_refused_body();
}

void ClientSession::read_refused_body() {
  if (in_.writable_size() == 0) in_.compact();
  if (in_.writable_size() == 0) in_.reserve_writable(core::BufferPool::kBlockSize);
  worker_.deadlines().arm(read_deadline_, timeouts().client_body);
  stream_.async_read_some(
      asio::buffer(in_.write_ptr(), in_.writable_size()),
      [self = self()](const error_code& ec, std::size_t n) { self->on_refused_body_read(ec, n); });
}

void ClientSession::on_refused_body_read(const error_code& ec, std::size_t n) {
  read_deadline_.disarm();
  if (phase_ != Phase::exchange) return;
  if (ec) {
    close();  // the client left in the middle of its body: nothing to answer
    return;
  }
  in_.commit(n);
  if (!absorb_refused_body()) return;
  if (request_fully_read()) {
    answer_refusal();
  } else {
    read_refused_body();
  }
}

// in_ holds [kept body][bytes not yet looked at]. The body's bytes among the latter are
// kept (up to kScanLimit) or dropped; what follows the body (a pipelined request) stays.
bool ClientSession::absorb_refused_body() {
  Refusal& refusal = exchange_->refusal;
  if (exchange_->request_framing == http::BodyFraming::chunked) return absorb_refused_chunks();
  if (exchange_->request_framing != http::BodyFraming::content_length) return true;
  const std::size_t fresh = in_.size() - refusal.body_kept;
  const auto body =
      static_cast<std::size_t>(std::min<std::uint64_t>(fresh, exchange_->request_remaining));
  exchange_->request_remaining -= body;
  exchange_->bytes_in += body;
  if (refusal.body_dropped) {
    in_.consume(body);  // nothing is kept, so the body is at the front
  } else {
    refusal.body_kept += body;
  }
  return true;
}

// Chunked: the data is decoded in place to the front, after what is kept; the framing
// bytes are removed. Decoded bytes never outrun the encoded ones they come from.
bool ClientSession::absorb_refused_chunks() {
  Refusal& refusal = exchange_->refusal;
  http::ChunkedDecoder& chunks = exchange_->request_chunks;
  char* base = in_.mutable_read_ptr();
  const std::size_t end = in_.size();
  std::size_t used = refusal.body_kept;
  while (used < end && !chunks.done()) {
    std::string_view data;
    const auto result = chunks.next(std::string_view(base + used, end - used), &data);
    if (result.status == http::ChunkedDecoder::Status::error) {
      refusal.body_kept = 0;
      respond_locally(400, chunks.error(), true);
      return false;
    }
    used += result.consumed;
    exchange_->bytes_in += result.consumed;
    if (data.empty() || refusal.body_dropped) continue;
    if (refusal.body_kept + data.size() > http::JsonRpcIds::kScanLimit) {
      refusal.body_dropped = true;
      refusal.body_kept = 0;
      continue;
    }
    std::memmove(base + refusal.body_kept, data.data(), data.size());
    refusal.body_kept += data.size();
  }
  std::memmove(base + refusal.body_kept, base + used, end - used);
  in_.truncate(refusal.body_kept + (end - used));
  if (chunks.data_bytes() > exchange_->view->snapshot().config.limits.max_body_bytes) {
    respond_locally(413, "request body larger than limits.max_body_bytes", true);
    return false;
  }
  return true;
}

void ClientSession::answer_refusal() {
  Refusal& refusal = exchange_->refusal;
  const std::string_view body = in_.readable().substr(0, refusal.body_kept);
  const bool jsonrpc =
      refusal.json_content_type || (refusal.post && http::looks_like_jsonrpc("POST", {}, body));
  // A dropped body (over kScanLimit) is scanned as nothing: its ids are null.
  const http::JsonRpcIds ids(refusal.body_dropped ? std::string_view() : body);
  prepare_local_response(refusal.response.status, close_after_);
  http::LimitRefusal& response = refusal.response;
  response.jsonrpc = jsonrpc ? &ids : nullptr;
  response.request_id = request_id();
  response.close = close_after_;
  response.head_only = exchange_->method_is_head;
  const std::size_t offset = out_.size();
  const std::size_t body_length = http::write_limit_response(response, out_);
  response.jsonrpc = nullptr;  // `ids` ends here
  exchange_->response_body_bytes = exchange_->method_is_head ? 0 : body_length;
  in_.consume(refusal.body_kept);
  refusal.body_kept = 0;
  send_local_response(offset);
}

}  // namespace veer::proxy
