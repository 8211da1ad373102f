#pragma once

// The rules a progressive rollout's definition must meet (docs/CONFIG.md,
// "[rollouts.NAME]"), shared by the TOML loader (conf/load_rollouts.cpp) and by
// POST /api/v1/rollouts, which checks a body against the running configuration.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "conf/config.hpp"

namespace veer::conf {

// One broken rule: `key` is the field it is about, as the file and the JSON body spell
// it ("split", "steps[2]", "guards.latency.quantile"), or "" for the rollout as a whole
// (the admin API it needs); `message` says what is wrong, without the key.
struct RolloutProblem {
  std::string key;
  std::string message;
};
std::vector<RolloutProblem> rollout_problems(const RolloutConfig& rollout, const Config& config);

// Every problem of `rollout` against `config` as "KEY: message" (empty: valid). Not
// checked here: at most one rollout per split (the caller knows the other rollouts; the
// loader checks it among the file's).
std::vector<std::string> check_rollout(const RolloutConfig& rollout, const Config& config);

// A step's percent (0 to 100, at most 2 decimals: 0.5 and 12.25 are fine) in basis
// points (1 % = 100); nullopt for anything else (NaN, 1.234, -1, 100.5).
std::optional<std::uint32_t> percent_to_basis_points(double percent);
double basis_points_to_percent(std::uint32_t basis_points);

}  // namespace veer::conf
