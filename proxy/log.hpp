#pragma once

// The process log: one line per event on stderr, "TIME LEVEL message". Not for the
// request path (the access log is separate, buffered and per worker); a line is
// written with a single write(2) so lines from different threads never interleave.

#include <sstream>
#include <string_view>

namespace veer::log {

enum class Level { debug, info, warn, error };

void set_min_level(Level level);
bool enabled(Level level);
void write(Level level, std::string_view message);

template <typename... Args>
void emit(Level level, const Args&... args) {
  if (!enabled(level)) return;
  std::ostringstream line;
  (line << ... << args);
  write(level, line.str());
}

template <typename... Args>
void debug(const Args&... args) {
  emit(Level::debug, args...);
}
template <typename... Args>
void info(const Args&... args) {
  emit(Level::info, args...);
}
template <typename... Args>
void warn(const Args&... args) {
  emit(Level::warn, args...);
}
template <typename... Args>
void error(const Args&... args) {
  emit(Level::error, args...);
}

// "2026-11-23T18:54:00.123Z" for the current time; writes 24 characters to `out`.
void format_utc_now(char (&out)[25]);

}  // namespace veer::log
