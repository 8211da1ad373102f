#pragma once

// Rollouts as JSON (docs/ADMIN-API.md "Rollouts", docs/OPERATIONS.md "State file"): the
// definition POST /api/v1/rollouts takes and the API shows, a target's evidence and a
// rollout's progress as the state file keeps them. Every reader refuses an unknown
// field or a wrong type with a message naming the field, never a library's words.

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string>

#include "conf/config.hpp"
#include "runtime/rollout.hpp"
#include "runtime/rollout_judge.hpp"

namespace veer::admin {

// {"name", "split", "stable", "canary", "steps": [percent, ...], "min_step", "max_step",
// "guards": {"error_ratio": {...}, "latency": {...}}}: name, split, stable, canary and
// steps required; durations as conf::parse_duration reads them; no guards: error_ratio
// with its defaults. nullopt with *why ("steps[2]: ...") when the shape is wrong; the
// rules (conf/rollout_rules.hpp check_rollout) are the caller's to apply.
std::optional<conf::RolloutConfig> rollout_from_json(const boost::json::value& body,
                                                     std::string* why);
// The same fields, read back the same by rollout_from_json (steps as percents: integers
// when whole; durations in conf::format_duration's spelling).
boost::json::object rollout_config_json(const conf::RolloutConfig& rollout);

// {"requests": N, "errors": N, "latency": [[bucket, count], ...]}: only non-empty
// buckets, in increasing order.
boost::json::object evidence_json(const runtime::TargetEvidence& evidence);
std::optional<runtime::TargetEvidence> evidence_from_json(const boost::json::value& value,
                                                          std::string* why);

// {"state", "step" (index into steps), "step_running_ms", "stable": EVIDENCE,
//  "canary": EVIDENCE, "reason", "history": [{"unix_ms", "step", "weight_bp", "event",
//  "detail"}, ...]}. A longer history than runtime::kRolloutHistory keeps its newest.
boost::json::object progress_json(const runtime::RolloutProgress& progress);
std::optional<runtime::RolloutProgress> progress_from_json(const boost::json::value& value,
                                                           std::string* why);

// The state file's entry for one rollout: {"source": "config"|"api", "config":
// DEFINITION, "progress": PROGRESS}. The reader names fields from `path` on
// ("rollouts.r1"), checks that config.name is `name` and that the step exists.
boost::json::object rollout_record_json(const runtime::RolloutRecord& record);
std::optional<runtime::RolloutRecord> rollout_record_from_json(const boost::json::value& value,
                                                               const std::string& name,
                                                               const std::string& path,
                                                               std::string* why);

}  // namespace veer::admin
