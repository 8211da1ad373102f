#include "core/bind_retry.hpp"

#include <cerrno>
#include <thread>

#include "core/log.hpp"

namespace veer::core {

int bind_when_released(const std::string& what, const std::function<int()>& try_bind) {
  const auto deadline = std::chrono::steady_clock::now() + kAddressReleaseWait;
  bool told = false;
  for (;;) {
    const int error = try_bind();
    if (error != EADDRINUSE || std::chrono::steady_clock::now() >= deadline) return error;
    if (!told) {
      log::warn(what, " is still in use; waiting up to ",
                std::chrono::duration_cast<std::chrono::seconds>(kAddressReleaseWait).count(),
                " s for it to be released (a veer that just exited?)");
      told = true;
    }
    // Startup only: a short poll until the kernel lets the old socket go.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace veer::core
