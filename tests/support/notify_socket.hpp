#pragma once

// A fake service manager's notification socket ($NOTIFY_SOCKET): an AF_UNIX datagram
// socket bound at a path or, for "@name", in the abstract namespace. Each datagram is
// returned with the pid that sent it (SO_PASSCRED), as systemd checks it (NotifyAccess=main).

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstddef>
#include <cstring>
#include <optional>
#include <string>

namespace veer::test {

struct Notification {
  std::string text;
  pid_t sender = 0;

  // The value of KEY in the datagram ("READY" -> "1"), or nullopt.
  std::optional<std::string> get(const std::string& key) const {
    const std::string prefix = key + "=";
    for (std::size_t at = 0; at < text.size();) {
      std::size_t end = text.find('\n', at);
      if (end == std::string::npos) end = text.size();
      if (text.compare(at, prefix.size(), prefix) == 0)
        return text.substr(at + prefix.size(), end - at - prefix.size());
      at = end + 1;
    }
    return std::nullopt;
  }
};

class NotifySocket {
 public:
  // `address`: a file path, or "@name" (abstract).
  explicit NotifySocket(std::string address) : address_(std::move(address)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    std::memcpy(sun.sun_path, address_.data(), address_.size());
    const bool abstract = address_.front() == '@';
    if (abstract) sun.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                               (abstract ? 0 : 1));
    bound_ = ::bind(fd_, reinterpret_cast<const sockaddr*>(&sun), length) == 0;
    const int on = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_PASSCRED, &on, sizeof on);
  }
  ~NotifySocket() {
    ::close(fd_);
    if (address_.front() == '/') ::unlink(address_.c_str());
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  bool bound() const { return bound_; }
  const std::string& address() const { return address_; }
  // "NOTIFY_SOCKET=<address>", for a child's environment.
  std::string env() const { return "NOTIFY_SOCKET=" + address_; }

  // The next datagram, waiting at most `timeout`; nullopt if none came.
  std::optional<Notification> receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char data[4096];
    iovec io{data, sizeof data};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
    msghdr message{};
    message.msg_iov = &io;
    message.msg_iovlen = 1;
    message.msg_control = control;
    message.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd_, &message, 0);
    if (n < 0) return std::nullopt;
    Notification out{std::string(data, static_cast<std::size_t>(n)), 0};
    for (cmsghdr* c = CMSG_FIRSTHDR(&message); c != nullptr; c = CMSG_NXTHDR(&message, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
        ucred credentials{};
        std::memcpy(&credentials, CMSG_DATA(c), sizeof credentials);
        out.sender = credentials.pid;
      }
    }
    return out;
  }

  // The next datagram that sets `key`, skipping others (STATUS-only updates); nullopt
  // if none came within `timeout`.
  std::optional<Notification> receive_with(const std::string& key,
                                           std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      std::optional<Notification> next = receive(left);
      if (!next || next->get(key)) return next;
    }
  }

 private:
  std::string address_;
  int fd_ = -1;
  bool bound_ = false;
};

}  // namespace veer::test
