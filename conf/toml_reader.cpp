#include "conf/toml_reader.hpp"

#include <algorithm>

#include "conf/key_suggest.hpp"

namespace veer::conf::detail {

SourcePos position_of(const toml::source_region& where) {
  return SourcePos{static_cast<std::uint32_t>(where.begin.line),
                   static_cast<std::uint32_t>(where.begin.column)};
}

bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
  });
}

std::optional<TableReader> open_table(const toml::node& node, const std::string& path,
                                      std::string_view example, Diagnostics& diag) {
  if (!node.is_table()) {
    diag.error(node.source(), path + ": expected a table such as " + std::string(example));
    return std::nullopt;
  }
  return std::optional<TableReader>(std::in_place, *node.as_table(), path, diag);
}

std::optional<TableReader> open_named_table(std::string_view section, std::string_view name,
                                            const toml::node& node, Diagnostics& diag) {
  std::string path = std::string(section) + "." + std::string(name);
  if (!node.is_table()) {
    diag.error(node.source(), path + ": expected a table");
    return std::nullopt;
  }
  if (!valid_name(name)) {
    // "pools" -> "pool names use ..."
    diag.error(node.source(), path + ": " + std::string(section.substr(0, section.size() - 1)) +
                                  " names use letters, digits, '-', '_' and '.'");
  }
  return std::optional<TableReader>(std::in_place, *node.as_table(), std::move(path), diag);
}

void Diagnostics::error(const toml::source_region& where, std::string message) {
  error(position_of(where), std::move(message));
}

void Diagnostics::error(SourcePos where, std::string message) {
  errors_.push_back(ConfigError{file_, where.line, where.column, std::move(message)});
}

void Diagnostics::warning(const toml::source_region& where, std::string message) {
  const SourcePos pos = position_of(where);
  warnings_.push_back(ConfigError{file_, pos.line, pos.column, std::move(message)});
}

std::vector<ConfigError> Diagnostics::take_errors() {
  std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
    return a.line != b.line ? a.line < b.line : a.column < b.column;
  });
  return std::move(errors_);
}

TableReader::TableReader(const toml::table& table, std::string path, Diagnostics& diag)
    : table_(table), path_(std::move(path)), diag_(diag) {}

std::string TableReader::path_of(std::string_view key) const {
  return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
}

const toml::node* TableReader::take(std::string_view key) {
  known_.push_back(key);
  return table_.get(key);
}

bool TableReader::asked(std::string_view key) const {
  return std::find(known_.begin(), known_.end(), key) != known_.end();
}

void TableReader::refuse(std::string_view key, std::string_view why) {
  if (const toml::node* node = take(key)) {
    diag_.error(node->source(), path_of(key) + ": " + std::string(why));
  }
}

bool TableReader::read_string(std::string_view key, std::string& out) {
  const toml::node* node = take(key);
  if (node == nullptr) return false;
  if (!node->is_string()) {
    diag_.error(node->source(), path_of(key) + ": expected a string");
    return false;
  }
  out = node->as_string()->get();
  return true;
}

bool TableReader::read_bool(std::string_view key, bool& out) {
  const toml::node* node = take(key);
  if (node == nullptr) return false;
  if (!node->is_boolean()) {
    diag_.error(node->source(), path_of(key) + ": expected true or false");
    return false;
  }
  out = node->as_boolean()->get();
  return true;
}

bool read_uint_node(const toml::node& node, const std::string& path, Diagnostics& diag,
                    std::uint64_t& out, std::uint64_t min, std::uint64_t max) {
  if (!node.is_integer()) {
    diag.error(node.source(), path + ": expected an integer");
    return false;
  }
  const std::int64_t value = node.as_integer()->get();
  if (value < 0 || static_cast<std::uint64_t>(value) < min ||
      static_cast<std::uint64_t>(value) > max) {
    diag.error(node.source(), path + ": " + std::to_string(value) + " is out of range (" +
                                  std::to_string(min) + "-" + std::to_string(max) + ")");
    return false;
  }
  out = static_cast<std::uint64_t>(value);
  return true;
}

bool TableReader::read_uint(std::string_view key, std::uint64_t& out, std::uint64_t min,
                            std::uint64_t max) {
  const toml::node* node = take(key);
  if (node == nullptr) return false;
  return read_uint_node(*node, path_of(key), diag_, out, min, max);
}

bool TableReader::read_duration(std::string_view key, Duration& out, Duration min) {
  const toml::node* node = take(key);
  if (node == nullptr) return false;
  if (!node->is_string()) {
    diag_.error(node->source(),
                path_of(key) + ": expected a duration string with a unit, such as \"2s\"");
    return false;
  }
  const std::string& text = node->as_string()->get();
  const auto parsed = parse_duration(text);
  if (!parsed) {
    diag_.error(node->source(), path_of(key) + ": bad duration \"" + text +
                                    "\" (use a number and a unit: ms, s, m, h; e.g. \"250ms\")");
    return false;
  }
  if (*parsed < min) {
    diag_.error(node->source(), path_of(key) + ": must be at least " + format_duration(min));
    return false;
  }
  out = *parsed;
  return true;
}

void TableReader::finish() {
  for (auto&& [key, node] : table_) {
    const std::string_view name = key.str();
    if (std::find(known_.begin(), known_.end(), name) != known_.end()) continue;
    std::string message = path_of(name) + ": unknown key";
    if (const auto meant = closest_key(name, known_)) {
      message += " (did you mean \"" + std::string(*meant) + "\"?)";
    }
    diag_.error(key.source(), std::move(message));
  }
}

}  // namespace veer::conf::detail
