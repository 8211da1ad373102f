#pragma once

// Small helpers the integration tests share: a bounded poll, and one sample of a
// Prometheus text page.

#include <chrono>
#include <optional>
#include <string>
#include <thread>

namespace veer::test {

// Polls `done` until it holds or `timeout` passes. The pause between polls is bounded by
// the deadline: it waits for a state that has no event to wait on (a process's log, a
// file on disk, a counter in /metrics), never for a fixed time.
template <typename Condition>
bool poll_until(Condition done,
                std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

// The value of `series` (name and labels exactly as printed) in a /metrics page.
inline std::optional<double> sample(const std::string& text, const std::string& series) {
  const std::string prefix = series + " ";
  for (std::size_t at = 0; at < text.size();) {
    const std::size_t end = text.find('\n', at);
    const std::string line = text.substr(at, end - at);
    if (line.starts_with(prefix)) return std::stod(line.substr(prefix.size()));
    if (end == std::string::npos) break;
    at = end + 1;
  }
  return std::nullopt;
}

}  // namespace veer::test
