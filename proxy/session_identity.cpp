// ClientSession: who the client is (docs/OPERATIONS.md, "Client identity"). The PROXY
// protocol header of a listener with proxy_protocol = true, read before TLS and HTTP,
// and each request's client, derived from X-Forwarded-For / Forwarded when the
// connection comes from a trusted proxy.
//
// The header is read into the session's input buffer like a request head, and what
// came after it in the same read stays there: a plain listener parses it as the start
// of the first request, a TLS listener hands it to the TLS session before the handshake
// (session_tls.cpp). Only the header's bytes are ever taken.
#include "core/log.hpp"
#include "http/forwarded.hpp"
#include "proxy/client_session.hpp"
#include "proxy/worker.hpp"

namespace veer::proxy {

void ClientSession::AddressText::set(const core::IpAddress& address) {
  length = static_cast<std::uint8_t>(address.format(text));
}

bool ClientSession::start_proxy_header() {
  const runtime::ListenerRuntime* listener = worker_.view()->snapshot().find_listener(listener_);
  if (listener == nullptr || listener->config == nullptr) return false;
  const conf::ListenerConfig& config = *listener->config;
  // X-Forwarded-Port: the configured port, or the one a "host:0" listener was given.
  forwarded_port_ = config.host_port.port;
  if (forwarded_port_ == 0) {
    error_code ignored;
    forwarded_port_ = stream_.socket().local_endpoint(ignored).port();
  }
  if (!config.proxy_protocol) return false;
  phase_ = Phase::proxy_header;
  worker_.deadlines().arm(read_deadline_, worker_.config().timeouts.proxy_protocol);
  // Only a trusted proxy may say where a connection comes from; anyone else could
  // choose their own address. Refused before reading a byte.
  if (!http::is_trusted(config.trusted_proxies, peer_)) {
    refuse_proxy_header("the peer is not in trusted_proxies");
    return true;
  }
  proxy_parser_ = std::make_unique<http::ProxyHeaderParser>();
  read_proxy_header();
  return true;
}

// Reads what the socket holds and feeds it to the parser; waits for more while the
// header is incomplete. The parser takes only the header's bytes from the buffer.
void ClientSession::read_proxy_header() {
  while (true) {
    if (!in_.allocated()) in_ = worker_.buffers().acquire();
    error_code ec;
    const std::size_t n = stream_.read_some(asio::buffer(in_.write_ptr(), in_.writable_size()), ec);
    if (ec == asio::error::would_block) {
      stream_.async_wait_readable([self = self()](const error_code& e) {
        if (self->phase_ != Phase::proxy_header) return;
        if (e) {
          self->close();
          return;
        }
        self->read_proxy_header();
      });
      return;
    }
    if (ec) {  // closed before a whole header: a connection check, or a broken sender
      core::log::debug("closing ", peer_text_.view(), ": closed during its PROXY protocol header");
      close();
      return;
    }
    in_.commit(n);
    const http::ProxyHeaderParser::Result result = proxy_parser_->feed(in_.readable());
    in_.consume(result.consumed);
    switch (result.status) {
      case http::ProxyHeaderParser::Status::need_more:
        continue;
      case http::ProxyHeaderParser::Status::error:
        refuse_proxy_header(proxy_parser_->error());
        return;
      case http::ProxyHeaderParser::Status::done:
        on_proxy_header(proxy_parser_->header());
        return;
    }
  }
}

void ClientSession::on_proxy_header(const http::ProxyHeader& header) {
  read_deadline_.disarm();
  if (header.has_address) {  // else LOCAL / UNKNOWN: the proxy itself (a health check)
    origin_ = client_ = header.source;
    origin_text_.set(origin_);
    client_text_ = origin_text_;
    // The port the client connected to on the proxy, not the proxy's port on veer.
    forwarded_port_ = header.destination_port;
  }
  proxy_parser_.reset();
  start_connection();
}

void ClientSession::refuse_proxy_header(std::string_view why) {
  worker_.metrics().refusals.proxy_protocol.add();
  // A misconfigured load balancer shows as a flood of these: warn, at a bounded rate.
  if (worker_.may_log_now()) {
    core::log::warn("listener ", listener_, ": closing a connection from ", peer_text_.view(),
                    ": PROXY protocol: ", why);
  } else {
    core::log::debug("closing ", peer_text_.view(), ": PROXY protocol: ", why);
  }
  close();
}

void ClientSession::start_connection() {
  count_client_connection();
  if (!start_tls()) start_reading();
}

void ClientSession::identify_client(const http::RequestHead& head) {
  const runtime::ListenerRuntime* listener = exchange_->view->snapshot().find_listener(listener_);
  const std::span<const core::IpPrefix> trusted =
      listener != nullptr && listener->config != nullptr
          ? std::span<const core::IpPrefix>(listener->config->trusted_proxies)
          : std::span<const core::IpPrefix>();
  origin_trusted_ = http::is_trusted(trusted, origin_);
  const core::IpAddress client =
      origin_trusted_ ? http::derive_client(head.headers(), origin_, trusted).address : origin_;
  if (client == client_) return;
  client_ = client;
  if (client_ == origin_) {
    client_text_ = origin_text_;
  } else {
    client_text_.set(client_);
  }
}

}  // namespace veer::proxy
