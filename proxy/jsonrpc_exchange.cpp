// ClientSession: a POST on a JSON-RPC route (docs/JSONRPC.md). The body is read whole
// (bounded by max_body_bytes), parsed into calls, each call charged to the route's
// rate-limit policies and planned by runtime::plan_call; local answers are written in
// place, forwarded calls go in groups (one upstream POST per target and backend, see
// jsonrpc_upstream.cpp), and the client gets one answer with every call's reply.
#include <algorithm>
#include <charconv>
#include <cstring>

#include "core/log.hpp"
#include "http/header_rewrite.hpp"
#include "http/http_parser.hpp"
#include "http/limit_response.hpp"
#include "proxy/client_session.hpp"
#include "proxy/worker.hpp"
#include "runtime/jsonrpc_route.hpp"

namespace veer::proxy {
namespace jr = http::jsonrpc;
namespace {

std::int64_t rpc_steady_ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Leaves the fields of a backend's response head that describe the response rather
// than the body veer sends: framing and the body's type and coding are veer's (written
// after), and two places are kept for them.
void keep_end_to_end_fields(http::ResponseHead& head) {
  std::uint16_t kept = 0;
  for (std::uint16_t i = 0; i < head.field_count && std::size_t{kept} + 2 < http::kMaxHeaderFields;
       ++i) {
    const http::HeaderField& field = head.fields[i];
    if (field.id == http::HeaderId::content_length ||
        field.id == http::HeaderId::transfer_encoding ||
        http::iequals(field.name, "content-type") || http::iequals(field.name, "content-encoding"))
      continue;
    head.fields[kept++] = field;
  }
  head.field_count = kept;
  head.framing = http::BodyFraming::content_length;
  head.upgrade_websocket = false;
}

bool expects_continue(const http::RequestHead& head) {
  for (const http::HeaderField& field : head.headers()) {
    if (field.id == http::HeaderId::expect && http::iequals(field.value, "100-continue"))
      return true;
  }
  return false;
}

}  // namespace

const runtime::JsonRpcRouteRuntime* ClientSession::jsonrpc_route(
    const http::RequestHead& head) const {
  if (head.method != "POST" || head.websocket_upgrade || !exchange_->view) return nullptr;
  const runtime::Snapshot& snapshot = exchange_->view->snapshot();
  const runtime::ListenerRuntime* listener = snapshot.find_listener(listener_);
  if (listener == nullptr) return nullptr;
  const runtime::RouteRuntime* route =
      runtime::WorkerView::route(*listener, head.authority, head.path);
  return route != nullptr ? route->jsonrpc.get() : nullptr;
}

bool ClientSession::refuse_jsonrpc_body_size(const http::RequestHead& head) {
  if (jsonrpc_route(head) == nullptr) return false;
  if (!rpc_) rpc_ = std::make_unique<JsonRpcExchange>();
  rpc_->reset();
  jr::append_error(rpc_->answers, "null", jr::kLimitExceeded,
                   "request body larger than limits.max_body_bytes");
  respond_jsonrpc(413, rpc_->answers.readable(), true);
  return true;
}

// Routed: the head's facts the calls need later (the limit keys) are taken now, since
// the worker's scratch head belongs to another request once the body is awaited.
void ClientSession::start_jsonrpc(const http::RequestHead& head) {
  if (!rpc_) rpc_ = std::make_unique<JsonRpcExchange>();
  rpc_->reset();
  if (retired_.empty()) rpc_->retired_writes.clear();
  const runtime::RouteRuntime& route = *exchange_->pick.route;
  rpc_->route = route.jsonrpc.get();
  const runtime::Snapshot& snapshot = exchange_->view->snapshot();
  if (const runtime::MetricsView* metrics = exchange_->view->metrics()) {
    const runtime::ListenerRuntime* listener = snapshot.find_listener(listener_);
    rpc_->series = metrics->jsonrpc(static_cast<std::size_t>(listener - snapshot.listeners.data()),
                                    static_cast<std::size_t>(&route - listener->routes.data()));
  }
  for (const std::uint32_t index : route.policies)
    rpc_->limit_keys.push_back(
        runtime::limit_key(snapshot.policies[index], head, client_address(), route.id));
  if (!route.policies.empty()) exchange_->rate_limit = RateLimit::allowed;
  // Retries of its calls are budgeted against the pool's requests, as for any request.
  exchange_->view->pool(exchange_->pick.pool).retry_budget.record_request(exchange_->started);
  if (exchange_->request_framing == http::BodyFraming::chunked)
    exchange_->request_chunks = http::ChunkedDecoder(snapshot.config.limits.max_header_bytes);
  // veer reads the body itself, so veer answers the client's Expect (RFC 9110 section
  // 10.1.1; an HTTP/1.0 client gets none); the node never sees the field.
  rpc_->continue_pending = head.version_minor >= 1 && expects_continue(head);
  if (!absorb_jsonrpc_body()) return;
  if (request_fully_read()) {
    on_jsonrpc_body();
  } else {
    read_jsonrpc_body();
  }
}

void ClientSession::read_jsonrpc_body() {
  if (rpc_->continue_pending) {
    // The body has not (all) arrived: the client waits for this before sending it.
    rpc_->continue_pending = false;
    static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
    worker_.deadlines().arm(write_deadline_, worker_.config().timeouts.client_send);
    stream_.async_write(asio::buffer(kContinue.data(), kContinue.size()),
                        [self = self()](const error_code& ec, std::size_t) {
                          self->write_deadline_.disarm();
                          if (self->phase_ != Phase::exchange) return;
                          if (ec) {
                            self->close();
                            return;
                          }
                          self->read_jsonrpc_body();
                        });
    return;
  }
  std::size_t want = core::BufferPool::kBlockSize;
  if (exchange_->request_framing == http::BodyFraming::content_length)
    want = static_cast<std::size_t>(exchange_->request_remaining);
  in_.reserve_writable(std::max<std::size_t>(want, 1));
  worker_.deadlines().arm(read_deadline_, timeouts().client_body);
  stream_.async_read_some(
      asio::buffer(in_.write_ptr(), in_.writable_size()),
      [self = self()](const error_code& ec, std::size_t n) { self->on_jsonrpc_body_read(ec, n); });
}

void ClientSession::on_jsonrpc_body_read(const error_code& ec, std::size_t n) {
  read_deadline_.disarm();
  if (phase_ != Phase::exchange) return;
  if (ec) {
    close();  // the client left in the middle of its body: nothing to answer
    return;
  }
  in_.commit(n);
  if (!absorb_jsonrpc_body()) return;
  if (request_fully_read()) {
    on_jsonrpc_body();
  } else {
    read_jsonrpc_body();
  }
}

// in_ holds [body so far][bytes not yet looked at]; the body's bytes among the latter
// join it (chunked data decoded in place), what follows the body stays.
bool ClientSession::absorb_jsonrpc_body() {
  std::size_t& kept = rpc_->body_length;
  if (exchange_->request_framing == http::BodyFraming::content_length) {
    const std::size_t fresh = in_.size() - kept;
    const auto body =
        static_cast<std::size_t>(std::min<std::uint64_t>(fresh, exchange_->request_remaining));
    exchange_->request_remaining -= body;
    exchange_->bytes_in += body;
    kept += body;
    return true;
  }
  if (exchange_->request_framing != http::BodyFraming::chunked) return true;
  http::ChunkedDecoder& chunks = exchange_->request_chunks;
  char* base = in_.mutable_read_ptr();
  const std::size_t end = in_.size();
  std::size_t used = kept;
  while (used < end && !chunks.done()) {
    std::string_view data;
    const auto result = chunks.next(std::string_view(base + used, end - used), &data);
    if (result.status == http::ChunkedDecoder::Status::error) {
      kept = 0;
      respond_locally(400, chunks.error(), true);
      return false;
    }
    used += result.consumed;
    exchange_->bytes_in += result.consumed;
    if (data.empty()) continue;
    std::memmove(base + kept, data.data(), data.size());
    kept += data.size();
  }
  std::memmove(base + kept, base + used, end - used);
  in_.truncate(kept + (end - used));
  if (chunks.data_bytes() > exchange_->view->snapshot().config.limits.max_body_bytes) {
    rpc_->answers.clear();
    jr::append_error(rpc_->answers, "null", jr::kLimitExceeded,
                     "request body larger than limits.max_body_bytes");
    respond_jsonrpc(413, rpc_->answers.readable(), true);
    return false;
  }
  return true;
}

void ClientSession::on_jsonrpc_body() {
  const std::string_view body = in_.readable().substr(0, rpc_->body_length);
  const conf::JsonRpcRouteConfig& config = *rpc_->route->config;
  jr::Request& request = rpc_->request;
  const jr::RequestParse parsed = jr::parse_request(body, config.max_batch, request);
  core::Buffer& answers = rpc_->answers;
  if (parsed.too_many) {
    const http::JsonRpcIds ids(body);
    if (rpc_->series != nullptr) {
      rpc_->series->count_batch(ids.count());
      rpc_->series->count_error(jr::kLimitExceeded);
    }
    std::string message = "batch of ";
    message += body.size() <= http::JsonRpcIds::kScanLimit ? std::to_string(ids.count())
                                                           : std::string("more");
    message += " items, the limit is " + std::to_string(config.max_batch);
    answers.append('[');
    bool first = true;
    auto it = ids.begin();
    std::string_view id;
    while (it.next(&id)) {
      if (!first) answers.append(',');
      first = false;
      jr::append_error(answers, id, jr::kLimitExceeded, message);
    }
    answers.append(']');
    respond_jsonrpc(413, answers.readable(), false);
    return;
  }
  if (request.error != 0) {
    if (rpc_->series != nullptr) rpc_->series->count_error(request.error);
    jr::append_error(answers, "null", request.error,
                     request.error == jr::kParseError ? "parse error" : "invalid request");
    respond_jsonrpc(400, answers.readable(), false);
    return;
  }
  rpc_->calls.assign(request.calls.size(), RpcCallState{});
  plan_jsonrpc_calls();
  if (!charge_jsonrpc_calls()) return;
  group_jsonrpc_calls();
  next_jsonrpc_group();
}

// Each valid call's plan; local answers (denied methods, eth_accounts, the logs range
// cap, invalid items) are written at once. "latest" means one head for the request.
void ClientSession::plan_jsonrpc_calls() {
  const runtime::Snapshot& snapshot = exchange_->view->snapshot();
  const runtime::JsonRpcRouteRuntime& route = *rpc_->route;
  // The target's chain-filtered head (PoolStats::head_block): wrong-chain and unchecked
  // backends do not move it.
  const std::uint64_t highest = runtime::known_head(snapshot, route.target);
  const std::uint64_t head = route.state->pinned_head(highest);
  for (std::size_t i = 0; i < rpc_->calls.size(); ++i) {
    const jr::Call& call = rpc_->request.calls[i];
    RpcCallState& state = rpc_->calls[i];
    if (call.error != 0) {
      state.plan.method = &jr::method_info({});
      answer_call(i, RpcEnd::client_error, call.error, "invalid request");
      continue;
    }
    runtime::plan_call(snapshot, route, call, head, highest, rpc_->text, state.plan);
    const runtime::CallPlan& plan = state.plan;
    switch (plan.kind) {
      case runtime::CallPlan::Kind::forward:
        break;
      case runtime::CallPlan::Kind::error: {
        // The message and data may live in rpc_->text: written before the next plan.
        const RpcEnd end = plan.code == jr::kMethodNotFound ? RpcEnd::denied : RpcEnd::client_error;
        if (plan.data.empty()) {
          answer_call(i, end, plan.code, plan.message);
        } else {
          state.end = call.notification ? RpcEnd::silent : end;
          state.error_code = plan.code;
          state.answer_offset = rpc_->answers.size();
          if (!call.notification)
            jr::append_error(rpc_->answers, call.id, plan.code, plan.message, plan.data);
          state.answer_length = rpc_->answers.size() - state.answer_offset;
        }
        break;
      }
      case runtime::CallPlan::Kind::result:
        state.end = call.notification ? RpcEnd::silent : RpcEnd::ok;
        state.answer_offset = rpc_->answers.size();
        if (!call.notification) jr::append_result(rpc_->answers, call.id, plan.result);
        state.answer_length = rpc_->answers.size() - state.answer_offset;
        break;
      case runtime::CallPlan::Kind::none:
        state.end = RpcEnd::silent;
        break;
    }
  }
}

void ClientSession::answer_call(std::size_t index, RpcEnd end, int code, std::string_view message) {
  RpcCallState& state = rpc_->calls[index];
  const jr::Call& call = rpc_->request.calls[index];
  state.answer_offset = rpc_->answers.size();
  if (call.notification && call.error == 0) {
    state.end = RpcEnd::silent;
    state.answer_length = 0;
    return;
  }
  state.end = end;
  state.error_code = code;
  jr::append_error(rpc_->answers, call.id, code, message);
  state.answer_length = rpc_->answers.size() - state.answer_offset;
}

// Each forwarded call takes call_cost tokens from every policy of the route; a refused
// call gets -32005 in place. Only when every call was refused is the answer a 429.
bool ClientSession::charge_jsonrpc_calls() {
  const runtime::RouteRuntime& route = *exchange_->pick.route;
  if (route.policies.empty()) return true;
  const runtime::Snapshot& snapshot = exchange_->view->snapshot();
  const runtime::MetricsView* metrics = exchange_->view->metrics();
  const std::int64_t now = rpc_steady_ns(exchange_->started);
  const runtime::PolicyRuntime* refused_by = nullptr;
  limits::Decision refusal;
  std::size_t refused = 0;
  for (std::size_t i = 0; i < rpc_->calls.size(); ++i) {
    RpcCallState& state = rpc_->calls[i];
    if (state.end != RpcEnd::open) continue;
    const std::string_view method = rpc_->request.calls[i].method;
    bool call_refused = false;
    for (std::size_t k = 0; k < route.policies.size() && !call_refused; ++k) {
      const runtime::PolicyRuntime& policy = snapshot.policies[route.policies[k]];
      const limits::Gcra gcra =
          runtime::gcra_for_cost(policy.gcra, runtime::call_cost(policy, method));
      const limits::Decision decision = policy.limiter->acquire(rpc_->limit_keys[k], now, gcra);
      runtime::PolicyCounters* counters =
          metrics != nullptr ? &metrics->policy(route.policies[k]) : nullptr;
      // A call cannot be held: a policy's delay lets it through, counted as delayed.
      if (decision.verdict != limits::Verdict::refuse) {
        if (counters != nullptr)
          (decision.verdict == limits::Verdict::allow ? counters->allowed : counters->delayed)
              .add();
        continue;
      }
      if (policy.config->dry_run) {
        if (counters != nullptr) counters->dry_run_limited.add();
        continue;
      }
      if (counters != nullptr) counters->limited.add();
      refused_by = &policy;
      refusal = decision;
      call_refused = true;
    }
    if (call_refused) {
      answer_call(i, RpcEnd::rate_limited, jr::kLimitExceeded, "rate limit exceeded");
      ++refused;
    }
  }
  if (refused_by == nullptr) return true;
  exchange_->limited_by = refused_by->name;
  if (refused < rpc_->calls.size()) return true;
  exchange_->rate_limit = RateLimit::refused;
  count_jsonrpc_calls();
  const std::string_view body = in_.readable().substr(0, rpc_->body_length);
  const http::JsonRpcIds ids(body);
  prepare_local_response(429, close_after_);
  http::LimitRefusal response;
  response.detail = "rate limit exceeded";
  response.limited_by = refused_by->name;
  response.retry_after_seconds = http::retry_after_seconds(refusal.wait);
  response.policy_field = refused_by->policy_field;
  response.remaining = refusal.remaining;
  response.jsonrpc = &ids;
  response.request_id = request_id();
  response.close = close_after_;
  const std::size_t offset = out_.size();
  exchange_->response_body_bytes = http::write_limit_response(response, out_);
  in_.consume(rpc_->body_length);
  rpc_->body_length = 0;
  send_local_response(offset);
  return false;
}

// One group per target (and, for sticky filter calls, per backend): calls to the same
// target share one pick, so a batch reads one backend's chain.
void ClientSession::group_jsonrpc_calls() {
  std::vector<RpcGroup>& groups = rpc_->groups;
  for (RpcCallState& state : rpc_->calls) {
    if (state.end != RpcEnd::open) continue;
    const runtime::CallPlan& plan = state.plan;
    const bool sticky = plan.sticky_backend_tag.has_value();
    std::optional<runtime::Assignment> pick;
    if (sticky) pick = pick_for_target(plan.target, plan.sticky_backend_tag);
    auto same = std::find_if(groups.begin(), groups.end(), [&](const RpcGroup& group) {
      if (group.sticky != sticky || !(group.target == plan.target)) return false;
      return !sticky || (group.pick.pool == pick->pool && group.pick.backend == pick->backend);
    });
    if (same == groups.end()) {
      RpcGroup group;
      group.target = plan.target;
      group.sticky = sticky;
      group.pick = sticky ? *pick : pick_for_target(plan.target, std::nullopt);
      groups.push_back(group);
      same = groups.end() - 1;
    }
    state.group = static_cast<std::uint32_t>(same - groups.begin());
  }
}

// The route's own target keeps the session's pick (split stickiness, hashing on the
// request's key); a method route's target is assigned here. The head is gone by now
// (the worker's scratch serves other requests while the body is read): header and
// cookie keys fall back to the client's address. A filter call goes to the backend its
// id names while that backend can still serve it; else to any (which answers "filter
// not found", as the node would after a restart).
runtime::Assignment ClientSession::pick_for_target(const runtime::RpcTarget& target,
                                                   std::optional<std::uint32_t> backend_tag) {
  const runtime::JsonRpcRouteRuntime& route = *rpc_->route;
  if (backend_tag) {
    const auto sticky = runtime::assign_backend_by_tag(*exchange_->view, exchange_->pick.route,
                                                       target, *backend_tag);
    if (sticky) return *sticky;
  }
  if (target == route.target) return exchange_->pick;
  static const http::RequestHead kNoHead{};
  SplitFailoverLog failover_log(worker_, exchange_->view->snapshot());
  return runtime::assign_target(*exchange_->view, exchange_->pick.route, target, kNoHead,
                                client_ip(), &failover_log);
}

// The next group with calls still open goes to its backend; when none is left, the
// client gets its answer.
void ClientSession::next_jsonrpc_group() {
  std::vector<RpcGroup>& groups = rpc_->groups;
  while (rpc_->current < groups.size()) {
    RpcGroup& group = groups[rpc_->current];
    bool open = false;
    for (const RpcCallState& state : rpc_->calls)
      open = open || (state.end == RpcEnd::open && state.group == rpc_->current);
    if (group.done || !open) {
      group.done = true;
      ++rpc_->current;
      continue;
    }
    if (!group.pick.backend) {
      // Named after the target the route (or the method route) gives.
      const runtime::Snapshot& snapshot = exchange_->view->snapshot();
      std::string message = "no backend available for ";
      message += group.target.split == UINT32_MAX ? snapshot.pools[group.target.pool].name
                                                  : snapshot.splits[group.target.split].name;
      for (std::size_t i = 0; i < rpc_->calls.size(); ++i) {
        if (rpc_->calls[i].end == RpcEnd::open && rpc_->calls[i].group == rpc_->current)
          answer_call(i, RpcEnd::no_backend, jr::kInternalError, message);
      }
      group.done = true;
      ++rpc_->current;
      continue;
    }
    send_jsonrpc_group();
    return;
  }
  finish_jsonrpc();
}

// Every call is answered: HTTP 200 when any call got an answer other than a failure
// to reach a backend, else the failure's status (504 timed out, 502, 503 no backend).
void ClientSession::finish_jsonrpc() {
  count_jsonrpc_calls();
  bool answered = false;
  bool timed_out = false;
  bool transport = false;
  bool failed = false;
  for (const RpcCallState& state : rpc_->calls) {
    switch (state.end) {
      case RpcEnd::timed_out:
        timed_out = failed = true;
        break;
      case RpcEnd::transport_error:
        transport = failed = true;
        break;
      case RpcEnd::no_backend:
        failed = true;
        break;
      case RpcEnd::silent:
        break;
      default:
        answered = true;
        break;
    }
  }
  const std::uint16_t status = answered || !failed ? 200 : timed_out ? 504 : transport ? 502 : 503;
  exchange_->answer_error = split_target_failed();
  if (!split_target_reached()) exchange_->split_target = kNoSplitTarget;
  if (rpc_->passthrough) {
    respond_jsonrpc(status, rpc_->reply.readable(), false);
    return;
  }
  core::Buffer& out = rpc_->body;  // the last group's request body is done with
  out.clear();
  const std::string_view answers = rpc_->answers.readable();
  if (rpc_->request.batch) {
    bool first = true;
    for (const RpcCallState& state : rpc_->calls) {
      if (state.answer_length == 0) continue;
      out.append(first ? '[' : ',');
      first = false;
      out.append(answers.substr(state.answer_offset, state.answer_length));
    }
    if (!first) out.append(']');
  } else if (!rpc_->calls.empty() && rpc_->calls[0].answer_length > 0) {
    out.append(answers.substr(rpc_->calls[0].answer_offset, rpc_->calls[0].answer_length));
  }
  respond_jsonrpc(status, out.readable(), false);
}

// Whether the answer counts as an error on the route's split target (the rollout
// judge's rule): a call sent there ended with a server-class JSON-RPC error, or with no
// usable reply (transport, timeout, no backend). Calls of method routes went to other
// targets; client-class errors (reverts, bad params) are the caller's.
bool ClientSession::split_target_failed() const {
  for (const RpcCallState& state : rpc_->calls) {
    if (!(state.plan.target == rpc_->route->target)) continue;
    switch (state.end) {
      case RpcEnd::server_error:
      case RpcEnd::transport_error:
      case RpcEnd::timed_out:
      case RpcEnd::no_backend:
        return true;
      default:
        break;
    }
  }
  return false;
}

// Whether a call went to the route's split target (or found nothing there): a request
// whose calls were all method-routed elsewhere or answered by veer itself is no evidence
// about the split's targets.
bool ClientSession::split_target_reached() const {
  for (const RpcCallState& state : rpc_->calls) {
    if (!(state.plan.target == rpc_->route->target)) continue;
    if (state.tries > 0 || state.end == RpcEnd::no_backend) return true;
  }
  return false;
}

// The answer veer writes: head into out_, `body` (in rpc_'s buffers) sent beside it.
// HTTP 200 unless the whole request failed or was refused; keep-alive as for any answer.
// The head goes through the session's response rewrite (write_client_response_head):
// the backend's own fields (CORS and the like) when the whole answer came from one
// exchange with one backend, the split's target_header, X-Request-Id, HTTP/1.0
// keep-alive and Connection: close as for any proxied response.
void ClientSession::respond_jsonrpc(std::uint16_t status, std::string_view body, bool close) {
  // The request's body must not be read as the next request (`body` is never in in_).
  in_.consume(rpc_->body_length);
  rpc_->body_length = 0;
  end_backend_use();
  prepare_local_response(status, close);
  bool with_backend = false;
  if (rpc_->first_pick) {
    const runtime::Assignment& pick = *rpc_->first_pick;
    exchange_->pick = pick;
    exchange_->backend = &exchange_->view->pool(pick.pool).pool->backends[*pick.backend];
    with_backend = true;
  }
  http::ResponseHead& head = worker_.response_scratch();
  head.reset();
  if (!answer_from_one_exchange() ||
      http::parse_response_head(rpc_->reply_head.readable(), false, head)) {
    head.reset();
  }
  keep_end_to_end_fields(head);
  head.status = status;
  head.reason = status == 200 ? std::string_view("OK") : http::status_reason(status);
  char length[24];
  const auto length_end = std::to_chars(length, length + sizeof length, body.size()).ptr;
  head.fields[head.field_count++] = {"Content-Type", "application/json", http::HeaderId::other};
  head.fields[head.field_count++] = {
      "Content-Length", std::string_view(length, static_cast<std::size_t>(length_end - length)),
      http::HeaderId::content_length};
  http::ResponseRewrite how = response_rewrite();
  how.strip_chunked = false;
  if (!with_backend) how.added_name = how.added_value = {};
  const std::size_t offset = out_.size();
  http::write_client_response_head(head, how, out_);
  exchange_->response_body_bytes = body.size();
  release_route_slot();
  record_exchange(status, with_backend);
  const std::array<asio::const_buffer, 2> pieces{
      asio::buffer(out_.read_ptr() + offset, out_.size() - offset),
      asio::buffer(body.data(), body.size())};
  worker_.deadlines().arm(write_deadline_, worker_.config().timeouts.client_send);
  stream_.async_write(pieces, [self = self()](const error_code& ec, std::size_t) {
    self->write_deadline_.disarm();
    if (self->phase_ == Phase::closed) return;
    if (ec) {
      self->close();
      return;
    }
    if (self->rpc_->reply.allocated()) self->worker_.buffers().release(self->rpc_->reply);
    self->rpc_->release_large(self->worker_.buffers());
    self->next_request();
  });
}

// True when every call was forwarded and answered by the request's only exchange with
// a backend (no retry, no local answer, no failure): its response head may speak for
// the whole answer.
bool ClientSession::answer_from_one_exchange() const {
  if (rpc_->replied_exchanges != 1 || exchange_->attempts != 1 || rpc_->reply_head.empty())
    return false;
  for (std::size_t i = 0; i < rpc_->calls.size(); ++i) {
    const RpcCallState& state = rpc_->calls[i];
    if (rpc_->request.calls[i].error != 0 || state.plan.kind != runtime::CallPlan::Kind::forward)
      return false;
    switch (state.end) {
      case RpcEnd::ok:
      case RpcEnd::client_error:
      case RpcEnd::server_error:
      case RpcEnd::silent:
        break;
      default:
        return false;
    }
  }
  return true;
}

// Each answered call in the route's JSON-RPC series: outcome and duration per method,
// error codes, and the batch's size.
void ClientSession::count_jsonrpc_calls() {
  runtime::JsonRpcSeries* series = rpc_->series;
  if (series == nullptr) return;
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::nanoseconds>(worker_.now() - exchange_->started);
  if (rpc_->request.batch) series->count_batch(rpc_->calls.size());
  using Outcome = runtime::JsonRpcSeries::Outcome;
  for (const RpcCallState& state : rpc_->calls) {
    Outcome outcome = Outcome::ok;
    switch (state.end) {
      case RpcEnd::ok:
        outcome = Outcome::ok;
        break;
      case RpcEnd::client_error:
        outcome = Outcome::client_error;
        break;
      case RpcEnd::server_error:
        outcome = Outcome::server_error;
        break;
      case RpcEnd::rate_limited:
        outcome = Outcome::rate_limited;
        break;
      case RpcEnd::denied:
        outcome = Outcome::denied;
        break;
      case RpcEnd::silent:
      case RpcEnd::open:
        continue;
      default:
        outcome = Outcome::transport_error;
        break;
    }
    const std::size_t method =
        state.plan.method != nullptr ? state.plan.method->index : jr::known_method_count() - 1;
    series->count_call(method, outcome, elapsed);
    if (state.error_code != 0) series->count_error(state.error_code);
  }
}

}  // namespace veer::proxy
