// The health, outlier and retries tables of a pool.
#include <algorithm>
#include <charconv>

#include "conf/toml_reader.hpp"

namespace veer::conf::detail {
namespace {

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

bool parse_status(std::string_view text, std::uint16_t& out) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 100 || value > 599) {
    return false;
  }
  out = static_cast<std::uint16_t>(value);
  return true;
}

// The table of a pool key such as health = { ... }, or null after reporting what it is not.
const toml::table* table_of(const toml::node& node, const std::string& path,
                            std::string_view example, Diagnostics& diag) {
  if (!node.is_table()) {
    diag.error(node.source(), path + ": expected a table such as " + std::string(example));
  }
  return node.as_table();
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

void load_health(const toml::node& node, const std::string& path, Diagnostics& diag,
                 PoolConfig& pool) {
  const toml::table* table = table_of(node, path, "{ type = \"http\", path = \"/health\" }", diag);
  if (table == nullptr) return;
  TableReader r(*table, path, diag);
  HealthConfig health;
  std::string type = "http";
  if (r.read_string("type", type)) {
    if (type == "http") {
      health.type = HealthConfig::Type::http;
    } else if (type == "tcp") {
      health.type = HealthConfig::Type::tcp;
    } else if (type == "jsonrpc") {
      health.type = HealthConfig::Type::jsonrpc;
    } else {
      diag.error(r.take("type")->source(),
                 path + ".type: \"" + type + "\" is not http, tcp or jsonrpc");
    }
  }
  const bool tcp = health.type == HealthConfig::Type::tcp;
  const bool jsonrpc = health.type == HealthConfig::Type::jsonrpc;
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
    } else if (jsonrpc) {
      health.rpc_method = method;
    } else {
      health.http_method = method;
    }
  }
  if (only_for("expect", health.type == HealthConfig::Type::http, "http"))
    read_expect(r, path, health);
  if (only_for("body", health.type == HealthConfig::Type::http, "http"))
    r.read_string("body", health.body);
  if (only_for("headers", !tcp, "http and jsonrpc")) read_headers(r, path, health);
  if (only_for("host", !tcp, "http and jsonrpc") && r.read_string("host", health.host)) {
    std::string why;
    if (!parse_host_port(health.host + ":0", &why)) {
      diag.error(r.take("host")->source(),
                 path + ".host: \"" + health.host + "\" is not a host name");
    }
  }
  r.read_duration("interval", health.interval, Duration{10});
  r.read_duration("timeout", health.timeout, Duration{1});
  r.read_duration("jitter", health.jitter, Duration{0});
  std::uint64_t value = 0;
  if (r.read_uint("rise", value, 1, 100)) health.rise = static_cast<std::uint32_t>(value);
  if (r.read_uint("fall", value, 1, 100)) health.fall = static_cast<std::uint32_t>(value);
  if (only_for("max_lag_blocks", jsonrpc, "jsonrpc")) {
    r.read_uint("max_lag_blocks", health.max_lag_blocks, 1, std::uint64_t{1} << 40);
  }
  r.finish();
  pool.health = std::move(health);
}

void load_outlier(const toml::node& node, const std::string& path, Diagnostics& diag,
                  PoolConfig& pool) {
  const toml::table* table = table_of(node, path, "{ consecutive_failures = 5 }", diag);
  if (table == nullptr) return;
  TableReader r(*table, path, diag);
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
  if (outlier.max_ejection < outlier.base_ejection) {
    diag.error(node.source(), path + ": max_ejection must be at least base_ejection");
  }
  r.finish();
  pool.outlier = outlier;
}

void load_retries(const toml::node& node, const std::string& path, Diagnostics& diag,
                  PoolConfig& pool) {
  const toml::table* table = table_of(node, path, "{ attempts = 2, budget_percent = 20 }", diag);
  if (table == nullptr) return;
  TableReader r(*table, path, diag);
  std::uint64_t value = 0;
  if (r.read_uint("attempts", value, 0, 10))
    pool.retries.attempts = static_cast<std::uint32_t>(value);
  if (r.read_uint("budget_percent", value, 0, 100)) {
    pool.retries.budget_percent = static_cast<std::uint32_t>(value);
  }
  if (r.read_uint("budget_min", value, 0, 100000)) {
    pool.retries.budget_min = static_cast<std::uint32_t>(value);
  }
  r.finish();
}

}  // namespace

void load_pool_resilience(TableReader& r, const std::string& path, PoolConfig& pool) {
  if (const toml::node* node = r.take("health"))
    load_health(*node, path + ".health", r.diag(), pool);
  if (const toml::node* node = r.take("outlier"))
    load_outlier(*node, path + ".outlier", r.diag(), pool);
  if (const toml::node* node = r.take("retries"))
    load_retries(*node, path + ".retries", r.diag(), pool);
  r.read_duration("slow_start", pool.slow_start, Duration{0});
  std::uint64_t panic = pool.panic_threshold;
  if (r.read_uint("panic_threshold", panic, 0, 100))
    pool.panic_threshold = static_cast<std::uint32_t>(panic);
}

}  // namespace veer::conf::detail
