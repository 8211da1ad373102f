#pragma once

// TOML for integration tests: one listener on 127.0.0.1:0 (veer logs the real port),
// one pool of test backends, and whatever sections a test adds.

#include <string>
#include <vector>

#include "test_backend.hpp"

namespace veer::test {

struct TestConfig {
  std::vector<std::string> backends;  // "127.0.0.1:PORT"
  int workers = 2;
  std::string io_engine = "auto";
  std::string access_log = "off";
  std::string server_keys;  // more lines of [server] (io_uring_buffers = 8, ...)
  std::string timeouts;     // lines for [timeouts]
  std::string limits;       // lines for [limits]
  std::string strategy = "round_robin";
  std::string extra;  // more keys of [pools.main], then more tables, appended at the end
  std::string route_target = "main";  // the pool or split of the listener's one route
  std::string listener_tls;           // the listener's tls table ("{ cert = ..., ... }")
  std::string route_host;             // the route's host; "" = any
  std::string listener_keys;          // more lines of [listeners.public] (trusted_proxies = ...)
  std::string route_keys;             // more lines of the route (limits = [...], ...)

  std::string toml() const {
    std::string text = "[server]\nworkers = " + std::to_string(workers) + "\nio_engine = \"" +
                       io_engine + "\"\naccess_log = \"" + access_log + "\"\n";
    if (!server_keys.empty()) text += server_keys + "\n";
    text += "[timeouts]\n" + timeouts + "\n[limits]\n" + limits + "\n";
    text += "[listeners.public]\naddress = \"127.0.0.1:0\"\n";
    if (!listener_tls.empty()) text += "tls = " + listener_tls + "\n";
    if (!listener_keys.empty()) text += listener_keys + "\n";
    text += "  [[listeners.public.routes]]\n  target = \"" + route_target + "\"\n";
    if (!route_host.empty()) text += "  host = \"" + route_host + "\"\n";
    if (!route_keys.empty()) text += route_keys + "\n";
    text += "[pools.main]\nstrategy = \"" + strategy + "\"\nbackends = [";
    for (std::size_t i = 0; i < backends.size(); ++i) {
      // "host:port" is quoted; a long-form entry ("{ address = ..., weight = 0 }") is not.
      const bool long_form = !backends[i].empty() && backends[i].front() == '{';
      text += i ? ", " : "";
      text += long_form ? backends[i] : "\"" + backends[i] + "\"";
    }
    text += "]\n" + extra;
    return text;
  }
};

inline std::vector<std::string> addresses(const std::vector<const TestBackend*>& backends) {
  std::vector<std::string> out;
  for (const TestBackend* b : backends)
    out.push_back(b->address());
  return out;
}

}  // namespace veer::test
