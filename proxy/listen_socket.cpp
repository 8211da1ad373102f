#include "proxy/listen_socket.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "core/bind_retry.hpp"
#include "core/log.hpp"

namespace veer::proxy {
namespace {

// The kernel caps this at net.core.somaxconn; asking for more costs nothing and keeps
// bursts of new connections from being refused before a worker gets to them.
constexpr int kListenBacklog = 65535;

void set_port(conf::SocketAddress& address, std::uint16_t port) {
  if (address.family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&address.storage)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(&address.storage)->sin6_port = htons(port);
  }
}

core::UniqueFd open_one(const conf::SocketAddress& address, std::string* why) {
  core::UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    *why = std::string("socket: ") + std::strerror(errno);
    return core::UniqueFd{};
  }
  const int one = 1;
  // TCP_NODELAY on the listener is inherited by accepted sockets: veer writes whole
  // heads and body pieces, so Nagle would only add latency.
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
      ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0) {
    *why = std::string("setsockopt: ") + std::strerror(errno);
    return core::UniqueFd{};
  }
  if (::bind(fd.get(), address.data(), address.length) != 0) {
    *why = "cannot bind " + address.to_string() + ": " + std::strerror(errno);
    return core::UniqueFd{};
  }
  if (::listen(fd.get(), kListenBacklog) != 0) {
    *why = "cannot listen on " + address.to_string() + ": " + std::strerror(errno);
    return core::UniqueFd{};
  }
  return fd;
}

// SO_REUSEPORT lets any process of the same user bind the same address and silently
// take a share of its connections: a second veer started by mistake would. A probe
// bound without SO_REUSEPORT fails if anyone listens there already.
bool address_is_free(const conf::SocketAddress& address, std::string* why) {
  const int error = core::bind_when_released(address.to_string(), [&] {
    core::UniqueFd probe(::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int one = 1;
    ::setsockopt(probe.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    return ::bind(probe.get(), address.data(), address.length) == 0 ? 0 : errno;
  });
  if (error == 0) return true;
  *why = "cannot bind " + address.to_string() + ": " + std::strerror(error) +
         (error == EADDRINUSE ? " (another process listens there)" : "");
  return false;
}

}  // namespace

bool bind_listener(const conf::ListenerConfig& listener, unsigned count, BoundListener& out,
                   std::string* why) {
  out.name = listener.name;
  out.configured_address = listener.address;
  std::optional<conf::SocketAddress> address = conf::resolve(listener.host_port, why);
  if (!address) return false;
  if (address->port() != 0 && !address_is_free(*address, why)) {
    *why = "listener " + listener.name + ": " + *why;
    return false;
  }
  for (unsigned i = 0; i < count; ++i) {
    core::UniqueFd fd = open_one(*address, why);
    if (fd.get() < 0) {
      *why = "listener " + listener.name + ": " + *why;
      return false;
    }
    if (i == 0) {
      // With port 0 the kernel picked one: the other workers' sockets must share it.
      sockaddr_storage bound{};
      socklen_t length = sizeof bound;
      ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&bound), &length);
      std::memcpy(&out.local_address.storage, &bound, length);
      out.local_address.length = length;
      set_port(*address, out.local_address.port());
    }
    out.sockets.push_back(std::move(fd));
  }
  return true;
}

}  // namespace veer::proxy
