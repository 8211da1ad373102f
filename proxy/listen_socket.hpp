#pragma once

// Listening sockets are bound on the main thread, one per worker per listener with
// SO_REUSEPORT, and handed to the workers. Binding up front lets a reload refuse an
// address it cannot bind before anything changes, and lets "host:0" (tests) resolve
// to one ephemeral port shared by every worker's socket.

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

// Binds `count` listening sockets for `listener`. On failure returns false with *why.
bool bind_listener(const conf::ListenerConfig& listener, unsigned count, BoundListener& out,
                   std::string* why);

}  // namespace veer::proxy
