#include "conf/load.hpp"

#include <fstream>
#include <sstream>

#include "conf/ascii_scan.hpp"
#include "conf/overrides.hpp"
#include "conf/toml_reader.hpp"

namespace veer::conf {

std::string ConfigError::to_string() const {
  return file + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + message;
}

const PoolConfig* Config::find_pool(std::string_view name) const {
  for (const PoolConfig& pool : pools) {
    if (pool.name == name) return &pool;
  }
  return nullptr;
}

const RateLimitPolicyConfig* Limits::find_policy(std::string_view name) const {
  for (const RateLimitPolicyConfig& policy : policies) {
    if (policy.name == name) return &policy;
  }
  return nullptr;
}

const SplitConfig* Config::find_split(std::string_view name) const {
  for (const SplitConfig& split : splits) {
    if (split.name == name) return &split;
  }
  return nullptr;
}

const RolloutConfig* Config::find_rollout(std::string_view name) const {
  for (const RolloutConfig& rollout : rollouts) {
    if (rollout.name == name) return &rollout;
  }
  return nullptr;
}

const char* to_string(IoEngine e) {
  switch (e) {
    case IoEngine::automatic:
      return "auto";
    case IoEngine::io_uring:
      return "io_uring";
    case IoEngine::epoll:
      return "epoll";
  }
  return "?";
}

namespace detail {

void load_server(TableReader& root, Config& config) {
  const toml::node* node = root.take("server");
  if (node == nullptr) return;
  if (!node->is_table()) {
    root.diag().error(node->source(), "server: expected a table");
    return;
  }
  TableReader server(*node->as_table(), "server", root.diag());
  ServerConfig& out = config.server;
  std::uint64_t workers = out.workers;
  if (server.read_uint("workers", workers, 0, 1024)) out.workers = static_cast<unsigned>(workers);

  std::string engine;
  if (server.read_string("io_engine", engine)) {
    if (engine == "auto") {
      out.io_engine = IoEngine::automatic;
    } else if (engine == "io_uring") {
      out.io_engine = IoEngine::io_uring;
    } else if (engine == "epoll") {
      out.io_engine = IoEngine::epoll;
    } else {
      root.diag().error(server.take("io_engine")->source(),
                        "server.io_engine: \"" + engine + "\" is not one of auto, io_uring, epoll");
    }
  }
  std::uint64_t buffers = out.io_uring_buffers;
  if (server.read_uint("io_uring_buffers", buffers, 4, 32768)) {
    if ((buffers & (buffers - 1)) != 0) {
      root.diag().error(server.take("io_uring_buffers")->source(),
                        "server.io_uring_buffers: " + std::to_string(buffers) +
                            " is not a power of two (4 to 32768)");
    } else {
      out.io_uring_buffers = static_cast<unsigned>(buffers);
    }
  }
  if (server.read_string("access_log", out.access_log) && out.access_log.empty()) {
    root.diag().error(server.take("access_log")->source(),
                      "server.access_log: use \"off\", \"stdout\" or a file path");
  }
  server.read_string("state_file", out.state_file);
  if (server.read_string("log", out.log) && out.log.empty()) {
    root.diag().error(server.take("log")->source(), "server.log: use \"stderr\" or a file path");
  }
  server.finish();
}

void load_timeouts(TableReader& root, Config& config) {
  const toml::node* node = root.take("timeouts");
  if (node == nullptr) return;
  if (!node->is_table()) {
    root.diag().error(node->source(), "timeouts: expected a table");
    return;
  }
  TableReader t(*node->as_table(), "timeouts", root.diag());
  Timeouts& out = config.timeouts;
  // A zero timeout would close every connection at once; 1ms is the smallest useful one.
  constexpr Duration kMin{1};
  t.read_duration("client_header", out.client_header, kMin);
  t.read_duration("client_idle", out.client_idle, kMin);
  t.read_duration("client_body", out.client_body, kMin);
  t.read_duration("client_send", out.client_send, kMin);
  t.read_duration("upstream_connect", out.upstream_connect, kMin);
  t.read_duration("upstream_response", out.upstream_response, kMin);
  t.read_duration("upstream_idle", out.upstream_idle, kMin);
  t.read_duration("tunnel_idle", out.tunnel_idle, kMin);
  t.read_duration("tls_handshake", out.tls_handshake, kMin);
  t.read_duration("proxy_protocol", out.proxy_protocol, kMin);
  t.read_duration("drain", out.drain, Duration{0});
  t.finish();
}

void load_limits(TableReader& root, Config& config) {
  const toml::node* node = root.take("limits");
  if (node == nullptr) return;
  if (!node->is_table()) {
    root.diag().error(node->source(), "limits: expected a table");
    return;
  }
  TableReader t(*node->as_table(), "limits", root.diag());
  Limits& out = config.limits;
  // A request line plus a Host header needs more than 1 KiB in practice; above 1 MiB a
  // header block is an attack, not a request.
  t.read_uint("max_header_bytes", out.max_header_bytes, 1024, 1 << 20);
  t.read_uint("max_body_bytes", out.max_body_bytes, 0, std::uint64_t{1} << 50);
  t.read_uint("max_connections", out.max_connections, 1, 10'000'000);
  t.read_uint("max_idle_upstream", out.max_idle_upstream, 0, 1'000'000);
  load_rate_policies(t, config);
  t.finish();
}

LoadResult load_table(const toml::table& root_table, Diagnostics& diag, std::string source) {
  Config config;
  config.source_path = std::move(source);
  TableReader root(root_table, "", diag);
  load_server(root, config);
  load_timeouts(root, config);
  load_cluster(root, config);
  load_limits(root, config);
  load_listeners(root, config);
  load_pools(root, config);
  load_splits(root, config);
  load_admin(root, config);
  load_rollouts(root, config);  // after the splits and [admin], which its rules read
  root.finish();
  validate_references(root_table, config, diag);
  resolve_outlier_defaults(config);
  warn_unused_policies(root_table, config, diag);

  LoadResult result;
  result.errors = diag.take_errors();
  result.warnings = diag.take_warnings();
  if (result.errors.empty()) result.config = std::move(config);
  return result;
}

// conf/overrides.cpp: rewrites the document with the runtime changes.
void apply_overrides(toml::table& root, const Overrides& changes, Diagnostics& diag);

LoadResult parse_and_load(std::string_view text, std::string_view name, std::string source,
                          const Overrides* overrides = nullptr) {
  Diagnostics diag{std::string(name)};
  // Before toml++: 3.3.0 has undefined behaviour on non-ASCII text outside strings.
  if (const auto non_ascii = find_misplaced_non_ascii(text)) {
    diag.error(SourcePos{non_ascii->line, non_ascii->column}, non_ascii->message());
    LoadResult result;
    result.errors = diag.take_errors();
    return result;
  }
  toml::parse_result parsed = toml::parse(text, name);
  if (!parsed) {
    // toml++ stops at the first syntax error: nothing after it can be trusted.
    const toml::parse_error& err = parsed.error();
    diag.error(err.source(), std::string(err.description()));
    LoadResult result;
    result.errors = diag.take_errors();
    return result;
  }
  if (overrides != nullptr) apply_overrides(parsed.table(), *overrides, diag);
  return load_table(parsed.table(), diag, std::move(source));
}

}  // namespace detail

LoadResult load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult result;
    result.errors.push_back(ConfigError{path, 1, 1, "cannot open the file"});
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return detail::parse_and_load(text.str(), path, path);
}

LoadResult load_config_string(std::string_view toml_text, std::string_view name) {
  return detail::parse_and_load(toml_text, name, "");
}

LoadResult load_config_with(std::string_view toml_text, std::string_view name,
                            const Overrides& overrides) {
  return detail::parse_and_load(toml_text, name, std::string(name), &overrides);
}

}  // namespace veer::conf
