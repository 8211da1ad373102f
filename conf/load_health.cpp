// The health, outlier and retries tables of a pool.
#include <algorithm>
#include <charconv>
#include <optional>

#include "conf/toml_reader.hpp"

namespace veer::conf::detail {
namespace {

bool parse_status(std::string_view text, std::uint16_t& out) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 100 || value > 599) {
    return false;
  }
  out = static_cast<std::uint16_t>(value);
  return true;
}

// `expect`: a status (200) or a range ("200-399").
void read_expect(TableReader& r, const std::string& path, HealthConfig& out) {
  const toml::node* node = r.take("expect");
  if (node == nullptr) return;
  bool ok = false;
  if (node->is_integer()) {
    const auto v = node->as_integer()->get();
    ok = v >= 100 && v <= 599;
    out.expect_min = out.expect_max = static_cast<std::uint16_t>(v);
  } else if (node->is_string()) {
    const std::string& text = node->as_string()->get();
    const std::size_t dash = text.find('-');
    const std::string_view low = std::string_view(text).substr(0, dash);
    const std::string_view high =
        dash == std::string::npos ? low : std::string_view(text).substr(dash + 1);
    ok = parse_status(low, out.expect_min) && parse_status(high, out.expect_max) &&
         out.expect_min <= out.expect_max;
  }
  if (!ok) {
    r.diag().error(node->source(),
                   path + ".expect: expected a status (200) or a range of statuses (\"200-399\")");
  }
}

void read_headers(TableReader& r, const std::string& path, HealthConfig& out) {
  const toml::node* node = r.take("headers");
  if (node == nullptr) return;
  const toml::table* table = node->as_table();
  if (table == nullptr) {
    r.diag().error(node->source(), path + ".headers: expected a table of \"Name\" = \"value\"");
    return;
  }
  for (auto&& [name, value] : *table) {
    const std::string_view text =
        value.is_string() ? std::string_view(value.as_string()->get()) : "";
    if (!is_token(name.str()) || !value.is_string() ||
        text.find_first_of("\r\n") != std::string_view::npos) {
      r.diag().error(value.source(), path + ".headers." + std::string(name.str()) +
                                         ": expected a header name and a one-line string value");
      continue;
    }
    out.headers.emplace_back(std::string(name.str()), std::string(text));
  }
}

// `type`: http, tcp or jsonrpc; http when absent or wrong.
HealthConfig::Type read_check_type(TableReader& r) {
  std::string type = "http";
  if (!r.read_string("type", type) || type == "http") return HealthConfig::Type::http;
  if (type == "tcp") return HealthConfig::Type::tcp;
  if (type == "jsonrpc") return HealthConfig::Type::jsonrpc;
  r.diag().error(r.take("type")->source(),
                 r.path() + ".type: \"" + type + "\" is not http, tcp or jsonrpc");
  return HealthConfig::Type::http;
}

// What a check sends and expects back: the keys that exist for some types only, each
// refused by name for the others.
void read_check_request(TableReader& r, HealthConfig& health) {
  const std::string& path = r.path();
  Diagnostics& diag = r.diag();
  const bool tcp = health.type == HealthConfig::Type::tcp;
  const bool http = health.type == HealthConfig::Type::http;
  const auto only_for = [&](std::string_view key, bool allowed, std::string_view types) {
    if (!allowed) r.refuse(key, "applies to " + std::string(types) + " checks only");
    return allowed;
  };
  if (only_for("path", !tcp, "http and jsonrpc") && r.read_string("path", health.path) &&
      (health.path.empty() || health.path.front() != '/')) {
    diag.error(r.take("path")->source(), path + ".path: must start with \"/\"");
  }
  std::string method;
  if (only_for("method", !tcp, "http and jsonrpc") && r.read_string("method", method)) {
    if (!is_token(method)) {
      diag.error(r.take("method")->source(), path + ".method: not a valid method name");
    } else if (http) {
      health.http_method = method;
    } else {
      health.rpc_method = method;
    }
  }
  if (only_for("expect", http, "http")) read_expect(r, path, health);
  if (only_for("body", http, "http")) r.read_string("body", health.body);
  if (only_for("headers", !tcp, "http and jsonrpc")) read_headers(r, path, health);
  if (only_for("host", !tcp, "http and jsonrpc") && r.read_string("host", health.host)) {
    std::string why;
    if (!parse_host_port(health.host + ":0", &why)) {
      diag.error(r.take("host")->source(),
                 path + ".host: \"" + health.host + "\" is not a host name");
    }
  }
  const bool jsonrpc = health.type == HealthConfig::Type::jsonrpc;
  if (only_for("max_lag_blocks", jsonrpc, "jsonrpc")) {
    r.read_uint("max_lag_blocks", health.max_lag_blocks, 1, std::uint64_t{1} << 40);
  }
  std::uint64_t chain_id = 0;
  if (only_for("chain_id", jsonrpc, "jsonrpc") &&
      r.read_uint("chain_id", chain_id, 1, std::uint64_t{1} << 62)) {
    health.chain_id = chain_id;
  }
  if (only_for("stall_timeout", jsonrpc, "jsonrpc")) {
    r.read_duration("stall_timeout", health.stall_timeout, Duration{0});
  }
}

// The three tables below are read by load_pool_resilience, which opens each one and
// reports its unknown keys afterwards.
void load_health(TableReader& r, PoolConfig& pool) {
  HealthConfig health;
  health.type = read_check_type(r);
  read_check_request(r, health);
  r.read_duration("interval", health.interval, Duration{10});
  r.read_duration("timeout", health.timeout, Duration{1});
  r.read_duration("jitter", health.jitter, Duration{0});
  std::uint64_t value = 0;
  if (r.read_uint("rise", value, 1, 100)) health.rise = static_cast<std::uint32_t>(value);
  if (r.read_uint("fall", value, 1, 100)) health.fall = static_cast<std::uint32_t>(value);
  pool.health = std::move(health);
}

void load_outlier(TableReader& r, PoolConfig& pool) {
  OutlierConfig outlier;
  std::uint64_t value = 0;
  if (r.read_uint("consecutive_failures", value, 1, 1000)) {
    outlier.consecutive_failures = static_cast<std::uint32_t>(value);
  }
  r.read_duration("base_ejection", outlier.base_ejection, Duration{1});
  r.read_duration("max_ejection", outlier.max_ejection, Duration{1});
  if (r.read_uint("max_ejected_percent", value, 0, 100)) {
    outlier.max_ejected_percent = static_cast<std::uint32_t>(value);
  }
  // The failure ratio (Envoy's failure_percentage); failure_percent = 0 turns it off.
  // Not given, resolve_outlier_defaults picks it once routes and pools are known.
  if (r.read_uint("failure_percent", value, 0, 100)) {
    outlier.failure_percent = static_cast<std::uint32_t>(value);
    outlier.failure_percent_set = true;
  }
  if (r.read_uint("failure_min_requests", value, 1, 1'000'000'000)) {
    outlier.failure_min_requests = static_cast<std::uint32_t>(value);
  }
  r.read_duration("failure_window", outlier.failure_window, Duration{1});
  if (outlier.max_ejection < outlier.base_ejection) {
    r.diag().error(r.table().source(), r.path() + ": max_ejection must be at least base_ejection");
  }
  pool.outlier = outlier;
}

void load_retries(TableReader& r, PoolConfig& pool) {
  std::uint64_t value = 0;
  if (r.read_uint("attempts", value, 0, 10))
    pool.retries.attempts = static_cast<std::uint32_t>(value);
  if (r.read_uint("budget_percent", value, 0, 100)) {
    pool.retries.budget_percent = static_cast<std::uint32_t>(value);
  }
  if (r.read_uint("budget_min", value, 0, 100000)) {
    pool.retries.budget_min = static_cast<std::uint32_t>(value);
  }
}

struct PoolTable {
  std::string_view key;
  std::string_view example;  // shown when the key is not a table
  void (*load)(TableReader&, PoolConfig&);
};

constexpr PoolTable kPoolTables[] = {
    {"health", "{ type = \"http\", path = \"/health\" }", &load_health},
    {"outlier", "{ consecutive_failures = 5 }", &load_outlier},
    {"retries", "{ attempts = 2, budget_percent = 20 }", &load_retries},
};

}  // namespace

void load_pool_resilience(TableReader& r, const std::string& path, PoolConfig& pool) {
  for (const PoolTable& table : kPoolTables) {
    const toml::node* node = r.take(table.key);
    if (node == nullptr) continue;
    std::optional<TableReader> reader =
        open_table(*node, path + "." + std::string(table.key), table.example, r.diag());
    if (!reader) continue;
    table.load(*reader, pool);
    reader->finish();
  }
  r.read_duration("slow_start", pool.slow_start, Duration{0});
  std::uint64_t panic = pool.panic_threshold;
  if (r.read_uint("panic_threshold", panic, 0, 100))
    pool.panic_threshold = static_cast<std::uint32_t>(panic);
}

}  // namespace veer::conf::detail
