#pragma once

// A connection's byte stream as the sessions see it: a plain TCP socket, or the same
// socket with a TLS session (tls/session.hpp) in between. The TLS layer never owns an
// I/O operation: ciphertext moves only in synchronous non-blocking reads and writes on
// the socket, and the stream waits for readiness (async_wait) when the socket has
// nothing or is full. Both engines provide readiness waits, so epoll and io_uring carry
// TLS with the same code, and no ciphertext buffer is ever held across a wait:
// ciphertext in goes through the worker's scratch buffer straight into the session's
// memory BIO; ciphertext out is written from the session's output BIO while nothing
// else touches the session. An idle TLS connection therefore costs its SSL object and
// nothing more.
//
// The operations mirror Asio's (async_read_some, async_write, async_wait for
// readability, non-blocking read_some) so the sessions call them the same way for
// both kinds. Handlers are called through the socket's executor, never inline.
//
// The one Asio-facing file of tls/: header-only, so the veer_tls library stays free
// of Asio and of the engine choice, and the data plane and the health checker (which
// speaks TLS to pools that want it) share it. A Stream may be moved only while no
// operation is pending on it (handlers refer to it).

#include <boost/system/errc.hpp>

#include <memory>
#include <span>
#include <utility>

#include "core/asio.hpp"
#include "tls/session.hpp"

namespace veer::tls {

// The error of a failed TLS handshake or record; TlsSession::error() says why.
inline error_code tls_error() {
  return make_error_code(boost::system::errc::protocol_error);
}

// Writes all of `buffers` on an Asio socket; the native engine's socket has its own
// (proxy/uring_socket.hpp), found by argument-dependent lookup.
template <typename Buffers, typename Handler>
void async_write_all(tcp::socket& socket, const Buffers& buffers, Handler&& handler) {
  asio::async_write(socket, buffers, std::forward<Handler>(handler));
}

// `Socket` is Asio's tcp::socket or the native io_uring engine's socket: both offer the
// operations used here.
template <typename Socket>
class BasicStream {
 public:
  explicit BasicStream(Socket socket) : socket_(std::move(socket)) {}
  BasicStream(BasicStream&&) = default;
  BasicStream& operator=(BasicStream&&) = default;

  Socket& socket() { return socket_; }
  bool is_open() const { return socket_.is_open(); }
  // The TLS session, or null on a plain connection.
  TlsSession* tls() const { return tls_.get(); }

  // From here on the stream speaks TLS. `scratch` is the worker's buffer for
  // ciphertext in transit (any size works; one TLS record, 16.5 KiB, saves reads).
  void start_tls(std::unique_ptr<TlsSession> session, std::span<char> scratch) {
    tls_ = std::move(session);
    scratch_ = scratch;
    error_code ignored;
    if (!socket_.non_blocking()) socket_.non_blocking(true, ignored);  // an ioctl: once
  }

  // Runs the TLS handshake to its end: handler(error_code).
  template <typename Handler>
  void async_handshake(Handler&& handler) {
    error_code ec;
    while (true) {
      const TlsSession::Handshake state = tls_->handshake();
      const bool flushed = flush(ec);
      if (state == TlsSession::Handshake::failed) {
        complete(std::forward<Handler>(handler), tls_error());
        return;
      }
      if (ec) break;
      if (!flushed) {  // the socket is full: finish writing, then go on
        socket_.async_wait(tcp::socket::wait_write,
                           [this, h = std::move(handler)](const error_code& e) mutable {
                             if (e) return h(e);
                             async_handshake(std::move(h));
                           });
        return;
      }
      if (state == TlsSession::Handshake::done) break;
      if (!fill(ec)) {
        if (ec) break;
        socket_.async_wait(tcp::socket::wait_read,
                           [this, h = std::move(handler)](const error_code& e) mutable {
                             if (e) return h(e);
                             async_handshake(std::move(h));
                           });
        return;
      }
    }
    complete(std::forward<Handler>(handler), ec);
  }

  // Completes when a read_some is worth trying: bytes on the socket or already
  // decrypted data waiting in the TLS session.
  template <typename Handler>
  void async_wait_readable(Handler&& handler) {
    if (tls_ && tls_->has_buffered_input()) {
      complete(std::forward<Handler>(handler), error_code{});
      return;
    }
    socket_.async_wait(tcp::socket::wait_read, std::forward<Handler>(handler));
  }

  // Non-blocking: what is available now, or would_block.
  std::size_t read_some(asio::mutable_buffer buffer, error_code& ec) {
    if (!tls_) return socket_.read_some(buffer, ec);
    ec = {};
    while (true) {
      const TlsSession::IoResult r =
          tls_->read_plain({static_cast<char*>(buffer.data()), buffer.size()});
      error_code flush_error;
      flush(flush_error);  // a KeyUpdate answer; what does not fit goes with the next write
      switch (r.status) {
        case TlsSession::Io::ok:
          return r.bytes;
        case TlsSession::Io::closed:
          ec = asio::error::eof;
          return 0;
        case TlsSession::Io::failed:
          ec = tls_error();
          return 0;
        case TlsSession::Io::want_input:
          if (!fill(ec)) {
            if (!ec) ec = asio::error::would_block;
            return 0;
          }
      }
    }
  }

  template <typename Handler>
  void async_read_some(asio::mutable_buffer buffer, Handler&& handler) {
    if (!tls_) {
      socket_.async_read_some(buffer, std::forward<Handler>(handler));
      return;
    }
    error_code ec;
    const std::size_t n = read_some(buffer, ec);
    if (ec != asio::error::would_block) {
      complete(std::forward<Handler>(handler), ec, n);
      return;
    }
    socket_.async_wait(tcp::socket::wait_read,
                       [this, buffer, h = std::move(handler)](const error_code& e) mutable {
                         if (e) return h(e, std::size_t{0});
                         async_read_some(buffer, std::move(h));
                       });
  }

  // Writes every byte of `buffers`: handler(error_code, bytes).
  template <typename Buffers, typename Handler>
  void async_write(const Buffers& buffers, Handler&& handler) {
    if (!tls_) {
      async_write_all(socket_, buffers, std::forward<Handler>(handler));
      return;
    }
    std::size_t total = 0;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      const asio::const_buffer piece(*it);
      if (piece.size() == 0) continue;
      if (tls_->write_plain({static_cast<const char*>(piece.data()), piece.size()}).status !=
          TlsSession::Io::ok) {
        complete(std::forward<Handler>(handler), tls_error(), std::size_t{0});
        return;
      }
      total += piece.size();
    }
    finish_write(total, std::forward<Handler>(handler));
  }

  // Queues a TLS close_notify and sends what fits now (a graceful close).
  void close_notify() {
    if (!tls_ || !tls_->handshake_done()) return;
    tls_->close_notify();
    error_code ignored;
    flush(ignored);
  }

 private:
  template <typename Handler>
  void finish_write(std::size_t total, Handler&& handler) {
    error_code ec;
    if (flush(ec) || ec) {
      complete(std::forward<Handler>(handler), ec, ec ? 0 : total);
      return;
    }
    socket_.async_wait(tcp::socket::wait_write,
                       [this, total, h = std::move(handler)](const error_code& e) mutable {
                         if (e) return h(e, std::size_t{0});
                         finish_write(total, std::move(h));
                       });
  }

  // Writes pending ciphertext without waiting. True when none is left.
  bool flush(error_code& ec) {
    while (true) {
      const std::span<const char> out = tls_->pending_output();
      if (out.empty()) return true;
      const std::size_t n = socket_.write_some(asio::buffer(out.data(), out.size()), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        ec = {};
        return false;
      }
      if (ec) return false;
      tls_->consume_output(n);
    }
  }

  // Moves what the socket holds into the TLS session. False when nothing came
  // (ec says whether it was an error or simply nothing yet).
  bool fill(error_code& ec) {
    const std::size_t n = socket_.read_some(asio::buffer(scratch_.data(), scratch_.size()), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      ec = {};
      return false;
    }
    if (ec) return false;
    tls_->feed(scratch_.first(n));
    return true;
  }

  template <typename Handler, typename... Args>
  void complete(Handler&& handler, Args... args) {
    asio::post(socket_.get_executor(),
               [h = std::forward<Handler>(handler), args...]() mutable { h(args...); });
  }

  Socket socket_;
  std::unique_ptr<TlsSession> tls_;
  std::span<char> scratch_;
};

// The stream over an Asio socket (the health checker's probes).
using Stream = BasicStream<tcp::socket>;

}  // namespace veer::tls
