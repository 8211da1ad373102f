#include "backend_process.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

namespace veer::test {

std::uint16_t free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  std::uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

BackendProcess::BackendProcess(std::string name) : name_(std::move(name)), port_(free_port()) {
  restart();
}

bool BackendProcess::restart() {
  process_.reset();
  process_ = std::make_unique<VeerProcess>(
      "", VeerOptions{.command = {"demo-backend", "--listen", address(), "--name", name_}});
  return process_->wait_for_log("listening on", 10s);
}

}  // namespace veer::test
