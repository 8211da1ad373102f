#pragma once

// A TCP socket of the native io_uring engine, with the part of Asio's tcp::socket the
// data plane uses (proxy/socket.hpp picks one of the two per binary), so sessions,
// tunnels and tls::BasicStream are the same code on both engines.
//
// Reading: one multishot receive into the ring's provided buffers stays armed while
// the owner wants bytes; completions queue (buffer id, length) chunks here, and reads
// copy out of them and give each buffer back as soon as it is empty. An idle
// connection therefore holds no buffer, and reading costs no system call of its own.
// Backpressure: when more than kMaxQueuedChunks chunks wait unread, the receive is
// cancelled, and armed again when the owner reads. When the kernel runs out of
// buffers it ends the receive (ENOBUFS); the socket waits on the ring for buffers to
// come back and arms it again: the bytes stay in the kernel meanwhile, nothing is lost.
//
// Writing: async_write_all sends the whole buffer sequence with SENDMSG (prepared now,
// submitted with the turn's other entries), continuing after partial sends.
// async_wait(wait_write) is a POLL_ADD; async_connect a CONNECT. Synchronous read_some
// and write_some never block (the TLS layer's calls).
//
// Lifetime: the socket's state outlives the handle while anything of it is in the
// kernel. close() cancels what is in flight (ASYNC_CANCEL by the operation's own
// user_data, which points into this state and so is never stale) and the descriptor
// closes after the last completion. Handlers get operation_aborted, as with Asio.

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/asio.hpp"
#include "proxy/uring_handler.hpp"
#include "proxy/uring_ring.hpp"

namespace veer::proxy::uring {

class SocketState;

class Socket {
 public:
  using executor_type = asio::io_context::executor_type;
  using Handler = InlineHandler<const error_code&, std::size_t>;
  static constexpr std::size_t kMaxWriteBuffers = 8;

  explicit Socket(asio::io_context& io);
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  ~Socket();

  executor_type get_executor() const { return io_->get_executor(); }
  bool is_open() const;
  int native_handle() const;

  // Takes an accepted or connected descriptor.
  void assign(const tcp& protocol, int fd, error_code& ec);
  void close(error_code& ec);
  // Pending operations complete with operation_aborted; the socket stays open.
  void cancel(error_code& ec);
  void shutdown(tcp::socket::shutdown_type what, error_code& ec);
  void non_blocking(bool, error_code& ec) { ec = {}; }  // synchronous calls never block
  bool non_blocking() const { return true; }
  template <typename Option>
  void set_option(const Option& option, error_code& ec) {
    const tcp protocol = tcp::v4();
    ec = set_option_raw(option.level(protocol), option.name(protocol), option.data(protocol),
                        static_cast<socklen_t>(option.size(protocol)));
  }
  tcp::endpoint local_endpoint(error_code& ec) const;

  // Non-blocking: what has arrived, or would_block (eof / the error once they came).
  std::size_t read_some(asio::mutable_buffer buffer, error_code& ec);
  std::size_t write_some(asio::const_buffer buffer, error_code& ec);
  // Bytes received and not yet read.
  std::size_t unread_bytes() const;
  // Bytes, the end of the stream or an error arrived and were not read yet.
  bool received_something() const;

  template <typename H>
  void async_read_some(asio::mutable_buffer buffer, H&& handler) {
    Handler& slot = read_slot();
    slot.emplace(std::forward<H>(handler));
    start_read(static_cast<char*>(buffer.data()), buffer.size());
  }
  template <typename H>
  void async_wait(tcp::socket::wait_type what, H&& handler) {
    auto adapted = [h = std::forward<H>(handler)](const error_code& ec, std::size_t) mutable {
      h(ec);
    };
    if (what == tcp::socket::wait_write) {
      write_slot().emplace(std::move(adapted));
      start_wait_writable();
    } else {
      read_slot().emplace(std::move(adapted));
      start_read(nullptr, 0);
    }
  }
  template <typename H>
  void async_connect(const tcp::endpoint& peer, H&& handler) {
    write_slot().emplace(
        [h = std::forward<H>(handler)](const error_code& ec, std::size_t) mutable { h(ec); });
    start_connect(peer);
  }
  // Writes every byte of `buffers` (at most kMaxWriteBuffers pieces): handler(ec, bytes).
  template <typename Buffers, typename H>
  void async_write_all(const Buffers& buffers, H&& handler) {
    write_slot().emplace(std::forward<H>(handler));
    iovec pieces[kMaxWriteBuffers];
    std::size_t count = 0;
    bool fits = true;
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      const asio::const_buffer piece(*it);
      if (piece.size() == 0) continue;
      if (count == kMaxWriteBuffers) {
        fits = false;
        break;
      }
      pieces[count++] = iovec{const_cast<void*>(piece.data()), piece.size()};
    }
    start_write(pieces, fits ? count : kMaxWriteBuffers + 1);
  }

 private:
  Handler& read_slot();
  Handler& write_slot();
  void start_read(char* data, std::size_t size);
  void start_wait_writable();
  void start_connect(const tcp::endpoint& peer);
  void start_write(const iovec* pieces, std::size_t count);
  error_code set_option_raw(int level, int name, const void* data, socklen_t size);

  asio::io_context* io_;
  std::unique_ptr<SocketState> state_;
};

// tls::BasicStream writes through this on both engines.
template <typename Buffers, typename H>
void async_write_all(Socket& socket, const Buffers& buffers, H&& handler) {
  socket.async_write_all(buffers, std::forward<H>(handler));
}

}  // namespace veer::proxy::uring
