// What both engines' acceptors do when they stop taking connections for a while
// (proxy/acceptor.hpp): out of descriptors, or out of room in the worker's budget.
#include <cstdio>

#include "core/log.hpp"
#include "proxy/acceptor.hpp"

namespace veer::proxy {
namespace {

// How often a paused acceptor looks again: retrying at once would spin.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
// At a full budget each closing client lets one in and the acceptor pauses again.
constexpr auto kPauseLogEvery = std::chrono::seconds(10);

}  // namespace

std::uint64_t listen_queue_limit() {
  // The kernel caps every listen backlog at net.core.somaxconn (4096 by default).
  static const std::uint64_t limit = [] {
    std::uint64_t value = 4096;
    if (std::FILE* file = std::fopen("/proc/sys/net/core/somaxconn", "re")) {
      unsigned long long read = 0;
      if (std::fscanf(file, "%llu", &read) == 1 && read > 0) value = read;
      std::fclose(file);
    }
    return value;
  }();
  return limit;
}

void Acceptor::retry_later() {
  backoff_.expires_after(kAcceptBackoff);
  backoff_.async_wait([this](const error_code& ec) {
    if (ec || !open_) return;
    if (room_() > 0) {
      wait();
    } else {
      retry_later();
    }
  });
}

void Acceptor::pause_for_room() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_pause_log_) {
    ++pauses_unlogged_;
  } else {
    const std::string since =
        pauses_unlogged_ == 0
            ? std::string()
            : " (paused " + std::to_string(pauses_unlogged_) + " more times since the last line)";
    core::log::warn(owner_, ": pausing accepts on ", name_,
                    ": its clients and their backends hold the descriptors the open file "
                    "limit leaves it; new connections wait in the listen queue",
                    since);
    next_pause_log_ = now + kPauseLogEvery;
    pauses_unlogged_ = 0;
  }
  retry_later();
}

}  // namespace veer::proxy
