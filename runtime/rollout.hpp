#pragma once

// One progressive rollout's progress and its transitions (docs/RELEASES.md, "Automated
// rollouts"): pure functions of the configuration, the progress and what was observed,
// so the server's control thread drives them with real counts and time, and tests drive
// them with simulated ones. The split's weights follow canary_weight(); the server
// applies them as a runtime change of the split (monotone buckets: a key that reached
// the canary stays on it while its share grows).

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "conf/config.hpp"
#include "runtime/rollout_judge.hpp"

namespace veer::runtime {

enum class RolloutState : std::uint8_t {
  running,       // judging the current step
  paused,        // an operator's pause: the weight holds; a failing guard still rolls back
  inconclusive,  // max_step passed without enough evidence: the weight holds
  promoted,      // the canary takes 100 %
  rolled_back,   // a guard failed: the canary takes 0 %
  aborted,       // an operator's abort: the canary takes 0 %
};
const char* to_string(RolloutState state);
bool parse_rollout_state(std::string_view text, RolloutState& state);
// promoted, rolled_back and aborted: nothing moves any more.
bool finished(RolloutState state);

// One line of a rollout's history (an audit line and a log line carry the same words).
struct RolloutEvent {
  std::int64_t unix_ms = 0;
  std::uint32_t step = 0;       // index into steps
  std::uint32_t weight_bp = 0;  // the canary's share after the event, basis points
  std::string event;            // started, passed, failed, inconclusive, paused, resumed, promoted,
                                // aborted, restarted
  std::string detail;           // the figures: n per target, ratios, the bound that decided
  friend bool operator==(const RolloutEvent&, const RolloutEvent&) = default;
};

inline constexpr std::size_t kRolloutHistory = 200;  // oldest events dropped beyond

struct RolloutProgress {
  RolloutState state = RolloutState::running;
  std::uint32_t step = 0;            // index into RolloutConfig::steps
  std::int64_t step_running_ms = 0;  // time judged in this step (not paused, not down)
  TargetEvidence stable;             // this step's evidence
  TargetEvidence canary;
  std::string reason;                 // why it is in its state, in words
  std::vector<RolloutEvent> history;  // at most kRolloutHistory, oldest first
  friend bool operator==(const RolloutProgress&, const RolloutProgress&) = default;
};

// A rollout as the server keeps it and the state file stores it.
struct RolloutRecord {
  conf::RolloutConfig config;
  bool from_file = false;  // defined by [rollouts.NAME]; else started through the API
  RolloutProgress progress;
  friend bool operator==(const RolloutRecord&, const RolloutRecord&) = default;
};

// The canary's share now, in basis points: the step's while running, paused or
// inconclusive; 10000 promoted; 0 rolled back or aborted.
std::uint32_t canary_weight(const conf::RolloutConfig& config, const RolloutProgress& progress);

// What one transition did: the weight the split must take (when `weight_changed`), and
// the event it recorded (also appended to the history) for the log and the audit log.
struct RolloutDecision {
  bool weight_changed = false;
  std::uint32_t canary_weight_bp = 0;
  std::vector<RolloutEvent> events;
};

// A new rollout at its first step.
RolloutProgress start_rollout(const conf::RolloutConfig& config, std::int64_t now_unix_ms,
                              RolloutDecision& decision);

// Judges the step with what the targets answered since the last tick (`stable_delta`,
// `canary_delta`) and `elapsed_ms` of running time. Fail rolls back at once; pass after
// min_step moves to the next step (with fresh evidence) or promotes after the last;
// max_step without a verdict pauses as inconclusive.
RolloutDecision tick_rollout(const conf::RolloutConfig& config, RolloutProgress& progress,
                             const TargetEvidence& stable_delta, const TargetEvidence& canary_delta,
                             std::int64_t elapsed_ms, std::int64_t now_unix_ms);

enum class RolloutAction : std::uint8_t { pause, resume, promote, abort };
bool parse_rollout_action(std::string_view text, RolloutAction& action);

// An operator's action. False with *why when it does not apply to the state (resume of
// a running rollout, anything on a finished one).
bool act_on_rollout(const conf::RolloutConfig& config, RolloutProgress& progress,
                    RolloutAction action, std::int64_t now_unix_ms, RolloutDecision& decision,
                    std::string* why);

// Records an event the server observed (a restart, a reload that ended the rollout).
void note_rollout_event(const conf::RolloutConfig& config, RolloutProgress& progress,
                        std::int64_t now_unix_ms, std::string event, std::string detail,
                        RolloutDecision& decision);

// The guards' judgements on the step's evidence (the view and the metrics show them).
struct RolloutJudgement {
  bool has_error_ratio = false;
  GuardJudgement error_ratio;
  bool has_latency = false;
  GuardJudgement latency;
  Verdict overall = Verdict::pending;
};
RolloutJudgement judge_rollout(const conf::RolloutConfig& config, const RolloutProgress& progress);

}  // namespace veer::runtime
