#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.hpp"

namespace veer::conf {

struct ConfigError {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string message;

  // "FILE:LINE:COLUMN: message", the format editors and CI annotate.
  std::string to_string() const;
};

struct LoadResult {
  std::optional<Config> config;       // set only when errors is empty
  std::vector<ConfigError> errors;    // every error found, in file order
  std::vector<ConfigError> warnings;  // legal but probably unintended (an unused pool)
  bool ok() const { return config.has_value(); }
};

// Reads, parses and validates a configuration file, including semantic checks
// (references between sections, duplicates, ranges) and resolution of backend host
// names. Blocking: call from the main thread, never from a worker.
LoadResult load_config_file(const std::string& path);

// Same, from text; `name` stands in for the file name in errors.
LoadResult load_config_string(std::string_view toml_text, std::string_view name);

}  // namespace veer::conf
