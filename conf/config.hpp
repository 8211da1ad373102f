#pragma once

// The configuration model: plain, validated structs produced by the TOML loader
// (conf/load.hpp). Nothing here knows about sockets or threads; the proxy turns a
// Config into a runtime Snapshot. Defaults live here, in one place (STYLE.md habit 6).

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "conf/address.hpp"
#include "conf/duration.hpp"

namespace veer::conf {

using namespace std::chrono_literals;

enum class IoEngine { automatic, io_uring, epoll };

struct ServerConfig {
  unsigned workers = 0;  // 0 = one per core
  IoEngine io_engine = IoEngine::automatic;
  std::string access_log = "stdout";  // "stdout" | "off" | file path
  std::string state_file;
};

struct Timeouts {
  Duration client_header = 10s;  // whole request head, from its first byte (or accept)
  Duration client_idle = 60s;    // keep-alive client between requests
  Duration client_body = 60s;    // longest pause while a request body arrives
  Duration client_send = 60s;    // longest pause while the client drains a response
  Duration upstream_connect = 2s;
  Duration upstream_response = 30s;  // until the response head; also longest pause in a body
  Duration upstream_idle = 60s;      // pooled keep-alive upstream connection
  Duration tunnel_idle = 1h;         // WebSocket tunnel with no bytes either way
  Duration drain = 30s;              // graceful shutdown deadline
};

struct Limits {
  std::uint64_t max_header_bytes = 65536;
  std::uint64_t max_body_bytes = 10485760;
  std::uint64_t max_connections = 100000;
  // Idle keep-alive connections each worker keeps per backend. Generous on purpose: a
  // pool smaller than the client concurrency churns connections (DESIGN.md).
  std::uint64_t max_idle_upstream = 1024;
};

// Where a value came from in the file, so later checks can point at it.
struct SourcePos {
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

struct RouteConfig {
  std::string host;         // "" = any host; compared case-insensitively, port ignored
  std::string path_prefix;  // "" = any path
  std::string target;       // a pool name
  SourcePos target_pos;
};

struct ListenerConfig {
  std::string name;
  std::string address;
  HostPort host_port;
  std::vector<RouteConfig> routes;
  SourcePos pos;
};

struct BackendConfig {
  std::string address;  // as written; the identity used by logs and the admin API
  HostPort host_port;
  SocketAddress resolved;
  std::uint32_t weight = 1;
  bool backup = false;
  SourcePos pos;
};

struct PoolConfig {
  std::string name;
  std::string strategy = "round_robin";
  std::string hash_key = "client_ip";  // ip_hash only: client_ip | header:NAME | cookie:NAME
  std::vector<BackendConfig> backends;
  SourcePos pos;
};

struct Config {
  std::string source_path;  // the file it was loaded from ("" for an in-memory string)
  ServerConfig server;
  Timeouts timeouts;
  Limits limits;
  std::vector<ListenerConfig> listeners;
  std::vector<PoolConfig> pools;

  const PoolConfig* find_pool(std::string_view name) const;
};

const char* to_string(IoEngine e);

}  // namespace veer::conf
