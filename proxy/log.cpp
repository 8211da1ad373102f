#include "proxy/log.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <ctime>
#include <string>

namespace veer::log {
namespace {

std::atomic<Level> g_min_level{Level::info};

const char* name_of(Level level) {
  switch (level) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "?";
}

}  // namespace

void set_min_level(Level level) {
  g_min_level.store(level, std::memory_order_relaxed);
}

bool enabled(Level level) {
  return level >= g_min_level.load(std::memory_order_relaxed);
}

void format_utc_now(char (&out)[25]) {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const std::time_t seconds = system_clock::to_time_t(now);
  const auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S", &tm);
  out[19] = '.';
  out[20] = static_cast<char>('0' + millis / 100);
  out[21] = static_cast<char>('0' + millis / 10 % 10);
  out[22] = static_cast<char>('0' + millis % 10);
  out[23] = 'Z';
  out[24] = '\0';
}

void write(Level level, std::string_view message) {
  char time[25];
  format_utc_now(time);
  std::string line;
  line.reserve(message.size() + 40);
  line.append(time, 24).append(" ").append(name_of(level)).append(" ").append(message);
  line.push_back('\n');
  // One write per line: concurrent lines from several threads stay whole.
  const ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

}  // namespace veer::log
