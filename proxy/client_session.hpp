#pragma once

// One client connection: reads request heads, routes them, runs each exchange with a
// backend (request body up, response down, streaming with backpressure), and turns into
// a tunnel on a WebSocket upgrade. Lives on one worker; every completion handler holds a
// Ref, so the session lives exactly as long as an operation is pending (Beast's model).
//
// Invariant that makes io_uring safe: a buffer is never reused or freed while an
// operation that uses it is pending, even a cancelled one. Client buffers go back to the
// pool only between requests or on destruction; an upstream connection dropped with
// operations pending is retired and freed by its last handler.
//
// The member functions are split by concern: client_session.cpp (connection and heads),
// session_upstream.cpp (backend connection, request head, response head),
// session_relay.cpp (bodies). Which backend a request goes to, and which one its retry
// goes to, is runtime/route_pick's choice; the session only acts on it.

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/asio.hpp"
#include "core/buffer.hpp"
#include "core/ip_address.hpp"
#include "core/ref_counted.hpp"
#include "health/outlier.hpp"
#include "http/chunked.hpp"
#include "http/header_rewrite.hpp"
#include "http/limit_response.hpp"
#include "http/proxy_protocol.hpp"
#include "proxy/client_slot.hpp"
#include "proxy/connection.hpp"
#include "proxy/deadline.hpp"
#include "proxy/jsonrpc_exchange.hpp"
#include "proxy/socket.hpp"
#include "proxy/upstream_pool.hpp"
#include "runtime/route_pick.hpp"
#include "runtime/worker_view.hpp"

namespace veer::proxy {

class Worker;

class ClientSession final : public core::RefCounted<ClientSession>,
                            public Connection,
                            public TimeoutHandler {
 public:
  ClientSession(Worker& worker, Socket socket, const std::string& listener,
                const sockaddr_storage& peer);
  ~ClientSession();

  void start();
  void drain() override;
  void abort() override;
  void abort_if_using(const core::BackendStats& backend) override;
  // Requests finish; only tunnels are closed when their split target goes.
  void abort_if_routed_via(const runtime::SplitTargetTag&) override {}
  void on_timeout(Deadline& deadline) override;

  // The current request's client (docs/OPERATIONS.md, "Client identity"): the PROXY
  // protocol source if the listener takes one, else the TCP peer; and when that is a
  // trusted proxy, the client it names in X-Forwarded-For / Forwarded. Logs, ip_hash,
  // sticky splits and rate limits key on it. Set before route_request.
  const core::IpAddress& client_address() const { return client_; }
  std::string_view client_ip() const { return client_text_.view(); }

 private:
  enum Tag : std::uint8_t { kClientRead, kClientWrite, kUpstream, kPark };
  enum class Phase : std::uint8_t {
    proxy_header,  // reading a PROXY protocol header, before TLS or HTTP
    handshake,
    idle,
    head,
    exchange,
    responding_locally,
    lingering,
    closed
  };

  // What the rate-limit policies did to a request (the access log's rate_limit).
  enum class RateLimit : std::uint8_t { none, allowed, delayed, refused, dry_run };
  // A request refused by a limit, waiting for its body: a JSON-RPC call is answered with
  // its ids, and a keep-alive connection stays usable once the body is read.
  struct Refusal {
    http::LimitRefusal response;  // views: static text, or the snapshot's policy
    bool post = false;            // with the body's first byte: a JSON-RPC call?
    bool json_content_type = false;
    std::size_t body_kept = 0;  // decoded body bytes at the front of in_
    bool body_dropped = false;  // longer than JsonRpcIds::kScanLimit: read, not kept
  };
  static constexpr std::uint32_t kNoSplitTarget = UINT32_MAX;
  // Everything about one request and its response, reset whole between requests.
  struct Exchange {
    core::Ref<runtime::WorkerView> view;
    runtime::Assignment pick;  // route, pool and backend; what a retry chooses from
    const runtime::RouteSeries* route_series = nullptr;  // the route's counters, once routed
    const runtime::BackendRuntime* backend = nullptr;    // of pick, in view's snapshot
    UpstreamSlot* slot = nullptr;                        // the backend's idle connections
    Clock::time_point started{};
    Clock::time_point upstream_started{};
    http::WrittenRequest written;  // where method, path and id are in out_
    std::size_t request_head_length = 0;
    // A copy, not a view into out_: response heads are written into out_, which may
    // move. 128: the longest incoming id kept (http_parser.cpp).
    char request_id[128] = {};
    std::uint8_t request_id_length = 0;
    // For the access log: the last try's connect and response head (time_point{} = none).
    Clock::time_point connect_started{};
    Clock::time_point connected{};
    Clock::time_point request_sent_at{};
    Clock::time_point response_head_at{};
    std::uint16_t upstream_status = 0;  // the final (or 101) status the backend sent
    std::uint64_t bytes_in = 0;         // head and body bytes of this request from the client
    std::size_t response_head_offset = 0;
    // Request side.
    http::BodyFraming request_framing = http::BodyFraming::none;
    std::uint64_t request_remaining = 0;  // content-length bytes still to forward
    std::size_t request_piece = 0;        // bytes of in_ being written upstream
    http::ChunkedDecoder request_chunks{};
    // Response side.
    http::BodyFraming response_framing = http::BodyFraming::none;
    std::uint64_t response_remaining = 0;
    std::size_t response_piece = 0;     // bytes of up_->buffer being written to the client
    std::size_t response_consumed = 0;  // bytes of up_->buffer the piece stands for
    std::uint64_t response_body_bytes = 0;
    http::ChunkedDecoder response_chunks{};
    std::size_t response_scan = 0;
    std::uint16_t status = 0;
    std::uint8_t attempts = 0;  // tries of this request so far (retries.attempts + 1 at most)
    bool http10 = false;
    bool method_is_head = false;
    bool websocket = false;
    bool replayable = false;  // the whole request is still in out_ and in_
    bool idempotent = false;  // may be retried after it may have reached a backend
    bool request_sent = false;
    bool request_abandoned = false;  // an early response: stop sending the body
    bool response_started = false;   // bytes of the response went to the client
    bool response_complete = false;  // every byte of the response came from the backend
    bool response_done = false;      // ... and was written to the client
    bool got_response_bytes = false;
    bool in_flight = false;  // counted in the backend's in_flight
    bool upstream_reusable = false;
    bool strip_chunked = false;  // decode a chunked response for an HTTP/1.0 client
    bool upstream_timed_out = false;
    std::uint8_t upstream_tls_failures = 0;  // tries that failed in the backend's TLS handshake
    // Limits (session_limits.cpp).
    RateLimit rate_limit = RateLimit::none;
    std::string_view limited_by;  // the policy (in view's snapshot) or cap that limited it
    std::int64_t held_ns = 0;     // delayed this long by a policy's `delay`
    runtime::RouteInFlight* route_in_flight = nullptr;  // counted in the route's max_in_flight
    Refusal refusal;
    // Behind a split (runtime::SplitTargetSeries): the index of the target whose series
    // counts this request's answer, following retries to other targets; kNoSplitTarget
    // when the route has no split, metrics are off, or the answer was counted.
    std::uint32_t split_target = kNoSplitTarget;
    // Set when the exchange classed its answer itself (a JSON-RPC request, by its
    // calls' errors); else a status of 500 or more is an error.
    std::optional<bool> answer_error;
  };
  enum class UpstreamRead : std::uint8_t { head, body };
  // A split passing a request on to another target: a warning naming the pools, under
  // the worker's rate limit.
  class SplitFailoverLog final : public runtime::FailoverObserver {
   public:
    SplitFailoverLog(Worker& worker, const runtime::Snapshot& snapshot)
        : worker_(worker), snapshot_(snapshot) {}
    void passed_on(const runtime::SplitRuntime& split, std::uint32_t from_target,
                   std::uint32_t to_target) override;

   private:
    Worker& worker_;
    const runtime::Snapshot& snapshot_;
  };

  // --- client_session.cpp
  void start_reading();
  void await_head();
  void wait_for_head();
  void on_client_readable(const error_code& ec);
  void on_head_bytes(const error_code& ec, std::size_t n);
  void read_available();
  void note_head_started();
  void parse_buffered_head();
  void on_request_head(std::size_t head_length);
  void write_upstream_head(const http::RequestHead& head, std::size_t head_length);
  void route_request(const http::RequestHead& head);
  bool routes_to_jsonrpc(const http::RequestHead& head) const;
  void send_routed(const http::RequestHead* head);  // null: the head is gone (a delay)
  void count_routed(const runtime::ListenerRuntime& listener);
  void respond_locally(std::uint16_t status, std::string_view detail, bool close);
  void prepare_local_response(std::uint16_t status, bool close);
  void send_local_response(std::size_t offset);
  void finish_exchange();
  void next_request();
  // The access log line and the metrics of an exchange that ended with `status`.
  void record_exchange(std::uint16_t status, bool with_backend);
  // The answer on the split target (once per request); `now`: when the answer ended.
  void count_split_answer(bool error, Clock::time_point now);
  // A try that failed on split target `target` and goes again elsewhere: one error there.
  void count_failed_try(std::uint32_t target);
  runtime::ExchangeSeries* series(bool with_backend);  // null when metrics are off
  void close_gracefully();
  void discard_until_eof(const error_code& ec);
  void close();
  void take_exchange();
  void put_back_exchange();
  static std::vector<std::unique_ptr<Exchange>>& spare_exchanges();
  void end_backend_use();
  bool request_fully_read() const;
  // The request's X-Request-Id: sent to the backend, back to the client, and logged.
  std::string_view request_id() const {
    return {exchange_->request_id, exchange_->request_id_length};
  }
  void set_request_id(std::string_view id);
  // The timeouts of the snapshot the exchange started with.
  const conf::Timeouts& timeouts() const { return exchange_->view->snapshot().config.timeouts; }
  core::Ref<ClientSession> self() { return core::Ref<ClientSession>(this); }

  // --- session_limits.cpp
  // Runs the route's rate-limit policies: false when the request was refused or is
  // held (it goes on from hold_over).
  bool apply_rate_limits(const http::RequestHead& head);
  void hold_request(std::int64_t wait_ns);
  void hold_over();
  // Counts the exchange in its route's max_in_flight: false when it was refused.
  bool take_route_slot(const http::RequestHead* head);
  void release_route_slot();
  // Counts the connection against its listener's max_connections_per_client, by the
  // address it comes from (after a PROXY protocol header).
  void count_client_connection();
  void refuse_over_client_cap(const http::RequestHead& head);
  void refuse(const http::RequestHead* head, const http::LimitRefusal& response);
  void read_refused_body();
  void on_refused_body_read(const error_code& ec, std::size_t n);
  // Takes the body bytes in in_; false when the body broke a rule (then answered).
  bool absorb_refused_body();
  bool absorb_refused_chunks();
  void answer_refusal();
  static std::string_view rate_limit_name(RateLimit outcome);  // "" for none

  // --- session_identity.cpp
  // The listener's PROXY protocol header, when it wants one: false when it does not (go
  // on with start_connection), true when the header is being read (or refused).
  bool start_proxy_header();
  void read_proxy_header();
  void on_proxy_header(const http::ProxyHeader& header);
  void refuse_proxy_header(std::string_view why);
  // TLS or HTTP, after the PROXY protocol header if there was one.
  void start_connection();
  // Sets client_ from origin_ and, from a trusted proxy, the request's forwarding headers.
  void identify_client(const http::RequestHead& head);

  // --- session_tls.cpp
  // Starts the TLS handshake if the listener has TLS; false for a plain listener.
  bool start_tls();
  void on_handshake(const error_code& ec);
  // Plain HTTP sent to the TLS port: nginx's answer, then close.
  void refuse_plain_http();
  http::ForwardContext forward_context() const;

  // --- session_upstream.cpp
  http::ResponseRewrite response_rewrite() const;  // for the final head and a 101
  void use_backend();
  void note_response_head(std::uint16_t status);
  void dispatch();
  bool retry(std::string_view cause, bool same_backend_ok);
  void record_outcome(health::Outcome outcome);
  void connect_upstream();
  void on_upstream_connected(UpstreamConnection* conn, const error_code& ec);
  void start_upstream_tls(const tls::ClientTls& tls, std::string_view host);
  void on_upstream_handshake(UpstreamConnection* conn, const error_code& ec);
  void send_request();
  void on_request_sent(UpstreamConnection* conn, const error_code& ec);
  void read_upstream(UpstreamRead what);
  void on_response_bytes(UpstreamConnection* conn, const error_code& ec, std::size_t n);
  void on_response_body_bytes(UpstreamConnection* conn, const error_code& ec, std::size_t n);
  void try_response_head();
  void on_final_response_head(std::size_t head_length);
  void forward_interim_response(std::size_t head_length);
  void next_response_head();
  void upstream_failed(const error_code& ec, bool sending);
  void fail_exchange(std::uint16_t status, std::string_view detail, bool close = false);
  void release_upstream(bool reusable);
  bool upstream_op_done(UpstreamConnection* conn);
  void start_tunnel(std::size_t head_length);
  bool start_jsonrpc_relay();

  // --- session_relay.cpp
  void relay_request_body();
  void on_request_body_read(const error_code& ec, std::size_t n);
  bool frame_request_body();
  void refuse_request_body(std::uint16_t status, std::string_view detail);
  bool frame_response_body(std::size_t available);
  void write_response_piece(bool with_head);
  void on_response_piece_written(const error_code& ec);

  // --- jsonrpc_exchange.cpp: a POST on a JSON-RPC route, read whole and answered per
  // call (proxy/jsonrpc_exchange.hpp).
  const runtime::JsonRpcRouteRuntime* jsonrpc_route(const http::RequestHead& head) const;
  // A Content-Length over max_body_bytes on a JSON-RPC route: its 413 as a JSON-RPC
  // error. False when the request is not a JSON-RPC one.
  bool refuse_jsonrpc_body_size(const http::RequestHead& head);
  void start_jsonrpc(const http::RequestHead& head);
  void read_jsonrpc_body();
  void on_jsonrpc_body_read(const error_code& ec, std::size_t n);
  bool absorb_jsonrpc_body();  // false when the body broke a rule (then answered)
  void on_jsonrpc_body();
  bool charge_jsonrpc_calls();  // false when every call was refused (then answered 429)
  void plan_jsonrpc_calls();
  void group_jsonrpc_calls();
  runtime::Assignment pick_for_target(const runtime::RpcTarget& target,
                                      std::optional<std::uint32_t> backend_tag);
  void answer_call(std::size_t index, RpcEnd end, int code, std::string_view message);
  void next_jsonrpc_group();
  void finish_jsonrpc();
  bool split_target_failed() const;
  bool split_target_reached() const;
  void respond_jsonrpc(std::uint16_t status, std::string_view body, bool close);
  bool answer_from_one_exchange() const;
  bool jsonrpc_reply_in_error_status();
  void count_jsonrpc_calls();
  // --- jsonrpc_upstream.cpp: one group's buffered exchange with its backend.
  void send_jsonrpc_group();
  void build_jsonrpc_request();
  void connect_jsonrpc();
  void on_jsonrpc_connected(UpstreamConnection* conn, const error_code& ec);
  void on_jsonrpc_handshake(UpstreamConnection* conn, const error_code& ec);
  void write_jsonrpc_request();
  void on_jsonrpc_sent(UpstreamConnection* conn, const error_code& ec);
  void read_jsonrpc_response();
  void on_jsonrpc_bytes(UpstreamConnection* conn, const error_code& ec, std::size_t n);
  void take_jsonrpc_response();
  bool frame_jsonrpc_reply();  // false: more bytes needed
  void jsonrpc_group_failed(RpcEnd end, std::string_view cause, bool nothing_sent,
                            std::optional<health::Outcome> outcome);
  void jsonrpc_group_replied();
  struct RepliesTaken {
    bool changed = false;       // fix_reply rewrote a reply
    bool retry = false;         // a call stays open to go again
    bool server_error = false;  // a reply of the server class (passive health)
  };
  std::size_t expected_jsonrpc_replies();
  bool match_jsonrpc_replies(std::size_t replies);
  RepliesTaken take_jsonrpc_replies();
  void keep_jsonrpc_answers();
  bool retry_jsonrpc_calls(std::string_view cause, bool nothing_sent,
                           runtime::JsonRpcSeries::Retry reason);
  void end_jsonrpc_try(bool reusable);

  Worker& worker_;
  Stream stream_;
  const std::string& listener_;  // the worker's acceptor keeps the name alive
  // An address and its text (inet_ntop's form), formatted once when it changes.
  struct AddressText {
    char text[core::IpAddress::kMaxText] = {};
    std::uint8_t length = 0;
    void set(const core::IpAddress& address);
    std::string_view view() const { return {text, length}; }
  };
  core::IpAddress peer_;    // the TCP peer
  core::IpAddress origin_;  // the PROXY protocol source, else peer_
  core::IpAddress client_;  // this request's client (client_address())
  AddressText peer_text_;
  AddressText origin_text_;
  AddressText client_text_;
  bool origin_trusted_ = false;       // origin_ is a trusted proxy (this request's snapshot)
  std::uint16_t forwarded_port_ = 0;  // X-Forwarded-Port: the port the client connected to
  std::unique_ptr<http::ProxyHeaderParser> proxy_parser_;  // while Phase::proxy_header
  bool over_client_cap_ = false;  // past max_connections_per_client: the first answer is 429
  ClientSlot client_slot_;        // counted in max_connections_per_client
  Phase phase_ = Phase::idle;
  bool draining_ = false;
  bool close_after_ = false;   // close the client connection after this response
  bool parked_ = false;        // idle without a buffer, waiting for readability
  std::size_t scan_from_ = 0;  // incremental search for the end of a head
  core::Buffer in_;            // bytes from the client
  core::Buffer out_;           // heads veer writes: upstream request, then response
  Deadline read_deadline_{*this, kClientRead};
  Deadline write_deadline_{*this, kClientWrite};
  Deadline upstream_deadline_{*this, kUpstream};
  Deadline park_deadline_{*this, kPark};
  asio::steady_timer hold_timer_;  // a request a policy's `delay` holds
  // The exchange's state (about 800 bytes) is held while the connection is in use and
  // given back when it parks, so an idle connection does not carry it; spares stay with
  // the thread, so a busy connection never allocates one.
  std::unique_ptr<Exchange> exchange_;
  std::unique_ptr<JsonRpcExchange> rpc_;  // made on the first JSON-RPC request, reused
  // The backend connection of the current try; null between tries and requests.
  std::unique_ptr<UpstreamConnection> up_;
  std::vector<std::unique_ptr<UpstreamConnection>> retired_;  // pending ops still running
  // TLS listeners: what the verified client certificate says (empty when none), for
  // the headers the listener names.
  std::string client_subject_;
  std::string client_fingerprint_;
  const conf::ListenerTlsConfig* tls_config_ = nullptr;  // kept alive by the TLS session
};

}  // namespace veer::proxy
