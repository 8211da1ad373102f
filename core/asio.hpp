#pragma once

// The one way the data plane includes Asio. The engine (epoll or io_uring) is chosen
// when this is compiled (BOOST_ASIO_HAS_IO_URING + BOOST_ASIO_DISABLE_EPOLL for the
// io_uring binary), which is why files including it are compiled once per engine;
// see docs/ARCHITECTURE.md. Asio is compiled separately (core/asio_impl.cpp) so
// that each file does not recompile its implementation.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <sys/socket.h>

#include <cstring>

// Asio's names as every layer that does I/O spells them.
namespace veer {
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
}  // namespace veer

namespace veer::core {

// The name of the engine this file was compiled for: the data plane's sockets run on
// Asio's epoll reactor, or on veer's native io_uring engine (proxy/uring_*.hpp) with
// Asio's epoll reactor still carrying timers, posts and the threads off the data plane.
#if defined(VEER_NATIVE_URING)
inline constexpr const char* kCompiledEngine = "io_uring";
#else
inline constexpr const char* kCompiledEngine = "epoll";
#endif

inline constexpr bool kIoUring = kCompiledEngine[0] == 'i';

// The endpoint of a socket address kept as plain bytes (conf::SocketAddress keeps its
// addresses so, free of Asio). `length` is at most sizeof(sockaddr_in6): resolved
// IPv4 or IPv6 addresses only.
inline tcp::endpoint to_endpoint(const sockaddr* address, socklen_t length) {
  tcp::endpoint endpoint;
  std::memcpy(endpoint.data(), address, length);
  endpoint.resize(length);
  return endpoint;
}

// Tells Asio what veer knows of a client socket it accepted itself with
// accept4(SOCK_NONBLOCK) and never duplicates, which saves two syscalls per connection
// (issue 18, the close path; nginx makes neither):
// - the ioctl(FIONBIO) of non_blocking(true): the descriptor is non-blocking already,
//   so only Asio's flag is set (what non_blocking(true) sets after its ioctl);
// - the epoll_ctl(EPOLL_CTL_DEL) before close(): Asio deregisters an adopted descriptor
//   explicitly ("possible_dup": a dup()'s close would leave it in the epoll set), but
//   the only descriptor of a socket leaves the set when it is closed.
// Reaches into Asio 1.81's socket state (the protected impl_ and its state_ bits); an
// Asio that renames them fails to compile here, not at run time.
template <typename Socket>
void adopt_accepted_socket(Socket& socket) {
  struct Access : Socket {
    static auto& state(Socket& s) { return (s.*&Access::impl_).get_implementation().state_; }
  };
  namespace ops = asio::detail::socket_ops;
  auto& state = Access::state(socket);
  state |= ops::user_set_non_blocking;
  state &= static_cast<ops::state_type>(~ops::possible_dup);
}

// Ending a socket's I/O, for every socket type the code base uses (Asio's sockets and
// acceptors, the native engine's proxy::uring::Socket): pending operations complete
// with operation_aborted. Asio's own io_uring backend (Boost 1.81), which mishandled
// cancelling operations in flight, is no longer built (docs/ARCHITECTURE.md).

// Ends the connection now.
template <typename Socket>
void close_socket(Socket& socket) {
  error_code ignored;
  socket.close(ignored);
}

// Makes the pending operations of a socket complete (a timeout), without closing it.
template <typename Socket>
void interrupt_socket(Socket& socket) {
  error_code ignored;
  socket.cancel(ignored);
}

}  // namespace veer::core
