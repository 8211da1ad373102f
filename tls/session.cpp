#include "tls/session.hpp"

#include <openssl/err.h>

#include <algorithm>
#include <new>
#include <stdexcept>

#include "tls/detail.hpp"

namespace veer::tls {

TlsSession::TlsSession(SslPtr ssl, std::shared_ptr<const void> owner)
    : owner_(std::move(owner)), ssl_(std::move(ssl)) {
  if (!ssl_) throw std::invalid_argument("TlsSession: null SSL");
  BioPtr in(BIO_new(BIO_s_mem()));
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!in || !out) throw std::bad_alloc();
  // An empty input BIO means "retry later" (-1), not end of file (0): the socket may
  // simply not have delivered the next bytes yet.
  BIO_set_mem_eof_return(in.get(), -1);
  in_ = in.release();
  out_ = out.release();
  SSL_set_bio(ssl_.get(), in_, out_);  // the SSL owns both from here
}

// A connection that simply ended (the peer left, an idle timeout) keeps its session
// resumable, as nginx does: without SENT_SHUTDOWN, SSL_free would take it out of the
// server's session cache as possibly truncated. Fatal errors have already removed it.
TlsSession::~TlsSession() {
  if (SSL_is_init_finished(ssl_.get())) {
    SSL_set_shutdown(ssl_.get(), SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  }
}

void TlsSession::feed(std::span<const char> ciphertext) {
  std::size_t written = 0;
  if (!ciphertext.empty() &&
      (BIO_write_ex(in_, ciphertext.data(), ciphertext.size(), &written) != 1 ||
       written != ciphertext.size())) {
    throw std::bad_alloc();  // a memory BIO fails only when it cannot grow
  }
}

// Maps an SSL call's result to the engine's terms, recording the reason of a failure.
// ERR_clear_error() before each call keeps SSL_get_error() from reading a stale error.
TlsSession::Io TlsSession::classify(int ret) {
  switch (SSL_get_error(ssl_.get(), ret)) {
    case SSL_ERROR_NONE:
      return Io::ok;
    case SSL_ERROR_WANT_READ:
      return Io::want_input;
    case SSL_ERROR_ZERO_RETURN:
      error_ = "close_notify from the peer";
      return Io::closed;
    default:
      break;
  }
  unsigned long e = ERR_peek_last_error();
  // A callback's own reason (e.g. ServerTls's unknown SNI) comes before OpenSSL's
  // generic one.
  if (ERR_GET_LIB(e) == ERR_LIB_SSL && ERR_GET_REASON(e) == SSL_R_CALLBACK_FAILED) {
    e = ERR_peek_error();
  }
  const char* reason = e != 0 ? ERR_reason_error_string(e) : nullptr;
  error_ = reason != nullptr ? reason : "TLS error";
  ERR_clear_error();
  // OpenSSL's reason says only "certificate verify failed"; X509's says why.
  long verify = SSL_get_verify_result(ssl_.get());
  if (verify != X509_V_OK && !SSL_is_init_finished(ssl_.get())) {
    error_ = "certificate verify failed: ";
    error_ += X509_verify_cert_error_string(verify);
  }
  return Io::failed;
}

TlsSession::Handshake TlsSession::handshake() {
  if (SSL_is_init_finished(ssl_.get())) return Handshake::done;
  ERR_clear_error();
  switch (classify(SSL_do_handshake(ssl_.get()))) {
    case Io::ok:
      return Handshake::done;
    case Io::want_input:
      return Handshake::want_input;
    default:
      return Handshake::failed;
  }
}

TlsSession::IoResult TlsSession::read_plain(std::span<char> out) {
  std::size_t n = 0;
  ERR_clear_error();
  int ret = SSL_read_ex(ssl_.get(), out.data(), out.size(), &n);
  if (ret == 1) return {Io::ok, n};
  return {classify(ret), 0};
}

TlsSession::IoResult TlsSession::write_plain(std::span<const char> in) {
  if (in.empty()) return {Io::ok, 0};
  std::size_t n = 0;
  ERR_clear_error();
  int ret = SSL_write_ex(ssl_.get(), in.data(), in.size(), &n);
  if (ret == 1) return {Io::ok, n};
  return {classify(ret), 0};
}

std::span<const char> TlsSession::pending_output() const {
  char* data = nullptr;
  long n = BIO_get_mem_data(out_, &data);
  if (n <= 0) return {};
  return {data, static_cast<std::size_t>(n)};
}

void TlsSession::consume_output(std::size_t n) {
  // A memory BIO has no "skip": read into scratch. This copies the ciphertext once
  // more; a BIO pair (BIO_nread) would avoid it at the cost of two fixed buffers per
  // connection, idle or not.
  char scratch[4096];
  while (n > 0) {
    std::size_t got = 0;
    if (BIO_read_ex(out_, scratch, std::min(n, sizeof scratch), &got) != 1 || got == 0) {
      break;
    }
    n -= got;
  }
}

bool TlsSession::close_notify() {
  ERR_clear_error();
  int ret = SSL_shutdown(ssl_.get());
  if (ret < 0) ERR_clear_error();  // e.g. before the handshake: nothing to say
  return ret == 1;
}

bool TlsSession::handshake_done() const {
  return SSL_is_init_finished(ssl_.get()) != 0;
}

std::string_view TlsSession::version() const {
  return handshake_done() ? SSL_get_version(ssl_.get()) : std::string_view{};
}

std::string_view TlsSession::cipher() const {
  const char* name = SSL_get_cipher_name(ssl_.get());
  return handshake_done() && name != nullptr ? name : std::string_view{};
}

std::string_view TlsSession::alpn() const {
  const unsigned char* data = nullptr;
  unsigned int len = 0;
  SSL_get0_alpn_selected(ssl_.get(), &data, &len);
  if (data == nullptr) return {};
  return {reinterpret_cast<const char*>(data), len};
}

bool TlsSession::resumed() const {
  return SSL_session_reused(ssl_.get()) == 1;
}

bool TlsSession::has_buffered_input() const {
  return SSL_has_pending(ssl_.get()) == 1 || BIO_ctrl_pending(in_) > 0;
}

bool TlsSession::peer_verified() const {
  return handshake_done() && SSL_get0_peer_certificate(ssl_.get()) != nullptr &&
         SSL_get_verify_mode(ssl_.get()) != SSL_VERIFY_NONE &&
         SSL_get_verify_result(ssl_.get()) == X509_V_OK;
}

std::string TlsSession::peer_subject() const {
  if (!peer_verified()) return {};
  return detail::name_rfc2253(X509_get_subject_name(SSL_get0_peer_certificate(ssl_.get())));
}

std::string TlsSession::peer_fingerprint_sha256() const {
  if (!peer_verified()) return {};
  return detail::fingerprint_sha256(SSL_get0_peer_certificate(ssl_.get()));
}

}  // namespace veer::tls
