#pragma once

// The access log: one JSON object per line per request. Each worker formats into its
// own buffer and hands whole lines to the shared sink at most every 100 ms or 64 KiB,
// so logging costs a memcpy per request and a write(2) per batch, and no lock on the
// request path.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/buffer.hpp"
#include "proxy/deadline.hpp"

namespace veer::proxy {

// Where lines go: "off", "stdout" or a file (appended). Shared by all workers.
class AccessLogSink {
 public:
  // Opens `destination`; returns false with *why on failure (the old one stays).
  bool open(const std::string& destination, std::string* why);
  bool enabled() const { return enabled_.load(std::memory_order_relaxed); }
  void write(std::string_view lines);

 private:
  struct File;
  mutable std::mutex mutex_;
  std::shared_ptr<File> file_;
  std::string destination_;
  std::atomic<bool> enabled_{false};
};

// One request's line. Views must stay valid until record() returns; nothing is copied
// except into the worker's line buffer. The fields follow nginx's $upstream_* variables.
struct AccessEntry {
  std::string_view client;
  std::string_view peer;  // the TCP peer when it is not `client` (a proxy); "" otherwise
  std::string_view method;
  std::string_view path;
  std::uint16_t status = 0;
  std::uint64_t bytes = 0;     // response body bytes sent to the client
  std::string_view pool;       // "" when the request was not routed to a pool
  std::string_view backend;    // "" when no backend was involved
  double upstream_ms = -1;     // < 0 when no backend was involved
  std::uint32_t attempts = 0;  // backends tried (more than 1 after retries)
  double total_ms = 0;         // from the complete request head to the last byte
  std::string_view request_id;
  std::string_view listener;           // the listener's name
  bool routed = false;                 // a route matched: route_host + route_path_prefix
  std::string_view route_host;         // "" = any host
  std::string_view route_path_prefix;  // "" = any path, logged as "/"
  std::string_view host;               // the client's Host (or absolute-form authority); "" = none
  std::string_view user_agent;         // "" = none
  std::uint64_t bytes_in = 0;          // bytes of the request received from the client
  std::uint16_t upstream_status = 0;   // the backend's final status; 0 = none answered
  double upstream_connect_ms = -1;     // < 0: the connection was reused, or none was made
  double upstream_header_ms = -1;      // request sent -> response head; < 0 = no head
  std::string_view upstream_error;     // "tls": a try failed in the backend's TLS handshake
  std::string_view tls_version;        // the client connection's TLS version; "" = plain
  // Limits: the policy (or "max_in_flight", "max_connections_per_client") that refused,
  // delayed or (dry_run) would have refused the request; "" = none.
  std::string_view limited_by;
  std::string_view rate_limit;      // allowed | delayed | refused | dry_run; "" = no policy
  double rate_limit_delay_ms = -1;  // how long a policy's delay held it; < 0 = not held
};

class AccessLog final : public TimeoutHandler {
 public:
  AccessLog(AccessLogSink& sink, DeadlineQueue& deadlines)
      : sink_(sink), deadlines_(deadlines), flush_deadline_(*this, 0) {}
  ~AccessLog() { flush(); }

  bool enabled() const { return sink_.enabled(); }
  void record(const AccessEntry& entry);
  void flush();
  void on_timeout(Deadline&) override { flush(); }

 private:
  void append_time();
  void append_string_or_null(std::string_view key, std::string_view value);
  void append_millis_or_null(std::string_view key, double ms);
  void append_upstream_fields(const AccessEntry& e);

  AccessLogSink& sink_;
  DeadlineQueue& deadlines_;
  Deadline flush_deadline_;
  core::Buffer lines_;
  std::int64_t cached_second_ = -1;
  char time_prefix_[20] = {};  // "2026-11-23T18:54:00" of cached_second_
};

}  // namespace veer::proxy
