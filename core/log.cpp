#include "core/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <mutex>
#include <string>
#include <system_error>

#include "core/unique_fd.hpp"

namespace veer::core::log {
namespace {

std::atomic<Level> g_min_level{Level::info};

// Where lines go. Every access holds the mutex: logging is rare next to requests, and the
// lock is what lets reopen_file close the old file while other threads log.
struct Destination {
  std::mutex mutex;
  std::string path;  // "" = stderr
  UniqueFd file;     // open while path is set
  int fd() const { return path.empty() ? STDERR_FILENO : file.get(); }
};

Destination& destination() {
  static Destination instance;
  return instance;
}

// The caller holds the destination's mutex, so two reopens cannot race.
bool open_locked(Destination& to, const std::string& where, std::string* why) {
  if (where == "stderr") {
    to.file.reset();
    to.path.clear();
    return true;
  }
  // 0640: operators in the file's group (adm, say) may read it; other users may not.
  UniqueFd file(::open(where.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (file.get() < 0) {
    *why = "cannot open log file " + where + ": " +
           std::error_code(errno, std::generic_category()).message();
    return false;
  }
  to.file = std::move(file);
  to.path = where;
  return true;
}

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

std::optional<Level> parse_level(std::string_view name) {
  for (const Level level : {Level::debug, Level::info, Level::warn, Level::error}) {
    if (name == name_of(level)) return level;
  }
  return std::nullopt;
}

bool open_file(const std::string& where, std::string* why) {
  Destination& to = destination();
  std::lock_guard lock(to.mutex);
  return open_locked(to, where, why);
}

bool reopen_file(std::string* why) {
  Destination& to = destination();
  std::lock_guard lock(to.mutex);
  if (to.path.empty()) return true;
  const std::string path = to.path;
  return open_locked(to, path, why);
}

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
  Destination& to = destination();
  std::lock_guard lock(to.mutex);
  // One write per line (O_APPEND on a file): lines of other processes stay whole too.
  std::string_view rest = line;
  while (!rest.empty()) {
    const ssize_t n = ::write(to.fd(), rest.data(), rest.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a full disk must not stop the proxy: the line is dropped
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace veer::core::log
