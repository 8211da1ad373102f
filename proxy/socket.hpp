#pragma once

// The socket type of this binary's I/O engine. The data plane is compiled once per
// engine (docs/ARCHITECTURE.md, "Two binaries for two I/O engines"): `veer` runs on
// Asio's epoll reactor, `veer-io_uring` on veer's own io_uring engine
// (proxy/uring_ring.hpp, proxy/uring_socket.hpp), with the same session code.

#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>

#include "core/asio.hpp"
#include "tls/stream.hpp"
#if defined(VEER_NATIVE_URING)
#include "proxy/uring_socket.hpp"
#endif

namespace veer::proxy {

#if defined(VEER_NATIVE_URING)
using Socket = uring::Socket;
#else
using Socket = tcp::socket;
#endif

// A connection's byte stream (plain, or TLS over the socket).
using Stream = tls::BasicStream<Socket>;

// A client socket the worker accepted: tells Asio it is non-blocking already and never
// duplicated (core::adopt_accepted_socket); the native engine's sockets need nothing.
inline void adopt_accepted([[maybe_unused]] Socket& socket) {
#if !defined(VEER_NATIVE_URING)
  core::adopt_accepted_socket(socket);
#endif
}

// Bytes the peer sent that nobody has read yet: in the kernel, and on io_uring also
// those already received into the socket's queue.
inline std::size_t unread_bytes(Socket& socket) {
  int in_kernel = 0;
  ::ioctl(socket.native_handle(), FIONREAD, &in_kernel);
  std::size_t unread = in_kernel > 0 ? static_cast<std::size_t>(in_kernel) : 0;
#if defined(VEER_NATIVE_URING)
  unread += socket.unread_bytes();
#endif
  return unread;
}

// True when an idle connection's peer has closed it, failed, or sent something
// unasked: it cannot carry a request any more.
inline bool idle_connection_spoke(Socket& socket) {
#if defined(VEER_NATIVE_URING)
  if (socket.received_something()) return true;
#endif
  char byte;
  const ssize_t n = ::recv(socket.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
}

}  // namespace veer::proxy
