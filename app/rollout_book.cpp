#include "app/rollout_book.hpp"

#include <algorithm>
#include <cstdio>

#include "conf/rollout_rules.hpp"

namespace veer::app {
namespace {

using runtime::RolloutDecision;
using runtime::RolloutRecord;
using runtime::TargetEvidence;

bool same_definition(conf::RolloutConfig a, conf::RolloutConfig b) {
  a.pos = {};
  b.pos = {};
  return a == b;
}

std::string where(const RolloutRecord& r) {
  char text[96];
  std::snprintf(text, sizeof text, "step %u of %zu, canary %g %%", r.progress.step + 1,
                r.config.steps.size(), runtime::canary_weight(r.config, r.progress) / 100.0);
  return text;
}

// The split's targets name both pools.
const char* missing_target(const conf::SplitConfig& split, const conf::RolloutConfig& rollout) {
  const auto has = [&](const std::string& pool) {
    return std::any_of(split.targets.begin(), split.targets.end(),
                       [&](const conf::SplitTargetConfig& t) { return t.pool == pool; });
  };
  if (!has(rollout.stable)) return "stable";
  if (!has(rollout.canary)) return "canary";
  return nullptr;
}

bool weights_differ(const conf::SplitConfig& split,
                    const std::map<std::string, std::uint64_t>& wanted) {
  for (const conf::SplitTargetConfig& t : split.targets) {
    const auto it = wanted.find(t.pool);
    if (it == wanted.end() || it->second != t.weight) return true;
  }
  return false;
}

}  // namespace

std::map<std::string, std::uint64_t> rollout_weights(const conf::SplitConfig& split,
                                                     const conf::RolloutConfig& rollout,
                                                     std::uint32_t canary_bp) {
  std::map<std::string, std::uint64_t> weights;
  for (const conf::SplitTargetConfig& t : split.targets) {
    weights[t.pool] = t.pool == rollout.canary   ? canary_bp
                      : t.pool == rollout.stable ? 10000 - canary_bp
                                                 : 0;
  }
  return weights;
}

TargetEvidence evidence_since(const TargetEvidence& now, const TargetEvidence& earlier) {
  if (now.requests < earlier.requests || now.errors < earlier.errors) return now;
  TargetEvidence moved;
  moved.requests = now.requests - earlier.requests;
  moved.errors = now.errors - earlier.errors;
  for (std::size_t i = 0; i < moved.latency.size(); ++i) {
    if (now.latency[i] < earlier.latency[i]) return now;
    moved.latency[i] = now.latency[i] - earlier.latency[i];
  }
  return moved;
}

void RolloutBook::apply(const RolloutRecord& record, const RolloutDecision& decision,
                        const conf::Config& running, RolloutEffects& effects) const {
  for (const runtime::RolloutEvent& e : decision.events) {
    effects.lines.push_back("rollout " + record.config.name + ": " + e.event + " at " +
                            where(record) + ": " + e.detail);
    effects.persist = true;
  }
  if (!decision.weight_changed) return;
  if (const conf::SplitConfig* split = running.find_split(record.config.split)) {
    effects.split_weights[split->name] =
        rollout_weights(*split, record.config, decision.canary_weight_bp);
  }
}

void RolloutBook::restore(std::vector<RolloutRecord> records, std::int64_t now_ms,
                          RolloutEffects& effects) {
  records_.clear();
  for (RolloutRecord& r : records) {
    if (!runtime::finished(r.progress.state)) {
      RolloutDecision decision;
      runtime::note_rollout_event(
          r.config, r.progress, now_ms, "restarted",
          "resumed after a restart, " + std::string(runtime::to_string(r.progress.state)) +
              ", with this step's evidence: canary " + std::to_string(r.progress.canary.requests) +
              " answers, stable " + std::to_string(r.progress.stable.requests),
          decision);
      for (const runtime::RolloutEvent& e : decision.events)
        effects.lines.push_back("rollout " + r.config.name + ": " + e.event + " at " + where(r) +
                                ": " + e.detail);
      effects.persist = true;
    }
    std::string name = r.config.name;
    records_.emplace(std::move(name), std::move(r));
  }
}

// Ends an unfinished rollout the configuration took away. Its canary goes to 0 % only
// where the split still runs with the rollout's weights and both its targets: a load that
// changed the split itself (the file's new weights, a target removed) has the last word.
void RolloutBook::end_rollout(RolloutRecord& record, const std::string& why, std::int64_t now_ms,
                              const conf::Config& running, RolloutEffects& effects) {
  if (runtime::finished(record.progress.state)) return;
  const conf::SplitConfig* split = running.find_split(record.config.split);
  const bool split_is_ours =
      split != nullptr && missing_target(*split, record.config) == nullptr &&
      !weights_differ(*split,
                      rollout_weights(*split, record.config,
                                      runtime::canary_weight(record.config, record.progress)));
  RolloutDecision decision;
  std::string ignored;
  runtime::act_on_rollout(record.config, record.progress, runtime::RolloutAction::abort, now_ms,
                          decision, &ignored);
  record.progress.reason = "aborted: " + why;
  if (!decision.events.empty()) decision.events.back().detail = why;
  if (!record.progress.history.empty()) record.progress.history.back().detail = why;
  if (!split_is_ours) decision.weight_changed = false;
  apply(record, decision, running, effects);
}

void RolloutBook::reconcile(const conf::Config& file, const conf::Config& running,
                            std::int64_t now_ms, RolloutEffects& effects) {
  for (auto it = records_.begin(); it != records_.end();) {
    RolloutRecord& r = it->second;
    const conf::RolloutConfig* defined = file.find_rollout(r.config.name);
    if (r.from_file && defined == nullptr) {
      end_rollout(r, "removed from the configuration file", now_ms, running, effects);
      effects.persist = true;
      it = records_.erase(it);
      continue;
    }
    if (defined != nullptr && (!r.from_file || !same_definition(r.config, *defined))) {
      end_rollout(r, "replaced by the configuration file's definition", now_ms, running, effects);
      effects.persist = true;
      it = records_.erase(it);
      continue;
    }
    if (defined != nullptr) r.config = *defined;  // the same rollout; its position may move
    ++it;
  }
  for (const conf::RolloutConfig& defined : file.rollouts) {
    if (records_.contains(defined.name)) continue;
    // The file's word wins over an operator's rollout on the same split.
    for (auto& [name, other] : records_) {
      if (other.config.split == defined.split)
        end_rollout(other, "superseded by the configuration file's rollout " + defined.name, now_ms,
                    running, effects);
    }
    RolloutDecision decision;
    RolloutRecord record{defined, true, runtime::start_rollout(defined, now_ms, decision)};
    apply(record, decision, running, effects);
    records_.emplace(defined.name, std::move(record));
  }
  for (auto& [name, r] : records_) {
    if (runtime::finished(r.progress.state)) continue;
    const conf::SplitConfig* split = running.find_split(r.config.split);
    const char* missing = split == nullptr ? "split" : missing_target(*split, r.config);
    if (missing != nullptr) {
      end_rollout(r,
                  std::string("the configuration no longer has its ") + missing + " (" +
                      (split == nullptr                   ? r.config.split
                       : std::string(missing) == "stable" ? r.config.stable
                                                          : r.config.canary) +
                      ")",
                  now_ms, running, effects);
      continue;
    }
    const auto wanted =
        rollout_weights(*split, r.config, runtime::canary_weight(r.config, r.progress));
    if (weights_differ(*split, wanted)) effects.split_weights[split->name] = wanted;
  }
}

void RolloutBook::tick(const Totals& totals, const conf::Config& running, std::int64_t elapsed_ms,
                       std::int64_t now_ms, RolloutEffects& effects) {
  const auto moved = [&](const std::string& split, const std::string& pool) {
    const runtime::SplitTargetKey key{split, pool};
    const auto now = totals.find(key);
    if (now == totals.end()) return TargetEvidence{};
    const auto before = last_.find(key);
    return before == last_.end() ? now->second : evidence_since(now->second, before->second);
  };
  for (auto& [name, r] : records_) {
    if (runtime::finished(r.progress.state)) continue;
    const RolloutDecision decision =
        runtime::tick_rollout(r.config, r.progress, moved(r.config.split, r.config.stable),
                              moved(r.config.split, r.config.canary), elapsed_ms, now_ms);
    apply(r, decision, running, effects);
  }
  last_ = totals;
}

RolloutReply RolloutBook::start(conf::RolloutConfig config, const conf::Config& running,
                                std::int64_t now_ms, RolloutEffects& effects) {
  if (const auto it = records_.find(config.name); it != records_.end()) {
    if (it->second.from_file)
      return {409, "rollout " + config.name + " is defined in the configuration file"};
    if (!runtime::finished(it->second.progress.state))
      return {409, "rollout " + config.name + " is " +
                       runtime::to_string(it->second.progress.state) +
                       "; abort or delete it before starting another by that name"};
  }
  std::vector<std::string> problems = conf::check_rollout(config, running);
  if (!problems.empty()) {
    std::string why = problems.front();
    for (std::size_t i = 1; i < problems.size(); ++i)
      why += "; " + problems[i];
    return {400, why};
  }
  if (const RolloutRecord* other = steering(config.split)) {
    return {409, "split " + config.split + " is already steered by rollout " + other->config.name +
                     " (" + runtime::to_string(other->progress.state) + ")"};
  }
  RolloutDecision decision;
  RolloutRecord record{config, false, runtime::start_rollout(config, now_ms, decision)};
  apply(record, decision, running, effects);
  records_.insert_or_assign(config.name, std::move(record));
  return {201, ""};
}

RolloutReply RolloutBook::act(const std::string& name, runtime::RolloutAction action,
                              const conf::Config& running, std::int64_t now_ms,
                              RolloutEffects& effects) {
  const auto it = records_.find(name);
  if (it == records_.end()) return {404, "no rollout named " + name};
  RolloutDecision decision;
  std::string why;
  if (!runtime::act_on_rollout(it->second.config, it->second.progress, action, now_ms, decision,
                               &why))
    return {409, why};
  apply(it->second, decision, running, effects);
  return {200, ""};
}

RolloutReply RolloutBook::forget(const std::string& name, const conf::Config& running,
                                 std::int64_t now_ms, RolloutEffects& effects) {
  const auto it = records_.find(name);
  if (it == records_.end()) return {404, "no rollout named " + name};
  RolloutDecision decision;
  std::string ignored;
  runtime::act_on_rollout(it->second.config, it->second.progress, runtime::RolloutAction::abort,
                          now_ms, decision, &ignored);
  apply(it->second, decision, running, effects);
  effects.persist = true;
  // The file's rollouts stay on record while the file names them, so a reload does not
  // start them again.
  if (!it->second.from_file) records_.erase(it);
  return {200, ""};
}

std::vector<RolloutRecord> RolloutBook::to_persist() const {
  std::vector<RolloutRecord> out;
  out.reserve(records_.size());
  for (const auto& [name, r] : records_)
    out.push_back(r);
  return out;
}

const RolloutRecord* RolloutBook::steering(const std::string& split) const {
  for (const auto& [name, r] : records_) {
    if (r.config.split == split && !runtime::finished(r.progress.state)) return &r;
  }
  return nullptr;
}

bool RolloutBook::any_unfinished() const {
  return std::any_of(records_.begin(), records_.end(), [](const auto& entry) {
    return !runtime::finished(entry.second.progress.state);
  });
}

}  // namespace veer::app
