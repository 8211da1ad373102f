// ClientSession: the TLS handshake of a TLS listener, and what the verified client
// certificate adds to each request.
#include <string_view>

#include "core/log.hpp"
#include "proxy/client_session.hpp"
#include "proxy/worker.hpp"

namespace veer::proxy {
namespace {

using Failure = runtime::TlsCounters::Failure;

// OpenSSL's reason strings, mapped to the failure kinds /metrics counts.
Failure classify_failure(std::string_view reason) {
  if (reason == "http request" || reason == "https proxy request") return Failure::plain_http;
  // Not "wrong version number": that is a record header that is not TLS (garbage).
  if (reason.find("unsupported protocol") != std::string_view::npos ||
      reason.find("version too low") != std::string_view::npos) {
    return Failure::protocol_version;
  }
  if (reason.find("unrecognized name") != std::string_view::npos ||
      reason.find("servername") != std::string_view::npos ||
      reason.find("callback failed") != std::string_view::npos) {
    return Failure::unknown_sni;
  }
  if (reason.find("certificate") != std::string_view::npos) return Failure::client_certificate;
  return Failure::other;
}

}  // namespace

bool ClientSession::start_tls() {
  const runtime::ListenerRuntime* listener = worker_.view()->snapshot().find_listener(listener_);
  if (listener == nullptr || !listener->tls) return false;
  tls_config_ = &listener->tls->config();
  stream_.start_tls(listener->tls->new_session(), worker_.tls_scratch());
  if (!in_.empty()) {  // the ClientHello's first bytes came with a PROXY protocol header
    stream_.tls()->feed({in_.read_ptr(), in_.size()});
    in_.clear();
  }
  if (in_.allocated()) worker_.buffers().release(in_);
  phase_ = Phase::handshake;
  worker_.deadlines().arm(read_deadline_, worker_.config().timeouts.tls_handshake);
  stream_.async_handshake([self = self()](const error_code& ec) { self->on_handshake(ec); });
  return true;
}

void ClientSession::on_handshake(const error_code& ec) {
  if (phase_ != Phase::handshake) return;  // timed out or shut down meanwhile
  read_deadline_.disarm();
  runtime::TlsCounters& counters = worker_.metrics().tls;
  tls::TlsSession& session = *stream_.tls();
  if (ec) {
    const Failure kind =
        ec == tls::tls_error() ? classify_failure(session.error()) : Failure::closed;
    counters.failed[kind].add();
    core::log::debug("TLS handshake from ", client_ip(), " failed: ",
                     ec == tls::tls_error() ? std::string_view(session.error()) : ec.message());
    if (kind == Failure::plain_http) {
      refuse_plain_http();
      return;
    }
    close();
    return;
  }
  (session.resumed() ? counters.resumed : counters.full).add();
  (session.version() == "TLSv1.3" ? counters.tls13 : counters.tls12).add();
  counters.count_cipher(session.cipher().data());  // a static C string
  if (session.peer_verified()) {
    client_subject_ = session.peer_subject();
    client_fingerprint_ = session.peer_fingerprint_sha256();
  }
  start_reading();
}

// nginx answers "400 The plain HTTP request was sent to HTTPS port"; so does veer, in
// plain text, in one non-blocking write, then closes (a client that does not read it
// loses nothing it could have used).
void ClientSession::refuse_plain_http() {
  static constexpr std::string_view kAnswer =
      "HTTP/1.1 400 Bad Request\r\n"
      "Content-Type: text/plain\r\n"
      "Content-Length: 48\r\n"
      "Connection: close\r\n"
      "\r\n"
      "The plain HTTP request was sent to HTTPS port.\r\n";
  error_code ignored;
  stream_.socket().write_some(asio::buffer(kAnswer.data(), kAnswer.size()), ignored);
  close_gracefully();
}

http::ForwardContext ClientSession::forward_context() const {
  http::ForwardContext context{client_ip(), stream_.tls() != nullptr ? "https" : "http",
                               request_id()};
  context.peer_ip = origin_text_.view();
  context.trusted_peer = origin_trusted_;
  context.listener_port = forwarded_port_;
  if (tls_config_ != nullptr) {
    context.client_subject_header = tls_config_->client_subject_header;
    context.client_subject = client_subject_;
    context.client_fingerprint_header = tls_config_->client_fingerprint_header;
    context.client_fingerprint = client_fingerprint_;
  }
  return context;
}

}  // namespace veer::proxy
