#include <map>
#include <string>

#include <prometheus/metric_family.h>

#include "admin/metrics.hpp"

namespace veer::admin {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

void sample(MetricFamily& family, prometheus::ClientMetric::Label a,
            std::vector<prometheus::ClientMetric::Label> more, double value) {
  ClientMetric& m = family.metric.emplace_back();
  m.label.push_back(std::move(a));
  for (auto& label : more)
    m.label.push_back(std::move(label));
  if (family.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
}

MetricFamily family(std::string name, std::string help, MetricType type) {
  return MetricFamily{std::move(name), std::move(help), type, {}};
}

void add_guard(MetricFamily& bound, MetricFamily& limit, const std::string& rollout,
               const char* guard, const runtime::GuardJudgement& j) {
  sample(bound, {"rollout", rollout}, {{"guard", guard}, {"side", "low"}}, j.bound.low);
  sample(bound, {"rollout", rollout}, {{"guard", guard}, {"side", "high"}}, j.bound.high);
  sample(limit, {"rollout", rollout}, {{"guard", guard}}, j.limit);
}

}  // namespace

std::vector<MetricFamily> rollout_families(const std::vector<runtime::RolloutRecord>& rollouts) {
  if (rollouts.empty()) return {};
  MetricFamily step =
      family("veer_rollout_step", "The rollout's current step (1-based)", MetricType::Gauge);
  MetricFamily weight = family("veer_rollout_weight_percent", "The canary's share now, in percent",
                               MetricType::Gauge);
  MetricFamily state = family("veer_rollout_state", "1 for the rollout's state, 0 for the others",
                              MetricType::Gauge);
  MetricFamily requests =
      family("veer_rollout_requests", "Answers counted in the current step, per target",
             MetricType::Gauge);
  MetricFamily errors = family("veer_rollout_errors",
                               "Errors counted in the current step, per target", MetricType::Gauge);
  MetricFamily bound =
      family("veer_rollout_guard_bound",
             "Each guard's confidence bounds on the current step's evidence", MetricType::Gauge);
  MetricFamily limit =
      family("veer_rollout_guard_limit",
             "What each guard's bounds are compared with (tolerance or limit)", MetricType::Gauge);
  MetricFamily decisions =
      family("veer_rollout_decisions_total", "Decisions in the rollout's history, by event",
             MetricType::Counter);
  constexpr std::array kStates = {
      runtime::RolloutState::running,      runtime::RolloutState::paused,
      runtime::RolloutState::inconclusive, runtime::RolloutState::promoted,
      runtime::RolloutState::rolled_back,  runtime::RolloutState::aborted};
  for (const runtime::RolloutRecord& r : rollouts) {
    const std::string& name = r.config.name;
    sample(step, {"rollout", name}, {}, r.progress.step + 1);
    sample(weight, {"rollout", name}, {}, runtime::canary_weight(r.config, r.progress) / 100.0);
    for (const runtime::RolloutState s : kStates)
      sample(state, {"rollout", name}, {{"state", runtime::to_string(s)}}, s == r.progress.state);
    sample(requests, {"rollout", name}, {{"target", "stable"}}, r.progress.stable.requests);
    sample(requests, {"rollout", name}, {{"target", "canary"}}, r.progress.canary.requests);
    sample(errors, {"rollout", name}, {{"target", "stable"}}, r.progress.stable.errors);
    sample(errors, {"rollout", name}, {{"target", "canary"}}, r.progress.canary.errors);
    const runtime::RolloutJudgement j = runtime::judge_rollout(r.config, r.progress);
    if (j.has_error_ratio) add_guard(bound, limit, name, "error_ratio", j.error_ratio);
    if (j.has_latency) add_guard(bound, limit, name, "latency", j.latency);
    std::map<std::string, std::uint64_t> events;
    for (const runtime::RolloutEvent& e : r.progress.history)
      ++events[e.event];
    for (const auto& [event, n] : events)
      sample(decisions, {"rollout", name}, {{"event", event}}, static_cast<double>(n));
  }
  std::vector<MetricFamily> out;
  for (MetricFamily* f : {&step, &weight, &state, &requests, &errors, &bound, &limit, &decisions})
    out.push_back(std::move(*f));
  return out;
}

}  // namespace veer::admin
