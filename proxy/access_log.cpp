#include "proxy/access_log.hpp"

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

void append_number(Buffer& out, std::uint64_t n) {
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof digits, n);
  out.append(std::string_view(digits, static_cast<std::size_t>(r.ptr - digits)));
}

// Milliseconds with microsecond precision: "12.345".
void append_millis(Buffer& out, double ms) {
  const auto micros = static_cast<std::uint64_t>(ms * 1000.0 + 0.5);
  append_number(out, micros / 1000);
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

namespace {

// Length of the valid UTF-8 sequence that starts at text[i], or 0 when the bytes there
// are not one (RFC 3629 section 4, the table of well-formed sequences).
std::size_t utf8_sequence_length(std::string_view text, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  std::size_t length = 0;
  unsigned char second_min = 0x80, second_max = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) second_min = 0xa0;  // overlong
    if (lead == 0xed) second_max = 0x9f;  // UTF-16 surrogates
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) second_min = 0x90;  // overlong
    if (lead == 0xf4) second_max = 0x8f;  // past U+10FFFF
  } else {
    return 0;  // a continuation byte, C0, C1 or F5..FF
  }
  if (text.size() - i < length) return 0;
  if (byte(i + 1) < second_min || byte(i + 1) > second_max) return 0;
  for (std::size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return length;
}

}  // namespace

void append_json_escaped(Buffer& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.reserve_writable(text.size() + 8);
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      if (const std::size_t n = utf8_sequence_length(text, i)) {
        out.append(text.substr(i, n));
        i += n;
      } else {
        // Not UTF-8: kept readable and distinct from U+FFFD. A literal backslash is
        // itself escaped, so "\\x" in a decoded value marks the original byte.
        const char escaped[5] = {'\\', '\\', 'x', kHex[u >> 4], kHex[u & 0xf]};
        out.append(std::string_view(escaped, sizeof escaped));
        ++i;
      }
      continue;
    }
    if (c == '"' || c == '\\') {
      out.append('\\');
      out.append(c);
    } else if (u < 0x20 || u == 0x7f) {
      const char escaped[6] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xf]};
      out.append(std::string_view(escaped, sizeof escaped));
    } else {
      out.append(c);
    }
    ++i;
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
  append_json_escaped(lines_, value);
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
    append_number(lines_, e.upstream_status);
  }
  append_millis_or_null(",\"upstream_connect_ms\":", e.upstream_connect_ms);
  append_millis_or_null(",\"upstream_header_ms\":", e.upstream_header_ms);
}

void AccessLog::record(const AccessEntry& e) {
  if (!sink_.enabled()) return;
  const bool was_empty = lines_.empty();
  lines_.append("{\"time\":\"");
  append_time();
  lines_.append("\",\"client\":\"");
  append_json_escaped(lines_, e.client);
  lines_.append("\",\"method\":\"");
  append_json_escaped(lines_, e.method);
  lines_.append("\",\"path\":\"");
  append_json_escaped(lines_, e.path);
  lines_.append("\",\"status\":");
  append_number(lines_, e.status);
  lines_.append(",\"bytes\":");
  append_number(lines_, e.bytes);
  append_string_or_null(",\"pool\":", e.pool);
  append_string_or_null(",\"backend\":", e.backend);
  lines_.append(",\"upstream_ms\":");
  if (e.backend.empty()) {
    lines_.append("null");
  } else {
    append_millis(lines_, e.upstream_ms);
  }
  lines_.append(",\"attempts\":");
  append_number(lines_, e.attempts);
  lines_.append(",\"total_ms\":");
  append_millis(lines_, e.total_ms);
  lines_.append(",\"request_id\":\"");
  append_json_escaped(lines_, e.request_id);
  lines_.append("\",\"listener\":\"");
  append_json_escaped(lines_, e.listener);
  lines_.append("\",\"route\":");
  if (e.routed) {
    lines_.append('"');
    append_json_escaped(lines_, e.route_host);
    append_json_escaped(lines_, e.route_path_prefix.empty() ? "/" : e.route_path_prefix);
    lines_.append('"');
  } else {
    lines_.append("null");
  }
  append_string_or_null(",\"host\":", e.host);
  lines_.append(",\"bytes_in\":");
  append_number(lines_, e.bytes_in);
  append_upstream_fields(e);
  append_string_or_null(",\"user_agent\":", e.user_agent);
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
