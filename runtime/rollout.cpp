#include "runtime/rollout.hpp"

#include <array>
#include <cmath>
#include <cstdio>

#include "conf/duration.hpp"

namespace veer::runtime {
namespace {

constexpr std::uint32_t kAllOfIt = 10000;  // basis points

constexpr std::array<const char*, 6> kStateNames = {"running",  "paused",      "inconclusive",
                                                    "promoted", "rolled_back", "aborted"};

std::string percent(double ratio) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3g %%", ratio * 100);
  return text;
}

std::string milliseconds(double ms) {
  if (std::isnan(ms)) return "none";
  char text[32];
  std::snprintf(text, sizeof text, "%.3g ms", ms);
  return text;
}

std::string share_of_step(const conf::RolloutConfig& config, std::uint32_t step) {
  char text[64];
  std::snprintf(text, sizeof text, "step %u of %zu (%g %%)", step + 1, config.steps.size(),
                config.steps[step] / 100.0);
  return text;
}

std::string counts(const TargetEvidence& stable, const TargetEvidence& canary) {
  return "canary " + std::to_string(canary.errors) + "/" + std::to_string(canary.requests) +
         " errors (" + percent(canary.error_ratio()) + "), stable " +
         std::to_string(stable.errors) + "/" + std::to_string(stable.requests) + " (" +
         percent(stable.error_ratio()) + ")";
}

std::string describe_error_guard(const GuardJudgement& j) {
  return "error_ratio " + std::string(to_string(j.verdict)) + ": canary - stable in [" +
         percent(j.bound.low) + ", " + percent(j.bound.high) + "], tolerance " + percent(j.limit);
}

std::string describe_latency_guard(const conf::LatencyGuardConfig& guard, const GuardJudgement& j) {
  char q[16];
  std::snprintf(q, sizeof q, "p%g", guard.quantile * 100);
  return "latency " + std::string(to_string(j.verdict)) + ": " + q + " stable " +
         milliseconds(j.stable_value) + ", canary " + milliseconds(j.canary_value) +
         "; share of canary answers above " + milliseconds(j.threshold_ms) + " in [" +
         percent(j.bound.low) + ", " + percent(j.bound.high) + "], limit " + percent(j.limit);
}

// The figures behind a decision: n per target, ratios, each guard's bound.
std::string figures(const conf::RolloutConfig& config, const RolloutProgress& progress,
                    const RolloutJudgement& judgement) {
  std::string text = counts(progress.stable, progress.canary);
  if (judgement.has_error_ratio) text += "; " + describe_error_guard(judgement.error_ratio);
  if (judgement.has_latency)
    text += "; " + describe_latency_guard(*config.latency, judgement.latency);
  return text;
}

void record(const conf::RolloutConfig& config, RolloutProgress& progress, std::int64_t now,
            std::string event, std::string detail, RolloutDecision& decision) {
  RolloutEvent e{now, progress.step, canary_weight(config, progress), std::move(event),
                 std::move(detail)};
  if (progress.history.size() >= kRolloutHistory) progress.history.erase(progress.history.begin());
  progress.history.push_back(e);
  decision.events.push_back(std::move(e));
}

void set_weight(const conf::RolloutConfig& config, const RolloutProgress& progress,
                RolloutDecision& decision) {
  decision.weight_changed = true;
  decision.canary_weight_bp = canary_weight(config, progress);
}

void enter_step(const conf::RolloutConfig& config, RolloutProgress& progress, std::uint32_t step) {
  progress.step = step;
  progress.step_running_ms = 0;
  progress.stable = {};
  progress.canary = {};
  progress.state = RolloutState::running;
  progress.reason = "judging " + share_of_step(config, step);
}

void finish(const conf::RolloutConfig& config, RolloutProgress& progress, RolloutState state,
            std::string reason, std::int64_t now, std::string event, std::string detail,
            RolloutDecision& decision) {
  progress.state = state;
  // Promotion ends at the last step (a step of 100 % is never judged: the stable would
  // have no traffic left to compare with).
  if (state == RolloutState::promoted)
    progress.step = static_cast<std::uint32_t>(config.steps.size() - 1);
  progress.reason = std::move(reason);
  record(config, progress, now, std::move(event), std::move(detail), decision);
  set_weight(config, progress, decision);
}

// A passed step: the next one, or promotion after the last (or before a step of 100 %,
// where the stable has no traffic left to compare with).
void pass_step(const conf::RolloutConfig& config, RolloutProgress& progress, std::int64_t now,
               const std::string& detail, RolloutDecision& decision) {
  const std::uint32_t next = progress.step + 1;
  if (next >= config.steps.size() || config.steps[next] >= kAllOfIt) {
    finish(config, progress, RolloutState::promoted,
           "promoted: every guard passed " + share_of_step(config, progress.step), now, "promoted",
           detail, decision);
    return;
  }
  const std::string passed = share_of_step(config, progress.step);
  enter_step(config, progress, next);
  record(config, progress, now, "passed", passed + " passed: " + detail, decision);
  set_weight(config, progress, decision);
}

std::string finished_why(const std::string& action, RolloutState state) {
  return "cannot " + action + ": the rollout is " + to_string(state) + " (finished)";
}

}  // namespace

const char* to_string(RolloutState state) {
  return kStateNames[static_cast<std::size_t>(state)];
}

bool parse_rollout_state(std::string_view text, RolloutState& state) {
  for (std::size_t i = 0; i < kStateNames.size(); ++i) {
    if (text == kStateNames[i]) {
      state = static_cast<RolloutState>(i);
      return true;
    }
  }
  return false;
}

bool finished(RolloutState state) {
  return state == RolloutState::promoted || state == RolloutState::rolled_back ||
         state == RolloutState::aborted;
}

std::uint32_t canary_weight(const conf::RolloutConfig& config, const RolloutProgress& progress) {
  switch (progress.state) {
    case RolloutState::promoted:
      return kAllOfIt;
    case RolloutState::rolled_back:
    case RolloutState::aborted:
      return 0;
    default:
      return progress.step < config.steps.size() ? config.steps[progress.step] : 0;
  }
}

RolloutJudgement judge_rollout(const conf::RolloutConfig& config, const RolloutProgress& progress) {
  RolloutJudgement j;
  bool all_pass = true;
  bool any_fail = false;
  const auto weigh = [&](const GuardJudgement& g) {
    all_pass = all_pass && g.verdict == Verdict::pass;
    any_fail = any_fail || g.verdict == Verdict::fail;
  };
  if (config.error_ratio) {
    j.has_error_ratio = true;
    j.error_ratio = judge_error_ratio(progress.stable, progress.canary, *config.error_ratio);
    weigh(j.error_ratio);
  }
  if (config.latency) {
    j.has_latency = true;
    j.latency = judge_latency(progress.stable, progress.canary, *config.latency);
    weigh(j.latency);
  }
  const bool any_guard = j.has_error_ratio || j.has_latency;
  j.overall = any_fail ? Verdict::fail : any_guard && all_pass ? Verdict::pass : Verdict::pending;
  return j;
}

RolloutProgress start_rollout(const conf::RolloutConfig& config, std::int64_t now_unix_ms,
                              RolloutDecision& decision) {
  RolloutProgress progress;
  enter_step(config, progress, 0);
  record(config, progress, now_unix_ms, "started", progress.reason, decision);
  set_weight(config, progress, decision);
  return progress;
}

RolloutDecision tick_rollout(const conf::RolloutConfig& config, RolloutProgress& progress,
                             const TargetEvidence& stable_delta, const TargetEvidence& canary_delta,
                             std::int64_t elapsed_ms, std::int64_t now_unix_ms) {
  RolloutDecision decision;
  if (finished(progress.state)) return decision;
  // Paused and inconclusive steps keep their weight, so their traffic is evidence too.
  progress.stable.add(stable_delta);
  progress.canary.add(canary_delta);
  if (progress.state == RolloutState::running) progress.step_running_ms += elapsed_ms;
  const RolloutJudgement judgement = judge_rollout(config, progress);
  if (judgement.overall == Verdict::fail) {
    const std::string detail = figures(config, progress, judgement);
    finish(config, progress, RolloutState::rolled_back,
           "rolled back at " + share_of_step(config, progress.step) + ": " + detail, now_unix_ms,
           "failed", detail, decision);
    return decision;
  }
  if (progress.state != RolloutState::running) return decision;
  if (judgement.overall == Verdict::pass && progress.step_running_ms >= config.min_step.count()) {
    pass_step(config, progress, now_unix_ms, figures(config, progress, judgement), decision);
    return decision;
  }
  if (progress.step_running_ms >= config.max_step.count()) {
    const std::string detail = figures(config, progress, judgement);
    progress.state = RolloutState::inconclusive;
    progress.reason = "inconclusive: " + share_of_step(config, progress.step) +
                      " reached max_step " + conf::format_duration(config.max_step) +
                      " without enough evidence to promote or roll back (" + detail +
                      "); holding the weight until an operator resumes, promotes or aborts";
    record(config, progress, now_unix_ms, "inconclusive", detail, decision);
  }
  return decision;
}

bool parse_rollout_action(std::string_view text, RolloutAction& action) {
  static constexpr std::array<std::pair<std::string_view, RolloutAction>, 4> kActions = {{
      {"pause", RolloutAction::pause},
      {"resume", RolloutAction::resume},
      {"promote", RolloutAction::promote},
      {"abort", RolloutAction::abort},
  }};
  for (const auto& [name, value] : kActions) {
    if (text == name) {
      action = value;
      return true;
    }
  }
  return false;
}

bool act_on_rollout(const conf::RolloutConfig& config, RolloutProgress& progress,
                    RolloutAction action, std::int64_t now_unix_ms, RolloutDecision& decision,
                    std::string* why) {
  const RolloutState state = progress.state;
  // Repeating an action is a no-op that succeeds (the API's mutations are idempotent).
  const bool repeated = (action == RolloutAction::pause && state == RolloutState::paused) ||
                        (action == RolloutAction::resume && state == RolloutState::running) ||
                        (action == RolloutAction::promote && state == RolloutState::promoted) ||
                        (action == RolloutAction::abort && state == RolloutState::aborted);
  if (repeated) return true;
  static constexpr std::array<const char*, 4> kNames = {"pause", "resume", "promote", "abort"};
  if (finished(state)) {
    *why = finished_why(kNames[static_cast<std::size_t>(action)], state);
    return false;
  }
  const std::string where = share_of_step(config, progress.step);
  switch (action) {
    case RolloutAction::pause:
      progress.state = RolloutState::paused;
      progress.reason = "paused by an operator at " + where + "; a failing guard still rolls back";
      record(config, progress, now_unix_ms, "paused", progress.reason, decision);
      return true;
    case RolloutAction::resume:
      // An inconclusive step gets another max_step (and min_step) with the evidence so far.
      if (state == RolloutState::inconclusive ||
          progress.step_running_ms >= config.max_step.count())
        progress.step_running_ms = 0;
      progress.state = RolloutState::running;
      progress.reason = "judging " + where;
      record(config, progress, now_unix_ms, "resumed", progress.reason, decision);
      return true;
    case RolloutAction::promote:
      finish(config, progress, RolloutState::promoted, "promoted by an operator at " + where,
             now_unix_ms, "promoted", "by an operator at " + where, decision);
      return true;
    case RolloutAction::abort:
      finish(config, progress, RolloutState::aborted, "aborted by an operator at " + where,
             now_unix_ms, "aborted", "by an operator at " + where, decision);
      return true;
  }
  return false;
}

void note_rollout_event(const conf::RolloutConfig& config, RolloutProgress& progress,
                        std::int64_t now_unix_ms, std::string event, std::string detail,
                        RolloutDecision& decision) {
  record(config, progress, now_unix_ms, std::move(event), std::move(detail), decision);
}

}  // namespace veer::runtime
