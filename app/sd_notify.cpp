#include "app/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace veer::app {
namespace {

// Closes the socket of one notification.
struct Descriptor {
  int fd;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

void set_why(std::string* why, std::string text) {
  if (why != nullptr) *why = std::move(text);
}

}  // namespace

ServiceNotifier::ServiceNotifier(std::string socket_address)
    : address_(std::move(socket_address)) {}

ServiceNotifier ServiceNotifier::from_environment() {
  const char* value = std::getenv("NOTIFY_SOCKET");
  return ServiceNotifier(value != nullptr ? value : "");
}

bool ServiceNotifier::notify(std::string_view assignments, std::string* why) const {
  if (!active()) {
    set_why(why, "NOTIFY_SOCKET is not set");
    return false;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  // "@name" is Linux's abstract namespace: a leading NUL, and the length counts the
  // name's bytes exactly (no terminating NUL).
  const bool abstract = address_.front() == '@';
  if (address_.front() != '/' && !abstract) {
    set_why(why, "NOTIFY_SOCKET=" + address_ + " is neither a path nor an @abstract name");
    return false;
  }
  if (address_.size() >= sizeof address.sun_path) {
    set_why(why, "NOTIFY_SOCKET=" + address_ + " is longer than a socket address");
    return false;
  }
  std::memcpy(address.sun_path, address_.data(), address_.size());
  if (abstract) address.sun_path[0] = '\0';
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                             (abstract ? 0 : 1));
  const Descriptor socket{::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)};
  if (socket.fd < 0) {
    set_why(why, std::string("socket: ") + std::strerror(errno));
    return false;
  }
  const ssize_t sent = ::sendto(socket.fd, assignments.data(), assignments.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&address), length);
  if (sent < 0) {
    set_why(why, "NOTIFY_SOCKET=" + address_ + ": " + std::strerror(errno));
    return false;
  }
  return true;
}

bool ServiceNotifier::ready(std::string_view status, std::string* why) const {
  return notify("READY=1\n" + status_assignment(status), why);
}

bool ServiceNotifier::reloading(std::string_view status, std::string* why) const {
  return notify("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(monotonic_usec()) + "\n" +
                    status_assignment(status),
                why);
}

bool ServiceNotifier::stopping(std::string_view status, std::string* why) const {
  return notify("STOPPING=1\n" + status_assignment(status), why);
}

std::uint64_t monotonic_usec() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000u +
         static_cast<std::uint64_t>(now.tv_nsec) / 1'000u;
}

std::string status_assignment(std::string_view status) {
  std::string line = "STATUS=";
  line.append(status);
  for (std::size_t i = 7; i < line.size(); ++i) {
    if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
  }
  return line + "\n";
}

}  // namespace veer::app
