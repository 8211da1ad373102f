#pragma once

// server.state_file: the admin API's overrides as JSON, written atomically (temporary
// file, fsync, rename, fsync of the directory) so that a crash at any moment leaves
// either the old or the new state, never half of one.

#include <cstdint>
#include <optional>
#include <string>

#include "conf/overrides.hpp"

namespace veer::admin {

std::string state_to_json(const conf::Overrides& overrides);
std::optional<conf::Overrides> state_from_json(const std::string& text, std::string* why);

// Writes `text` to `path` atomically. False with *why on any failure (nothing replaced).
bool write_atomically(const std::string& path, const std::string& text, std::string* why);

// Reads the state file; an absent file is an empty state. nullopt with *why when it
// exists but cannot be read or parsed.
std::optional<conf::Overrides> read_state_file(const std::string& path, std::string* why);

}  // namespace veer::admin
