#pragma once

// server.state_file: the runtime changes (conf/overrides.hpp) as JSON, written
// atomically (temporary file, fsync, rename, fsync of the directory) so that a crash at
// any moment leaves either the old or the new state, never half of one.

#include <optional>
#include <string>
#include <vector>

#include "conf/overrides.hpp"
#include "runtime/rollout.hpp"

namespace veer::admin {

// Format 2: {"format": 2, "backends": {POOL: {ADDRESS: {...}}}, "splits": {SPLIT: {...}}},
// and "limits": {POLICY: {...}} when a rate-limit policy was changed (docs/OPERATIONS.md,
// "State file"). Without limit changes the text is what veer wrote before them.
std::string state_to_json(const conf::Overrides& changes);
// The same, and "rollouts": {NAME: {"source", "config", "progress"}} when there is one
// (admin/rollout_json.hpp rollout_record_json); without rollouts the text is the one
// above, byte for byte.
std::string state_to_json(const conf::Overrides& changes,
                          const std::vector<runtime::RolloutRecord>& rollouts);
// Reads format 2, and format 1 (whole backend lists per pool, from veer before 0.2),
// which needs `file`, the configuration file alone, to tell additions from updates.
// nullopt with *why naming the field when the text is not a state file (a malformed
// "rollouts" entry included). Its rollouts go to *rollouts when given (in the file's
// order; none in format 1); they are checked for shape only: whether the file still
// allows them is the caller's question (conf/rollout_rules.hpp).
std::optional<conf::Overrides> state_from_json(
    const std::string& text, const conf::Config& file, std::string* why,
    std::vector<runtime::RolloutRecord>* rollouts = nullptr);

// Writes `text` to `path` atomically. False with *why on any failure (nothing replaced).
bool write_atomically(const std::string& path, const std::string& text, std::string* why);

// Reads the state file; an absent file is an empty state. nullopt with *why when it
// exists but cannot be read or parsed.
std::optional<conf::Overrides> read_state_file(
    const std::string& path, const conf::Config& file, std::string* why,
    std::vector<runtime::RolloutRecord>* rollouts = nullptr);

// veer check: reads the state file `file` names (its text is `text`) and applies the
// rule a start would. False with *error when the state file cannot be read or is not
// one; each change the rule would drop is added to *dropped.
// Its rollouts go to *rollouts when given.
bool check_state_file(const std::string& text, const conf::Config& file,
                      std::vector<std::string>* dropped, std::string* error,
                      std::vector<runtime::RolloutRecord>* rollouts = nullptr);

}  // namespace veer::admin
