// [rollouts.NAME]: keys, defaults, float steps, and every rule with its message and
// position (conf/load_rollouts.cpp, conf/rollout_rules.hpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "conf/load.hpp"
#include "conf/rollout_rules.hpp"
#include "unit/conf/split_pools.hpp"

namespace veer::conf {
namespace {

using namespace std::chrono_literals;

// kRoutesAndPools, a split over its three pools and the admin API: every rollout test
// appends its [rollouts.NAME] tables to this.
std::string head(bool admin = true) {
  return std::string(unit::kRoutesAndPools) +
         "[splits.rpc]\ntargets = { blue = 100, green = 0, canary = 0 }\n" +
         (admin ? "[admin]\naddress = \"127.0.0.1:9901\"\n" : "");
}

// The line a rollout's first line gets when appended to head().
std::uint32_t first_line(bool admin = true) {
  const std::string h = head(admin);
  return static_cast<std::uint32_t>(std::count(h.begin(), h.end(), '\n')) + 1;
}

std::string errors_of(const LoadResult& r) {
  std::string all;
  for (const ConfigError& e : r.errors)
    all += e.to_string() + "\n";
  return all;
}

RolloutConfig load_one(const std::string& table) {
  const LoadResult r = load_config_string(head() + table, "t.toml");
  EXPECT_TRUE(r.ok()) << table << "\n" << errors_of(r);
  if (!r.ok() || r.config->rollouts.size() != 1) return {};
  return r.config->rollouts[0];
}

TEST(RolloutConfig, EveryKeyIsRead) {
  const RolloutConfig r = load_one(R"([rollouts.r1]
split = "rpc"
stable = "blue"
canary = "green"
steps = [1, 5, 25, 50, 100]
min_step = "10s"
max_step = "2m"
guards = { error_ratio = { tolerance = 0.02, alpha = 0.01 },
           latency = { quantile = 0.9, tolerance_ms = 25, alpha = 0.1 } }
)");
  EXPECT_EQ(r.name, "r1");
  EXPECT_EQ(r.split, "rpc");
  EXPECT_EQ(r.stable, "blue");
  EXPECT_EQ(r.canary, "green");
  EXPECT_EQ(r.steps, (std::vector<std::uint32_t>{100, 500, 2500, 5000, 10000}));
  EXPECT_EQ(r.min_step, 10s);
  EXPECT_EQ(r.max_step, 120s);
  ASSERT_TRUE(r.error_ratio);
  EXPECT_EQ(*r.error_ratio, (ErrorGuardConfig{0.02, 0.01}));
  ASSERT_TRUE(r.latency);
  EXPECT_EQ(*r.latency, (LatencyGuardConfig{0.9, 25, 0.1}));
  EXPECT_EQ(r.pos.line, first_line());
}

TEST(RolloutConfig, DefaultsAreThirtySecondsTenMinutesAndTheErrorGuard) {
  const RolloutConfig r = load_one(
      "[rollouts.r1]\nsplit = \"rpc\"\nstable = \"blue\"\ncanary = \"green\"\nsteps = [50]\n");
  EXPECT_EQ(r.min_step, 30s);
  EXPECT_EQ(r.max_step, 600s);
  ASSERT_TRUE(r.error_ratio);
  EXPECT_EQ(*r.error_ratio, ErrorGuardConfig{});
  EXPECT_EQ(r.error_ratio->tolerance, 0.01);
  EXPECT_EQ(r.error_ratio->alpha, 0.05);
  EXPECT_FALSE(r.latency);
}

TEST(RolloutConfig, GuardsNameOnlyTheGuardsTheyWantAndTheirKeysDefault) {
  const RolloutConfig r = load_one(R"([rollouts.r1]
split = "rpc"
stable = "blue"
canary = "green"
steps = [50]
[rollouts.r1.guards.latency]
tolerance_ms = 0
)");
  EXPECT_FALSE(r.error_ratio) << "guards present: only what it names";
  ASSERT_TRUE(r.latency);
  EXPECT_EQ(*r.latency, (LatencyGuardConfig{0.99, 0, 0.05}));
}

TEST(RolloutConfig, StepsMayHaveTwoDecimals) {
  const RolloutConfig r = load_one(R"([rollouts.r1]
split = "rpc"
stable = "canary"
canary = "blue"
steps = [0.01, 0.5, 12.25, 33.33, 99.99, 100.0]
min_step = "0s"
)");
  EXPECT_EQ(r.steps, (std::vector<std::uint32_t>{1, 50, 1225, 3333, 9999, 10000}));
  EXPECT_EQ(r.min_step, 0s);
}

TEST(RolloutConfig, PercentsAndBasisPoints) {
  EXPECT_EQ(percent_to_basis_points(0), 0u);
  EXPECT_EQ(percent_to_basis_points(0.07), 7u);
  EXPECT_EQ(percent_to_basis_points(12.34), 1234u);
  EXPECT_EQ(percent_to_basis_points(100), 10000u);
  for (double bad : {-0.01, 100.01, 1.234, 0.001, std::nan(""), 1e300}) {
    EXPECT_FALSE(percent_to_basis_points(bad)) << bad;
  }
  for (std::uint32_t bp = 0; bp <= 10000; ++bp)
    ASSERT_EQ(percent_to_basis_points(basis_points_to_percent(bp)), bp);
}

// One broken rollout: the message (a fragment) and where it points, as lines and columns
// from the rollout's first line ([rollouts.r1]).
struct Bad {
  std::string keys;  // after the table's header
  std::string message;
  std::uint32_t line = 0;  // 0: the header
  std::uint32_t column = 1;
  std::size_t errors = 1;  // one mistake, one error, unless it breaks two rules
};

const std::string kValid =
    "split = \"rpc\"\nstable = \"blue\"\ncanary = \"green\"\nsteps = [1, 50, 100]\n";

TEST(RolloutConfig, EachRuleIsAnErrorAtTheKeyItNames) {
  const std::string names = "split = \"rpc\"\nstable = \"blue\"\ncanary = \"green\"\n";
  const std::vector<Bad> cases = {
      {names + "steps = [5, 1]", "rollouts.r1.steps[1]: steps must increase (1 after 5)", 4, 13},
      {names + "steps = [5, 5]", "rollouts.r1.steps[1]: steps must increase", 4, 13},
      {names + "steps = [0, 5]", "rollouts.r1.steps[0]: 0 is not a percent above 0, up to 100", 4,
       10},
      {names + "steps = [101]",
       "rollouts.r1.steps[0]: not a percent from 0 to 100 with at most 2 decimals", 4, 10},
      {names + "steps = [1.234]",
       "rollouts.r1.steps[0]: not a percent from 0 to 100 with at most 2", 4, 10},
      {names + "steps = [-1]", "rollouts.r1.steps[0]: not a percent from 0 to 100", 4, 10},
      {names + "steps = []", "rollouts.r1.steps: at least one step", 4, 9},
      {names + "steps = \"1,5\"", "rollouts.r1.steps: expected an array of percents", 4, 9},
      {names + "steps = [\"1\"]", "rollouts.r1.steps[0]: expected a number", 4, 10},
      {names, "rollouts.r1: missing key \"steps\"", 0, 1},
      {"stable = \"blue\"\ncanary = \"green\"\nsteps = [1]", "rollouts.r1: missing key \"split\"",
       0, 1},
      {"split = \"nope\"\nstable = \"blue\"\ncanary = \"green\"\nsteps = [1]",
       "rollouts.r1.split: no split named \"nope\"", 1, 9},
      {"split = \"rpc\"\nstable = \"red\"\ncanary = \"green\"\nsteps = [1]",
       "rollouts.r1.stable: \"red\" is not a target of split \"rpc\"", 2, 10},
      {"split = \"rpc\"\nstable = \"blue\"\ncanary = \"blue\"\nsteps = [1]",
       "rollouts.r1.canary: must differ from stable (\"blue\")", 3, 10},
      {"split = \"rpc\"\nstable = 3\ncanary = \"green\"\nsteps = [1]",
       "rollouts.r1.stable: expected a string", 2, 10},
      {kValid + "min_step = \"1m\"\nmax_step = \"30s\"",
       "rollouts.r1.max_step: must be at least min_step (1m)", 6, 12},
      {kValid + "max_step = \"soon\"", "rollouts.r1.max_step: bad duration \"soon\"", 5, 12},
      {kValid + "max_step = \"0s\"", "rollouts.r1.max_step: must be at least 1ms", 5, 12},
      {kValid + "guards = {}", "rollouts.r1.guards: name at least one guard", 5, 10},
      {kValid + "guards = 3", "rollouts.r1.guards: expected a table such as", 5, 10},
      {kValid + "guards = { error_ratio = { tolerance = 1 } }",
       "rollouts.r1.guards.error_ratio.tolerance: 1 is not in [0, 1)", 5, 40},
      {kValid + "guards = { error_ratio = { alpha = 0 } }",
       "rollouts.r1.guards.error_ratio.alpha: 0 is not in (0, 0.5]", 5, 36},
      {kValid + "guards = { error_ratio = { alpha = 0.6 } }",
       "rollouts.r1.guards.error_ratio.alpha: 0.6 is not in (0, 0.5]", 5, 36},
      {kValid + "guards = { error_ratio = { alpha = \"5%\" } }",
       "rollouts.r1.guards.error_ratio.alpha: expected a number", 5, 36},
      {kValid + "guards = { latency = { quantile = 0.4 } }",
       "rollouts.r1.guards.latency.quantile: 0.4 is not in [0.5, 1)", 5, 35},
      {kValid + "guards = { latency = { quantile = 1.0 } }",
       "rollouts.r1.guards.latency.quantile: 1 is not in [0.5, 1)", 5, 35},
      {kValid + "guards = { latency = { tolerance_ms = -1 } }",
       "rollouts.r1.guards.latency.tolerance_ms: -1 is not in [0, 3600000]", 5, 39},
      {kValid + "guards = { latency = { alpha = 0.51 } }",
       "rollouts.r1.guards.latency.alpha: 0.51 is not in (0, 0.5]", 5, 32},
      {kValid + "guards = { latncy = {} }",
       "rollouts.r1.guards.latncy: unknown key (did you mean \"latency\"?)", 5, 12, 2},
      {kValid + "guards = { latency = { quantil = 0.9 } }",
       "rollouts.r1.guards.latency.quantil: unknown key (did you mean \"quantile\"?)", 5, 24},
      {kValid + "stepz = [1]", "rollouts.r1.stepz: unknown key (did you mean \"steps\"?)", 5, 1},
      {kValid + "min_step = 30", "rollouts.r1.min_step: expected a duration string", 5, 12},
  };
  for (const Bad& bad : cases) {
    const std::string table = "[rollouts.r1]\n" + bad.keys + "\n";
    const LoadResult r = load_config_string(head() + table, "t.toml");
    const std::string where = "t.toml:" + std::to_string(first_line() + bad.line) + ":" +
                              std::to_string(bad.column) + ": ";
    EXPECT_NE(errors_of(r).find(where + bad.message), std::string::npos)
        << table << "expected: " << where << bad.message << "\ngot:\n"
        << errors_of(r);
    EXPECT_EQ(r.errors.size(), bad.errors) << table << errors_of(r);
  }
}

TEST(RolloutConfig, TheJudgeNeedsTheAdminApiWithItsMetrics) {
  const std::string table = "[rollouts.r1]\n" + kValid;
  const LoadResult none = load_config_string(head(false) + table, "t.toml");
  EXPECT_NE(errors_of(none).find("t.toml:" + std::to_string(first_line(false)) +
                                 ":1: rollouts.r1: needs the admin API ([admin]) with metrics = "
                                 "true"),
            std::string::npos)
      << errors_of(none);
  const LoadResult off = load_config_string(head() + "metrics = false\n" + table, "t.toml");
  EXPECT_NE(errors_of(off).find("rollouts.r1: needs the admin API"), std::string::npos)
      << errors_of(off);
}

TEST(RolloutConfig, ASplitFollowsOneRolloutAtATime) {
  const std::string two = "[rollouts.zz]\n" + kValid + "[rollouts.aa]\n" + kValid;
  const LoadResult r = load_config_string(head() + two, "t.toml");
  ASSERT_EQ(r.errors.size(), 1u) << errors_of(r);
  // The later table in the file is the one refused, whatever the names' order.
  EXPECT_EQ(r.errors[0].to_string(),
            "t.toml:" + std::to_string(first_line() + 6) +
                ":9: rollouts.aa.split: split \"rpc\" already has rollout \"zz\" (at most one "
                "rollout per split)");
  const LoadResult apart = load_config_string(
      head() + "[splits.other]\ntargets = { blue = 1, green = 0 }\n[rollouts.zz]\n" + kValid +
          "[rollouts.aa]\n" +
          "split = \"other\"\nstable = \"blue\"\ncanary = \"green\"\nsteps = [1]\n",
      "t.toml");
  ASSERT_TRUE(apart.ok()) << errors_of(apart);
  ASSERT_EQ(apart.config->rollouts.size(), 2u);
  EXPECT_EQ(apart.config->rollouts[0].name, "aa") << "by name";
  EXPECT_EQ(apart.config->find_rollout("zz")->split, "rpc");
  EXPECT_EQ(apart.config->find_rollout("nope"), nullptr);
}

TEST(RolloutConfig, ABadNameIsRefusedOnce) {
  const LoadResult r = load_config_string(head() + "[rollouts.\"r 1\"]\n" + kValid, "t.toml");
  ASSERT_EQ(r.errors.size(), 1u) << errors_of(r);
  EXPECT_EQ(r.errors[0].message,
            "rollouts.r 1: rollout names use letters, digits, '-', '_' and '.'");
  const LoadResult not_table = load_config_string("rollouts = 3\n" + head(), "t.toml");
  EXPECT_NE(errors_of(not_table).find("rollouts: expected [rollouts.NAME] tables"),
            std::string::npos)
      << errors_of(not_table);
}

// The rules as the admin API uses them: against a running config, "KEY: message".
TEST(RolloutRules, CheckRolloutNamesTheKeyOfEachProblem) {
  const LoadResult loaded = load_config_string(head(), "t.toml");
  ASSERT_TRUE(loaded.ok()) << errors_of(loaded);
  const Config& config = *loaded.config;
  RolloutConfig r;
  r.name = "r1";
  r.split = "rpc";
  r.stable = "blue";
  r.canary = "green";
  r.steps = {100, 10000};
  r.error_ratio = ErrorGuardConfig{};
  EXPECT_TRUE(check_rollout(r, config).empty());
  RolloutConfig bad = r;
  bad.name = "r/1";
  bad.steps = {10000, 100};
  bad.error_ratio.reset();
  bad.canary = "purple";
  bad.min_step = 20min;
  const std::vector<std::string> expected = {
      "name: \"r/1\": rollout names use letters, digits, '-', '_' and '.' (at most 64)",
      "canary: \"purple\" is not a target of split \"rpc\"",
      "steps[0]: the first step must be below 100 (100 is reached by promotion)",
      "steps[1]: steps must increase (1 after 100)",
      "max_step: must be at least min_step (20m)",
      "guards: name at least one guard (error_ratio, latency)"};
  EXPECT_EQ(check_rollout(bad, config), expected);
  Config no_metrics = config;
  no_metrics.admin.metrics = false;
  ASSERT_EQ(check_rollout(r, no_metrics).size(), 1u);
  EXPECT_NE(check_rollout(r, no_metrics)[0].find("metrics = true"), std::string::npos);
  RolloutConfig empty;
  empty.name = "e";
  const std::vector<std::string> missing = check_rollout(empty, config);
  ASSERT_GE(missing.size(), 3u);
  EXPECT_EQ(missing[0], "split: missing (the [splits.NAME] the rollout moves)");
  EXPECT_EQ(missing[1], "steps: at least one step, such as [1, 5, 25, 50, 100]");
}

}  // namespace
}  // namespace veer::conf
