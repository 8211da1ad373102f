#include "conf/rollout_rules.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "conf/toml_reader.hpp"

namespace veer::conf {
namespace {

// Shortest decimal spelling of a configured number, for messages ("0.5", "100").
std::string number_text(double value) {
  std::ostringstream out;
  out.precision(15);
  out << value;
  return out.str();
}

void check_targets(const RolloutConfig& rollout, const Config& config,
                   std::vector<RolloutProblem>& problems) {
  if (rollout.split.empty()) {
    problems.push_back({"split", "missing (the [splits.NAME] the rollout moves)"});
    return;
  }
  const SplitConfig* split = config.find_split(rollout.split);
  if (split == nullptr) {
    problems.push_back({"split", "no split named \"" + rollout.split + "\""});
    return;
  }
  const auto in_split = [&](const std::string& pool) {
    return std::any_of(split->targets.begin(), split->targets.end(),
                       [&](const SplitTargetConfig& t) { return t.pool == pool; });
  };
  for (auto [key, pool] :
       {std::pair{"stable", &rollout.stable}, std::pair{"canary", &rollout.canary}}) {
    if (pool->empty()) {
      problems.push_back({key, "missing (a target pool of split \"" + rollout.split + "\")"});
    } else if (!in_split(*pool)) {
      problems.push_back(
          {key, "\"" + *pool + "\" is not a target of split \"" + rollout.split + "\""});
    }
  }
  if (!rollout.stable.empty() && rollout.stable == rollout.canary) {
    problems.push_back({"canary", "must differ from stable (\"" + rollout.stable + "\")"});
  }
}

void check_steps(const RolloutConfig& rollout, std::vector<RolloutProblem>& problems) {
  if (rollout.steps.empty()) {
    problems.push_back({"steps", "at least one step, such as [1, 5, 25, 50, 100]"});
    return;
  }
  for (std::size_t i = 0; i < rollout.steps.size(); ++i) {
    const std::uint32_t bp = rollout.steps[i];
    const std::string key = "steps[" + std::to_string(i) + "]";
    if (bp == 0 || bp > 10000) {
      problems.push_back(
          {key, number_text(basis_points_to_percent(bp)) + " is not a percent above 0, up to 100"});
    } else if (i == 0 && bp == 10000) {
      // At 100 % the stable has no traffic to compare with: nothing could judge the step.
      problems.push_back({key, "the first step must be below 100 (100 is reached by promotion)"});
    } else if (i > 0 && bp <= rollout.steps[i - 1]) {
      problems.push_back(
          {key, "steps must increase (" + number_text(basis_points_to_percent(bp)) + " after " +
                    number_text(basis_points_to_percent(rollout.steps[i - 1])) + ")"});
    }
  }
}

void check_times(const RolloutConfig& rollout, std::vector<RolloutProblem>& problems) {
  if (rollout.min_step < Duration{0}) problems.push_back({"min_step", "must not be negative"});
  if (rollout.max_step < Duration{1}) {
    problems.push_back({"max_step", "must be at least 1ms"});
  } else if (rollout.max_step < rollout.min_step) {
    problems.push_back(
        {"max_step", "must be at least min_step (" + format_duration(rollout.min_step) + ")"});
  }
}

// `low` <= value < `high` (or <= high when `high_included`), and finite.
bool within(double value, double low, double high, bool high_included) {
  return std::isfinite(value) && value >= low && (high_included ? value <= high : value < high);
}

void check_guards(const RolloutConfig& rollout, std::vector<RolloutProblem>& problems) {
  if (!rollout.error_ratio && !rollout.latency) {
    problems.push_back({"guards", "name at least one guard (error_ratio, latency)"});
  }
  const auto check = [&](bool ok, const std::string& key, double value, const char* range) {
    if (!ok) problems.push_back({key, number_text(value) + " is not in " + range});
  };
  if (const auto& g = rollout.error_ratio) {
    check(within(g->tolerance, 0, 1, false), "guards.error_ratio.tolerance", g->tolerance,
          "[0, 1)");
    check(std::isfinite(g->alpha) && g->alpha > 0 && g->alpha <= 0.5, "guards.error_ratio.alpha",
          g->alpha, "(0, 0.5]");
  }
  if (const auto& g = rollout.latency) {
    check(within(g->quantile, 0.5, 1, false), "guards.latency.quantile", g->quantile, "[0.5, 1)");
    check(within(g->tolerance_ms, 0, 3'600'000, true), "guards.latency.tolerance_ms",
          g->tolerance_ms, "[0, 3600000]");
    check(std::isfinite(g->alpha) && g->alpha > 0 && g->alpha <= 0.5, "guards.latency.alpha",
          g->alpha, "(0, 0.5]");
  }
}

}  // namespace

std::vector<RolloutProblem> rollout_problems(const RolloutConfig& rollout, const Config& config) {
  std::vector<RolloutProblem> problems;
  if (!detail::valid_name(rollout.name)) {
    problems.push_back({"name", "\"" + rollout.name +
                                    "\": rollout names use letters, digits, '-', '_' and '.' "
                                    "(at most 64)"});
  }
  check_targets(rollout, config, problems);
  check_steps(rollout, problems);
  check_times(rollout, problems);
  check_guards(rollout, problems);
  if (!config.admin.enabled || !config.admin.metrics) {
    problems.push_back({"",
                        "needs the admin API ([admin]) with metrics = true: the judge "
                        "reads the workers' per-target counters"});
  }
  return problems;
}

std::vector<std::string> check_rollout(const RolloutConfig& rollout, const Config& config) {
  std::vector<std::string> messages;
  for (const RolloutProblem& p : rollout_problems(rollout, config))
    messages.push_back(p.key.empty() ? p.message : p.key + ": " + p.message);
  return messages;
}

std::optional<std::uint32_t> percent_to_basis_points(double percent) {
  if (!std::isfinite(percent) || percent < 0 || percent > 100) return std::nullopt;
  const double scaled = percent * 100;
  const double rounded = std::round(scaled);
  // Decimal fractions such as 12.34 are not exact in binary: allow the rounding error.
  if (std::fabs(scaled - rounded) > 1e-6) return std::nullopt;
  return static_cast<std::uint32_t>(rounded);
}

double basis_points_to_percent(std::uint32_t basis_points) {
  return static_cast<double>(basis_points) / 100;
}

}  // namespace veer::conf
