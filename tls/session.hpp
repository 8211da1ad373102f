#pragma once

// One TLS connection, server or client side, as a pure transform between ciphertext and plaintext,
// with no socket and no event loop: the I/O engine (epoll today, io_uring later) reads
// ciphertext from the socket and feed()s it, takes what pending_output() shows and
// writes it to the socket, then consume_output()s what was written. The session in
// between calls read_plain()/write_plain() as it would on a plain socket. Not
// thread-safe; one session belongs to one worker.
//
// Where the buffers live:
// - Ciphertext in: a memory BIO (the SSL's rbio). feed() copies into it and never
//   refuses bytes, so the engine bounds it by reading from the socket only when
//   read_plain() has drained what it fed (one TLS record is at most ~16.7 KiB).
// - Ciphertext out: a memory BIO (the SSL's wbio). pending_output() points into it
//   without copying; it grows with what write_plain() encrypts until consumed, so the
//   engine stops calling write_plain() while output is pending (backpressure).
// - Plaintext: only in the caller's buffers. OpenSSL's own record buffers are freed
//   between records (SSL_MODE_RELEASE_BUFFERS, set by every factory).
//
// What an idle session costs: the SSL object, its SSL_SESSION and the two BIOs.
// With RELEASE_BUFFERS the 16 KiB+ read and write record buffers are freed once a
// record is done, leaving a few KiB (the SSL struct, handshake hashes are freed after
// the handshake, the session with the peer's data; mem BIOs keep their BUF_MEM's
// largest size until freed). TODO(issue 13): measure it rather than estimate it:
// open N idle TLS connections to the veer binary after keep-alive requests and
// compare RSS with N plain connections (the bench's RSS-per-idle-connection row, which
// also compares nginx); a counting CRYPTO_set_mem_functions would be process-global
// and is not used. If the mem BIOs' retained capacity shows up, reset them when empty.

#include "tls/context.hpp"

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace veer::tls {

class TlsSession {
 public:
  enum class Handshake { done, want_input, failed };

  enum class Io {
    ok,          // `bytes` moved (possibly 0 for an empty write)
    want_input,  // nothing more until more ciphertext is fed
    closed,      // the peer sent close_notify
    failed,      // a fatal TLS error; see error()
  };
  struct IoResult {
    Io status;
    std::size_t bytes;
  };

  // `ssl` comes from a factory (TlsContext, ServerTls, ClientTls::new_session) with its
  // accept or connect state set; `owner` is that factory, kept alive for the session's
  // life (its SSL_CTXs and callbacks must outlive the SSL; a reload may drop it).
  TlsSession(SslPtr ssl, std::shared_ptr<const void> owner);
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;
  ~TlsSession();

  // Ciphertext read from the socket. Always takes everything.
  void feed(std::span<const char> ciphertext);

  // Advances the handshake with what has been fed. After every call, including a
  // failed one (the alert to send), write out pending_output().
  Handshake handshake();

  // Decrypts into `out`. May also queue output (a TLS 1.3 KeyUpdate answer), so check
  // pending_output() after it too. Completes the handshake first if needed.
  IoResult read_plain(std::span<char> out);

  // Encrypts all of `in` into the output (the memory BIO never blocks).
  IoResult write_plain(std::span<const char> in);

  // Ciphertext waiting to be written to the socket; valid until the next call that
  // changes the session.
  std::span<const char> pending_output() const;
  void consume_output(std::size_t n);

  // Queues our close_notify. Returns true if the peer's close_notify has already been
  // received (the shutdown is complete both ways).
  bool close_notify();

  bool handshake_done() const;
  // After the handshake; empty strings when not applicable.
  std::string_view version() const;  // "TLSv1.3"
  std::string_view cipher() const;   // "TLS_AES_256_GCM_SHA384"
  std::string_view alpn() const;     // "http/1.1" or empty when none was agreed
  bool resumed() const;              // from a session ticket

  // Ciphertext fed but not yet processed, or decrypted plaintext not yet read: call
  // read_plain() again before waiting on the socket.
  bool has_buffered_input() const;

  // The peer's certificate once verified (mTLS on a listener, the backend's on a
  // client session); empty strings when none was presented or verification is off.
  bool peer_verified() const;
  std::string peer_subject() const;             // RFC 2253, "CN=client,O=Example"
  std::string peer_fingerprint_sha256() const;  // lower-case hex

  // Why the last failed/closed result happened, e.g. "unsupported protocol" or
  // "http request" (plain HTTP sent to the TLS port): OpenSSL's reason string; for a
  // certificate refused by verification, "certificate verify failed: " and X509's
  // reason ("hostname mismatch", "unable to get local issuer certificate", ...).
  const std::string& error() const { return error_; }

 private:
  Io classify(int ret);

  std::shared_ptr<const void> owner_;  // declared first: destroyed after ssl_
  SslPtr ssl_;
  BIO* in_ = nullptr;   // owned by ssl_
  BIO* out_ = nullptr;  // owned by ssl_
  std::string error_;
};

}  // namespace veer::tls
