#pragma once

// Runtime changes made through the admin API. They are applied on top of the config
// file at every load (start, SIGHUP, POST /api/v1/reload), so they go through exactly
// the validation a file does, and they are what server.state_file persists.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "conf/load.hpp"

namespace veer::conf {

struct BackendOverride {
  std::string address;
  std::uint64_t weight = 1;
  bool backup = false;
  friend bool operator==(const BackendOverride&, const BackendOverride&) = default;
};

struct Overrides {
  // A pool's whole backend list, replacing the file's.
  std::map<std::string, std::vector<BackendOverride>> pool_backends;
  // A split's whole target table, replacing the file's.
  std::map<std::string, std::map<std::string, std::uint64_t>> split_targets;
  // Backends taken out by an operator ("down") or drained ("drain"): pool -> addresses.
  std::map<std::string, std::set<std::string>> disabled;
  std::map<std::string, std::set<std::string>> drained;

  bool empty() const {
    return pool_backends.empty() && split_targets.empty() && disabled.empty() && drained.empty();
  }
  friend bool operator==(const Overrides&, const Overrides&) = default;
};

// load_config_string with `overrides` applied to the parsed document before validation.
// Errors in overridden parts name the key; their line and column are 0.
LoadResult load_config_with(std::string_view toml_text, std::string_view name,
                            const Overrides& overrides);

}  // namespace veer::conf
