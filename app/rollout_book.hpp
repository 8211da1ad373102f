#pragma once

// The progressive rollouts of one process (docs/RELEASES.md, "Automated rollouts"): their
// records, the file's and the API's, judged every tick from the workers' cumulative
// per-split-target counts. Free of I/O: every call says what the server must do next
// (weights to give splits, lines to log and audit, whether to write the state file),
// and the server (app/server.cpp) does it on its control thread.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "conf/config.hpp"
#include "runtime/metrics.hpp"
#include "runtime/rollout.hpp"

namespace veer::app {

struct RolloutEffects {
  // Split name -> the whole weight table it must take (a runtime change of the split).
  std::map<std::string, std::map<std::string, std::uint64_t>> split_weights;
  // One per decision: "rollout r1: failed at step 1 of 4 (10 %): canary ...".
  std::vector<std::string> lines;
  bool persist = false;  // a decision was made: write the state file now

  bool empty() const { return split_weights.empty() && lines.empty() && !persist; }
};

// An API call's answer: 200/201 done, 400 invalid, 404 unknown, 409 conflicting.
struct RolloutReply {
  unsigned status = 200;
  std::string why;  // when status >= 400
};

class RolloutBook {
 public:
  using Totals = std::map<runtime::SplitTargetKey, runtime::TargetEvidence>;

  // At start, from the state file (before the first reconcile).
  void restore(std::vector<runtime::RolloutRecord> records, std::int64_t now_ms,
               RolloutEffects& effects);
  // After every load: starts the file's new rollouts, restarts changed ones, ends those
  // the file dropped and those whose split lost their targets; then gives every unfinished
  // rollout's split its weights where `running` (what runs now) differs.
  void reconcile(const conf::Config& file, const conf::Config& running, std::int64_t now_ms,
                 RolloutEffects& effects);
  // Judges every unfinished rollout with what its targets answered since the last tick.
  void tick(const Totals& totals, const conf::Config& running, std::int64_t elapsed_ms,
            std::int64_t now_ms, RolloutEffects& effects);

  // What later ticks measure from (the counts before veer judged anything are no step's).
  void baseline(const Totals& totals) { last_ = totals; }

  // The admin API's calls. `running` is what runs now.
  RolloutReply start(conf::RolloutConfig config, const conf::Config& running, std::int64_t now_ms,
                     RolloutEffects& effects);
  RolloutReply act(const std::string& name, runtime::RolloutAction action,
                   const conf::Config& running, std::int64_t now_ms, RolloutEffects& effects);
  RolloutReply forget(const std::string& name, const conf::Config& running, std::int64_t now_ms,
                      RolloutEffects& effects);

  const std::map<std::string, runtime::RolloutRecord>& records() const { return records_; }
  std::vector<runtime::RolloutRecord> to_persist() const;
  // An unfinished rollout steers this split (operators' weight changes are refused).
  const runtime::RolloutRecord* steering(const std::string& split) const;
  bool any_unfinished() const;

 private:
  void apply(const runtime::RolloutRecord& record, const runtime::RolloutDecision& decision,
             const conf::Config& running, RolloutEffects& effects) const;
  void end_rollout(runtime::RolloutRecord& record, const std::string& why, std::int64_t now_ms,
                   const conf::Config& running, RolloutEffects& effects);

  std::map<std::string, runtime::RolloutRecord> records_;
  Totals last_;  // the cumulative counts at the last tick
};

// The weights a split takes for a canary share of `canary_bp` basis points: the canary
// that, the stable the rest, every other target 0.
std::map<std::string, std::uint64_t> rollout_weights(const conf::SplitConfig& split,
                                                     const conf::RolloutConfig& rollout,
                                                     std::uint32_t canary_bp);

// What the counts moved by since `earlier` (a series that restarted, after its target
// left and came back, counts from zero).
runtime::TargetEvidence evidence_since(const runtime::TargetEvidence& now,
                                       const runtime::TargetEvidence& earlier);

}  // namespace veer::app
