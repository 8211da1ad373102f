#pragma once

// Binding an address that a process which just exited may still hold.

#include <chrono>
#include <functional>
#include <string>

namespace veer::core {

// How long a start waits for an address that is still taken. A veer killed with -9
// while io_uring operations were pending keeps its sockets until the kernel tears its
// ring down, asynchronously, a moment after the process is gone: a supervisor's
// immediate restart would otherwise be refused "Address already in use".
inline constexpr std::chrono::milliseconds kAddressReleaseWait{3000};

// Calls `try_bind` until it succeeds or fails for another reason than EADDRINUSE, for
// at most kAddressReleaseWait; logs once while it waits. `try_bind` returns 0 or errno.
int bind_when_released(const std::string& what, const std::function<int()>& try_bind);

}  // namespace veer::core
