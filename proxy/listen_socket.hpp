#pragma once

// Listening sockets are bound on the main thread, one per worker per listener with
// SO_REUSEPORT, and handed to the workers. Binding up front lets a reload refuse an
// address it cannot bind before anything changes, and lets "host:0" (tests) resolve
// to one ephemeral port shared by every worker's socket.

#include <chrono>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "conf/config.hpp"

namespace veer::proxy {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

struct BoundListener {
  std::string name;
  std::string configured_address;     // as written in the config
  conf::SocketAddress local_address;  // as bound (the real port when 0 was asked for)
  std::vector<UniqueFd> sockets;      // one per worker
};

// How long a start waits for an address that is still taken. A veer killed with -9
// while io_uring operations were pending keeps its sockets until the kernel tears its
// ring down, asynchronously, a moment after the process is gone: a supervisor's
// immediate restart would otherwise be refused "Address already in use".
inline constexpr std::chrono::milliseconds kAddressReleaseWait{3000};

// Calls `try_bind` until it succeeds or fails for another reason than EADDRINUSE, for
// at most kAddressReleaseWait; logs once while it waits. `try_bind` returns 0 or errno.
int bind_when_released(const std::string& what, const std::function<int()>& try_bind);

// Binds `count` listening sockets for `listener`. On failure returns false with *why.
bool bind_listener(const conf::ListenerConfig& listener, unsigned count, BoundListener& out,
                   std::string* why);

}  // namespace veer::proxy
