#pragma once

// Listening sockets are bound on the main thread, one per worker per listener with
// SO_REUSEPORT, and handed to the workers. Binding up front lets a reload refuse an
// address it cannot bind before anything changes, and lets "host:0" (tests) resolve
// to one ephemeral port shared by every worker's socket.

#include <string>
#include <utility>
#include <vector>

#include "conf/config.hpp"
#include "core/unique_fd.hpp"

namespace veer::proxy {

struct BoundListener {
  std::string name;
  std::string configured_address;       // as written in the config
  conf::SocketAddress local_address;    // as bound (the real port when 0 was asked for)
  std::vector<core::UniqueFd> sockets;  // one per worker
};

// Binds `count` listening sockets for `listener`. On failure returns false with *why.
bool bind_listener(const conf::ListenerConfig& listener, unsigned count, BoundListener& out,
                   std::string* why);

}  // namespace veer::proxy
