#pragma once

// Internal to conf/: helpers that walk toml++ tables, refuse unknown keys and record
// errors with their source position. Only conf/*.cpp include this (toml++ is heavy).

#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.hpp"
#include "conf/load.hpp"

namespace veer::conf::detail {

class Diagnostics {
 public:
  explicit Diagnostics(std::string file) : file_(std::move(file)) {}

  void error(const toml::source_region& where, std::string message);
  void error(SourcePos where, std::string message);
  void warning(const toml::source_region& where, std::string message);

  const std::string& file() const { return file_; }
  std::vector<ConfigError> take_errors();
  std::vector<ConfigError> take_warnings() { return std::move(warnings_); }

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
  std::vector<ConfigError> warnings_;
};

SourcePos position_of(const toml::source_region& where);

// Names of listeners and pools appear in logs and metric labels: keep them plain.
bool valid_name(std::string_view name);

// An HTTP token (RFC 9110 tchar): a method or a header name.
bool is_token(std::string_view s);

// Where a request's key comes from: client_ip, header:NAME or cookie:NAME.
bool valid_hash_key(std::string_view key);

// Reads the keys of one TOML table. Every key the caller asks for is marked known;
// finish() reports the rest as errors, so a typo is never silently ignored.
class TableReader {
 public:
  TableReader(const toml::table& table, std::string path, Diagnostics& diag);

  // Absent keys leave `out` unchanged (its default). A present key of the wrong type
  // or out of range is an error and also leaves `out` unchanged.
  bool read_string(std::string_view key, std::string& out);
  bool read_bool(std::string_view key, bool& out);
  bool read_uint(std::string_view key, std::uint64_t& out, std::uint64_t min, std::uint64_t max);
  bool read_duration(std::string_view key, Duration& out, Duration min);

  // The raw node for a key (marked known), or nullptr when absent.
  const toml::node* take(std::string_view key);
  // Whether `key` was asked for already.
  bool asked(std::string_view key) const;
  // A key that is present but may not be (a feature not available, or a key of
  // another kind of check): refused with `why`.
  void refuse(std::string_view key, std::string_view why);

  // Reports every key that was never asked for, naming the known key it probably meant
  // (closest_key over the keys asked for) when there is one.
  void finish();

  std::string path_of(std::string_view key) const;
  const std::string& path() const { return path_; }
  const toml::table& table() const { return table_; }
  Diagnostics& diag() { return diag_; }

 private:
  const toml::table& table_;
  std::string path_;
  Diagnostics& diag_;
  std::vector<std::string_view> known_;
};

// The start of loading one named table (listeners.NAME, pools.NAME, splits.NAME):
// nullopt when the node is not a table (reported). A name that breaks the name rule is
// reported too, but the table is still read, so that its other errors show as well.
std::optional<TableReader> open_named_table(std::string_view section, std::string_view name,
                                            const toml::node& node, Diagnostics& diag);

// The reader of a key's table such as health = { ... } or tls = { ... }, or nullopt after
// reporting what the key is instead.
std::optional<TableReader> open_table(const toml::node& node, const std::string& path,
                                      std::string_view example, Diagnostics& diag);

// The same for a config item with `name` and `pos` (ListenerConfig, PoolConfig,
// SplitConfig), which it fills in when the table opens.
template <class Item>
std::optional<TableReader> open_named_table(std::string_view section, std::string_view name,
                                            const toml::node& node, Diagnostics& diag, Item& item) {
  std::optional<TableReader> reader = open_named_table(section, name, node, diag);
  if (reader) {
    item.name = std::string(name);
    item.pos = position_of(node.source());
  }
  return reader;
}

// Same checks for a value that is not in a table (an array element, say).
bool read_uint_node(const toml::node& node, const std::string& path, Diagnostics& diag,
                    std::uint64_t& out, std::uint64_t min, std::uint64_t max);

// Section loaders, one per file.
void load_server(TableReader& root, Config& config);
void load_timeouts(TableReader& root, Config& config);
void load_limits(TableReader& root, Config& config);
void load_listeners(TableReader& root, Config& config);
void load_pools(TableReader& root, Config& config);
void load_splits(TableReader& root, Config& config);
void load_admin(TableReader& root, Config& config);
// [rollouts.NAME] (conf/load_rollouts.cpp) with conf/rollout_rules.hpp's checks and at
// most one rollout per split; after load_splits and load_admin.
void load_rollouts(TableReader& root, Config& config);
// health, outlier, retries, slow_start and panic_threshold of one pool.
void load_pool_resilience(TableReader& pool_reader, const std::string& path, PoolConfig& pool);
// The tls table of a listener and of a pool (conf/load_tls.cpp); no table: plain HTTP.
void load_listener_tls(TableReader& listener_reader, ListenerConfig& listener);
void load_upstream_tls(TableReader& pool_reader, PoolConfig& pool);
// Rate limits (conf/load_limits.cpp): the [limits.NAME] policies of the [limits] table
// (after its scalar keys were read), the policy names and caps of a listener and of a
// route (the policies must be loaded first), [cluster] (before the policies, which
// check scope = "cluster" against it), and a warning per policy nothing uses.
void load_rate_policies(TableReader& limits, Config& config);
void load_listener_limits(TableReader& listener_reader, const Config& config,
                          ListenerConfig& listener);
void load_route_limits(TableReader& route_reader, const Config& config, RouteConfig& route);
void load_cluster(TableReader& root, Config& config);
void warn_unused_policies(const toml::table& root, const Config& config, Diagnostics& diag);
// JSON-RPC mode (conf/load_jsonrpc.cpp): a route's jsonrpc and method_routes keys, a
// policy's method_costs, and (from validate_references) the archive and method route
// targets, marking the pools they name as used.
void load_route_jsonrpc(TableReader& route_reader, RouteConfig& route);
void load_method_costs(TableReader& policy_reader, RateLimitPolicyConfig& policy);
void validate_jsonrpc_targets(const toml::table& root, const Config& config, Diagnostics& diag,
                              std::vector<bool>& used_pools);
// Cross-section checks: route and split targets, names, unused pools.
void validate_references(const toml::table& root, Config& config, Diagnostics& diag);
// After the references are valid: an outlier table's failure_percent, when not given,
// becomes kJsonRpcFailurePercent for a pool that serves JSON-RPC (a jsonrpc health
// check, or reached by a jsonrpc route: its target, a method route or archive, directly
// or through a split), else 0.
void resolve_outlier_defaults(Config& config);

}  // namespace veer::conf::detail
