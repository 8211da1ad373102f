#include "admin/rollout_view.hpp"

#include <cmath>

#include <boost/json.hpp>

#include "admin/rollout_json.hpp"
#include "health/reasons.hpp"

namespace veer::admin {
namespace json = boost::json;
namespace {

// NaN (no answers yet) is null in JSON.
json::value number_or_null(double value) {
  if (std::isnan(value) || std::isinf(value)) return nullptr;
  return value;
}

json::object target_view(const runtime::TargetEvidence& e, const conf::RolloutConfig& config) {
  json::object o{{"requests", e.requests}, {"errors", e.errors}, {"error_ratio", e.error_ratio()}};
  o["latency_ms"] = config.latency ? number_or_null(e.quantile_ms(config.latency->quantile))
                                   : json::value(nullptr);
  return o;
}

json::object error_guard_view(const runtime::GuardJudgement& j) {
  return json::object{
      {"verdict", runtime::to_string(j.verdict)}, {"low", number_or_null(j.bound.low)},
      {"high", number_or_null(j.bound.high)},     {"tolerance", j.limit},
      {"stable", number_or_null(j.stable_value)}, {"canary", number_or_null(j.canary_value)}};
}

json::object latency_guard_view(const runtime::GuardJudgement& j) {
  return json::object{{"verdict", runtime::to_string(j.verdict)},
                      {"stable_ms", number_or_null(j.stable_value)},
                      {"canary_ms", number_or_null(j.canary_value)},
                      {"threshold_ms", number_or_null(j.threshold_ms)},
                      {"low", number_or_null(j.bound.low)},
                      {"high", number_or_null(j.bound.high)},
                      {"limit", j.limit}};
}

json::array history_view(const runtime::RolloutProgress& progress) {
  json::array history;
  for (const runtime::RolloutEvent& e : progress.history) {
    history.push_back(json::object{{"time", health::utc_text(std::chrono::system_clock::time_point(
                                                std::chrono::milliseconds(e.unix_ms)))},
                                   {"step", e.step + 1},
                                   {"weight", e.weight_bp / 100.0},
                                   {"unix_ms", e.unix_ms},
                                   {"event", e.event},
                                   {"detail", e.detail}});
  }
  return history;
}

}  // namespace

json::object rollout_view(const runtime::RolloutRecord& record) {
  const conf::RolloutConfig& config = record.config;
  const runtime::RolloutProgress& progress = record.progress;
  json::object o = rollout_config_json(config);
  o["source"] = record.from_file ? "config" : "api";
  o["state"] = runtime::to_string(progress.state);
  o["step"] = progress.step + 1;
  o["weight"] = runtime::canary_weight(config, progress) / 100.0;
  o["step_seconds"] = static_cast<double>(progress.step_running_ms) / 1000.0;
  o["reason"] = progress.reason;
  o["evidence"] = json::object{{"stable", target_view(progress.stable, config)},
                               {"canary", target_view(progress.canary, config)}};
  const runtime::RolloutJudgement judgement = runtime::judge_rollout(config, progress);
  json::object judged{{"overall", runtime::to_string(judgement.overall)}};
  if (judgement.has_error_ratio) judged["error_ratio"] = error_guard_view(judgement.error_ratio);
  if (judgement.has_latency) judged["latency"] = latency_guard_view(judgement.latency);
  o["judgement"] = std::move(judged);
  o["history"] = history_view(progress);
  return o;
}

}  // namespace veer::admin
