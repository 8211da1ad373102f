#pragma once

// A blocking TLS client for integration tests, written on the OpenSSL API directly
// (independent of veer's TLS layer, so each checks the other). Every socket operation
// has a timeout, so a test can fail but never hang.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "support/http_client.hpp"

using SSL_SESSION = struct ssl_session_st;

namespace veer::test {

struct TlsClientOptions {
  std::string sni = "localhost";  // "" = no SNI
  std::string ca_file;            // verify the server against it; "" = no verification
  int min_version = 0;            // TLS1_VERSION..TLS1_3_VERSION; 0 = OpenSSL's default
  int max_version = 0;
  std::string sigalgs;    // e.g. "ECDSA+SHA256" to accept only ECDSA certificates
  std::string cert_file;  // client certificate (mTLS)
  std::string key_file;
  std::shared_ptr<SSL_SESSION> session;  // resume this session (from session())
  std::chrono::milliseconds timeout = std::chrono::seconds(5);
  // Bytes sent in the clear before the ClientHello (a PROXY protocol header), held back
  // with MSG_MORE so that they usually share a TCP segment with it.
  std::string preface;
};

class TlsClient {
 public:
  TlsClient(std::uint16_t port, TlsClientOptions options = {});
  ~TlsClient();
  TlsClient(const TlsClient&) = delete;
  TlsClient& operator=(const TlsClient&) = delete;

  // Completes the handshake; false with error() on failure.
  bool handshake();
  const std::string& error() const { return error_; }

  bool send(std::string_view bytes);
  // One response to a request already sent (Content-Length or chunked bodies).
  std::optional<Response> read_response();
  std::optional<Response> request(const std::string& method, const std::string& target,
                                  const std::vector<std::string>& extra_headers = {});
  // True when the server closes (close_notify, EOF, reset or an alert) within timeout.
  bool wait_closed(std::chrono::milliseconds timeout);

  // After the handshake.
  std::string version() const;
  bool resumed() const;
  std::string peer_common_name() const;
  std::string peer_fingerprint_sha256() const;
  std::string peer_key_type() const;  // "EC" or "RSA"
  std::string alpn() const;
  // The session to resume with (after a response was read: TLS 1.3 tickets arrive then).
  std::shared_ptr<SSL_SESSION> session() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string error_;
};

}  // namespace veer::test
