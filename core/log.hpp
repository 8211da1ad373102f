#pragma once

// The process log: one line per event, "TIME LEVEL message", on stderr or in the file
// named by server.log. Not for the request path (the access log is separate, buffered
// and per worker): every function here is safe from any thread, and a line is written
// under one lock with a single write(2), so lines never interleave and a reopen never
// closes a file that a write is using.

#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace veer::core::log {

enum class Level { debug, info, warn, error };

// "debug", "info", "warn" or "error" (VEER_LOG's values); nullopt for anything else.
std::optional<Level> parse_level(std::string_view name);
void set_min_level(Level level);

// Sends the log to `destination`: "stderr", or a file path opened for appending and
// created with mode 0640 (less the umask). On failure returns false with *why and the
// log stays where it was. Opening the current file again is how a reload reopens it.
bool open_file(const std::string& destination, std::string* why);
// Opens the current file's path again (nothing to do on stderr): after logrotate has
// moved the file, the next lines go to a new file at the old path. Call on SIGUSR1 and
// SIGHUP. On failure returns false with *why and the old file stays in use.
bool reopen_file(std::string* why);
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

}  // namespace veer::core::log
