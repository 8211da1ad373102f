#include "proxy/access_log.hpp"

#include "core/json_escape.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>

namespace veer::proxy {
namespace {

// A batch is written when it reaches this size, or after kFlushInterval.
constexpr std::size_t kFlushBytes = 64 * 1024;
constexpr auto kFlushInterval = std::chrono::milliseconds(100);
// Writes to a pipe are atomic up to PIPE_BUF: larger batches are split at line ends so
// that lines of two workers never interleave on stdout.
constexpr std::size_t kAtomicPipeWrite = 4096;

// Milliseconds with microsecond precision: "12.345".
void append_millis(core::Buffer& out, double ms) {
  const auto micros = static_cast<std::uint64_t>(ms * 1000.0 + 0.5);
  core::append_decimal(out, micros / 1000);
  out.append('.');
  const auto frac = micros % 1000;
  out.append(static_cast<char>('0' + frac / 100));
  out.append(static_cast<char>('0' + frac / 10 % 10));
  out.append(static_cast<char>('0' + frac % 10));
}

}  // namespace

struct AccessLogSink::File {
  int fd = -1;
  bool owned = false;
  bool is_pipe_or_tty = false;
  ~File() {
    if (owned && fd >= 0) ::close(fd);
  }
};

bool AccessLogSink::open(const std::string& destination, std::string* why) {
  auto file = std::make_shared<File>();
  if (destination == "off") {
    file.reset();
  } else if (destination == "stdout") {
    file->fd = STDOUT_FILENO;
    file->is_pipe_or_tty = true;
  } else {
    file->fd = ::open(destination.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (file->fd < 0) {
      *why = "cannot open access log " + destination + ": " + std::strerror(errno);
      return false;
    }
    file->owned = true;
  }
  std::lock_guard lock(mutex_);
  file_ = std::move(file);
  destination_ = destination;
  enabled_.store(file_ != nullptr, std::memory_order_relaxed);
  return true;
}

void AccessLogSink::write(std::string_view lines) {
  std::shared_ptr<File> file;
  {
    std::lock_guard lock(mutex_);
    file = file_;
  }
  if (!file) return;
  while (!lines.empty()) {
    std::size_t take = lines.size();
    if (file->is_pipe_or_tty && take > kAtomicPipeWrite) {
      const std::size_t cut = lines.rfind('\n', kAtomicPipeWrite - 1);
      take = cut == std::string_view::npos ? kAtomicPipeWrite : cut + 1;
    }
    const ssize_t n = ::write(file->fd, lines.data(), take);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // a full disk must not stop the proxy; lines are dropped
    lines.remove_prefix(static_cast<std::size_t>(n));
  }
}

void AccessLog::append_time() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto millis = duration_cast<milliseconds>(now.time_since_epoch()).count();
  const std::int64_t second = millis / 1000;
  if (second != cached_second_) {
    const std::time_t t = static_cast<std::time_t>(second);
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(time_prefix_, sizeof time_prefix_, "%Y-%m-%dT%H:%M:%S", &tm);
    cached_second_ = second;
  }
  lines_.append(std::string_view(time_prefix_, 19));
  const auto ms = static_cast<unsigned>(millis % 1000);
  const char frac[5] = {'.', static_cast<char>('0' + ms / 100),
                        static_cast<char>('0' + ms / 10 % 10), static_cast<char>('0' + ms % 10),
                        'Z'};
  lines_.append(std::string_view(frac, 5));
}

// `key` then the value as a JSON string, or null when it is empty.
void AccessLog::append_string_or_null(std::string_view key, std::string_view value) {
  lines_.append(key);
  if (value.empty()) {
    lines_.append("null");
    return;
  }
  lines_.append("\"");
  core::append_json_escaped(lines_, value);
  lines_.append("\"");
}

void AccessLog::append_millis_or_null(std::string_view key, double ms) {
  lines_.append(key);
  if (ms < 0) {
    lines_.append("null");
  } else {
    append_millis(lines_, ms);
  }
}

// What nginx's $upstream_status, $upstream_connect_time and $upstream_header_time say.
void AccessLog::append_upstream_fields(const AccessEntry& e) {
  lines_.append(",\"upstream_status\":");
  if (e.upstream_status == 0) {
    lines_.append("null");
  } else {
    core::append_decimal(lines_, e.upstream_status);
  }
  append_millis_or_null(",\"upstream_connect_ms\":", e.upstream_connect_ms);
  append_millis_or_null(",\"upstream_header_ms\":", e.upstream_header_ms);
  append_string_or_null(",\"upstream_error\":", e.upstream_error);
  append_string_or_null(",\"tls\":", e.tls_version);
}

void AccessLog::record(const AccessEntry& e) {
  if (!sink_.enabled()) return;
  const bool was_empty = lines_.empty();
  lines_.append("{\"time\":\"");
  append_time();
  lines_.append("\",\"client\":\"");
  core::append_json_escaped(lines_, e.client);
  if (!e.peer.empty()) {
    lines_.append("\",\"peer\":\"");
    core::append_json_escaped(lines_, e.peer);
  }
  lines_.append("\",\"method\":\"");
  core::append_json_escaped(lines_, e.method);
  lines_.append("\",\"path\":\"");
  core::append_json_escaped(lines_, e.path);
  lines_.append("\",\"status\":");
  core::append_decimal(lines_, e.status);
  lines_.append(",\"bytes\":");
  core::append_decimal(lines_, e.bytes);
  append_string_or_null(",\"pool\":", e.pool);
  append_string_or_null(",\"backend\":", e.backend);
  lines_.append(",\"upstream_ms\":");
  if (e.backend.empty()) {
    lines_.append("null");
  } else {
    append_millis(lines_, e.upstream_ms);
  }
  lines_.append(",\"attempts\":");
  core::append_decimal(lines_, e.attempts);
  lines_.append(",\"total_ms\":");
  append_millis(lines_, e.total_ms);
  lines_.append(",\"request_id\":\"");
  core::append_json_escaped(lines_, e.request_id);
  lines_.append("\",\"listener\":\"");
  core::append_json_escaped(lines_, e.listener);
  lines_.append("\",\"route\":");
  if (e.routed) {
    lines_.append('"');
    core::append_json_escaped(lines_, e.route_host);
    core::append_json_escaped(lines_, e.route_path_prefix.empty() ? "/" : e.route_path_prefix);
    lines_.append('"');
  } else {
    lines_.append("null");
  }
  append_string_or_null(",\"host\":", e.host);
  lines_.append(",\"bytes_in\":");
  core::append_decimal(lines_, e.bytes_in);
  append_upstream_fields(e);
  append_string_or_null(",\"user_agent\":", e.user_agent);
  append_string_or_null(",\"limited_by\":", e.limited_by);
  append_string_or_null(",\"rate_limit\":", e.rate_limit);
  append_millis_or_null(",\"rate_limit_delay_ms\":", e.rate_limit_delay_ms);
  lines_.append("}\n");
  if (lines_.size() >= kFlushBytes) {
    flush();
  } else if (was_empty) {
    deadlines_.arm(flush_deadline_, kFlushInterval);
  }
}

void AccessLog::flush() {
  flush_deadline_.disarm();
  if (lines_.empty()) return;
  sink_.write(lines_.readable());
  lines_.clear();
}

}  // namespace veer::proxy
