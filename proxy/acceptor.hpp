#pragma once

// One listening socket on one io_context, handing each accepted connection to a
// callback. On epoll (acceptor.cpp) it waits until the socket is readable and accepts in
// batches with accept4(SOCK_NONBLOCK); on the native io_uring engine
// (uring_acceptor.cpp) one multishot ACCEPT stays armed and each completion is a
// connection, with no system call of its own but getpeername. What becomes of
// a connection (the connection limit, the session) is the callback's business.

#include <sys/socket.h>

#include <functional>
#include <string>

#include "core/asio.hpp"
#include "core/unique_fd.hpp"
#if defined(VEER_NATIVE_URING)
#include "proxy/uring_ring.hpp"
#endif

namespace veer::proxy {

// The longest listen queue the kernel keeps (net.core.somaxconn), read once.
std::uint64_t listen_queue_limit();

class Acceptor {
 public:
  // Runs on the io_context's thread with each accepted connection (non-blocking,
  // close-on-exec) and its peer. `listener` is the acceptor's name, which lives as long
  // as the acceptor. A raw descriptor rather than an Asio socket: a connection refused
  // at once costs no registration with the reactor.
  using OnAccept = std::function<void(const std::string& listener, core::UniqueFd connection,
                                      const sockaddr_storage& peer)>;

  // How many more connections the owner has descriptors to serve, asked before each is
  // taken. At 0 new connections wait in the listen queue, and it is asked again every
  // 100 ms until there is room.
  using Room = std::function<std::uint64_t()>;

  // `owner` names who accepts, for log lines ("worker 3").
  Acceptor(asio::io_context& io, std::string name, std::string owner, Room room,
           OnAccept on_accept);
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  // Takes the listening socket `fd` of address family `family`; closes it on failure.
  error_code assign(int fd, int family);
  // Starts waiting for connections; they reach the callback until stop().
  void start();
  // Stops accepting. With a wait pending the socket closes in the wait's handler (see
  // core::close_socket); otherwise it closes now.
  void stop();

  const std::string& name() const { return name_; }
  bool open() const { return open_; }

 private:
  void wait();
  // Waits 100 ms, then waits for connections again if there is room.
  void retry_later();
  // No room: stop taking connections and say so (one line per 10 s at most).
  void pause_for_room();
#if !defined(VEER_NATIVE_URING)
  void accept_ready();
#endif

#if defined(VEER_NATIVE_URING)
  struct AcceptOp final : uring::Operation {
    explicit AcceptOp(Acceptor& a) : acceptor(a) {}
    void on_completion(int result, std::uint32_t flags) override {
      acceptor.on_accept(result, flags);
    }
    Acceptor& acceptor;
  };
  void on_accept(int result, std::uint32_t flags);
  void cancel_accept();
  uring::Ring& ring_;
  core::UniqueFd listen_fd_;
  AcceptOp accept_op_{*this};
  bool armed_ = false;
  bool multishot_ = false;  // the armed accept takes every queued connection
  bool cancelled_ = false;
#endif
  std::string name_;  // kept after close: sessions of this listener point at it
  std::string owner_;
#if !defined(VEER_NATIVE_URING)
  tcp::acceptor socket_;
#endif
  asio::steady_timer backoff_;
  Room room_;
  OnAccept on_accept_;
  std::chrono::steady_clock::time_point next_pause_log_{};
  std::uint64_t pauses_unlogged_ = 0;
  bool open_ = true;
  bool waiting_ = false;  // an async_wait is pending on the socket
};

}  // namespace veer::proxy
