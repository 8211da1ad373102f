// The desired-state rule (conf/overrides.hpp, docs/OPERATIONS.md "Desired state"): the
// edits each admin call makes, and what a later file keeps and drops. The state file is
// in admin/state_file_test.cpp.
#include "conf/overrides.hpp"

#include <gtest/gtest.h>

#include <string>

#include "unit/conf/rule_fixture.hpp"

namespace veer::conf {
namespace {

using unit::file_text;
using unit::kBlueOnly;
using unit::kTwo;
using unit::load_file;
using unit::RuleTest;

TEST_F(RuleTest, AnUpdateAnAdditionARemovalAndAStateComposeOnTheFile) {
  const Config now = running();
  put_backend(changes, blue(), *now.find_pool("blue"), "127.0.0.1:9001", 5, std::nullopt);
  put_backend(changes, blue(), *now.find_pool("blue"), "127.0.0.1:9009", std::nullopt, true);
  remove_backend(changes, blue(), "127.0.0.1:9002");
  set_admin_state(changes, "blue", "127.0.0.1:9001", AdminState::drain);
  const Config after = running();
  const PoolConfig& pool = *after.find_pool("blue");
  ASSERT_EQ(pool.backends.size(), 2u);
  EXPECT_EQ(pool.backends[0].address, "127.0.0.1:9001");
  EXPECT_EQ(pool.backends[0].weight, 5u);
  EXPECT_EQ(pool.backends[1].address, "127.0.0.1:9009");
  EXPECT_TRUE(pool.backends[1].backup);
  EXPECT_EQ(changes.find("blue", "127.0.0.1:9001")->state, AdminState::drain);
  EXPECT_EQ(describe(changes).size(), 4u);
}

TEST_F(RuleTest, ChangesBackToTheFilesValuesLeaveNoOverride) {
  const Config now = running();
  put_backend(changes, blue(), *now.find_pool("blue"), "127.0.0.1:9001", 5, std::nullopt);
  put_backend(changes, blue(), *running().find_pool("blue"), "127.0.0.1:9001", 1, std::nullopt);
  EXPECT_TRUE(changes.empty());
  put_backend(changes, blue(), *running().find_pool("blue"), "127.0.0.1:9009", 2, std::nullopt);
  remove_backend(changes, blue(), "127.0.0.1:9009");
  EXPECT_TRUE(changes.empty()) << "removing an added backend forgets it";
  set_split(changes, *file.find_split("rpc"), {{"blue", 100}, {"green", 0}});
  EXPECT_TRUE(changes.empty());
  set_admin_state(changes, "blue", "127.0.0.1:9002", AdminState::down);
  set_admin_state(changes, "blue", "127.0.0.1:9002", AdminState::none);
  EXPECT_TRUE(changes.empty());
}

TEST_F(RuleTest, AFileThatChangedWhatAChangeWasMadeAgainstWinsAndTheDropIsReported) {
  put_backend(changes, blue(), *running().find_pool("blue"), "127.0.0.1:9001", 5, std::nullopt);
  put_backend(changes, blue(), *running().find_pool("blue"), "127.0.0.1:9009", 3, std::nullopt);
  remove_backend(changes, blue(), "127.0.0.1:9002");
  set_admin_state(changes, "blue", "127.0.0.1:9009", AdminState::drain);
  set_split(changes, *file.find_split("rpc"), {{"blue", 50}, {"green", 50}});

  // The file now lists 9001 with weight 2, lists 9009 itself, drops 9002, and moves the split.
  const Config edited = load_file(file_text(
      R"({ address = "127.0.0.1:9001", weight = 2 }, "127.0.0.1:9009")", "blue = 90, green = 10"));
  OverrideReport report;
  const Overrides kept = prune_overrides(changes, edited, &report);
  EXPECT_EQ(report.dropped.size(), 4u);
  EXPECT_EQ(report.kept.size(), 1u);
  ASSERT_NE(kept.find("blue", "127.0.0.1:9009"), nullptr);
  EXPECT_EQ(kept.find("blue", "127.0.0.1:9009")->state, AdminState::drain)
      << "the admin state outlives the addition the file took over";
  EXPECT_FALSE(kept.find("blue", "127.0.0.1:9009")->added);
  EXPECT_EQ(kept.find("blue", "127.0.0.1:9001"), nullptr);
  EXPECT_TRUE(kept.splits.empty());
  for (const std::string& line : report.dropped)
    EXPECT_NE(line.find(": dropped, "), std::string::npos) << line;
}

TEST_F(RuleTest, AnUnchangedFileKeepsEveryChange) {
  put_backend(changes, blue(), *running().find_pool("blue"), "127.0.0.1:9001", 5, true);
  remove_backend(changes, blue(), "127.0.0.1:9002");
  set_split(changes, *file.find_split("rpc"), {{"blue", 0}, {"green", 100}});
  OverrideReport report;
  EXPECT_EQ(prune_overrides(changes, file, &report), changes);
  EXPECT_TRUE(report.dropped.empty());
  EXPECT_EQ(report.kept.size(), 3u);
}

TEST_F(RuleTest, AChangeToAPoolTheFileNoLongerHasIsDropped) {
  set_admin_state(changes, "gone", "127.0.0.1:1", AdminState::down);
  OverrideReport report;
  EXPECT_TRUE(prune_overrides(changes, file, &report).empty());
  ASSERT_EQ(report.dropped.size(), 1u);
  EXPECT_NE(report.dropped[0].find("no longer has pool gone"), std::string::npos);
}

TEST_F(RuleTest, ALimitChangeRunsKeepsTheOtherFieldsAndNormalisesAway) {
  const Rate fifty{50, Duration{1000}};
  set_limit(changes, per_client(), *running().limits.find_policy("per_client"), fifty, 10,
            std::nullopt);
  {
    const Config now = running();
    const RateLimitPolicyConfig& p = *now.limits.find_policy("per_client");
    EXPECT_EQ(p.rate, 50u);
    EXPECT_EQ(p.burst, 10u);
    EXPECT_EQ(p.delay, 0u);
    ASSERT_EQ(describe(changes).size(), 1u);
    EXPECT_EQ(describe(changes)[0],
              "limits per_client: rate 50/s, burst 10 (the file says rate 100/s, burst 20, "
              "delay 0)");
  }
  // Delay alone: rate and burst keep their running (changed) values.
  set_limit(changes, per_client(), *running().limits.find_policy("per_client"), std::nullopt,
            std::nullopt, 4);
  EXPECT_EQ(changes.limits.at("per_client").rate, fifty);
  EXPECT_EQ(changes.limits.at("per_client").burst, 10u);
  EXPECT_EQ(changes.limits.at("per_client").delay, 4u);
  EXPECT_EQ(running().limits.find_policy("per_client")->delay, 4u);
  // Back to the file's values, field by field: nothing is left.
  set_limit(changes, per_client(), *running().limits.find_policy("per_client"),
            Rate{100, Duration{1000}}, std::nullopt, 0);
  EXPECT_FALSE(changes.limits.at("per_client").rate);
  EXPECT_FALSE(changes.limits.at("per_client").delay);
  set_limit(changes, per_client(), *running().limits.find_policy("per_client"), std::nullopt, 20,
            std::nullopt);
  EXPECT_TRUE(changes.empty());
  // The same requests per second in another unit is another rate: its RateLimit-Policy
  // field differs.
  set_limit(changes, per_client(), per_client(), Rate{6000, Duration{60'000}}, std::nullopt,
            std::nullopt);
  EXPECT_FALSE(changes.empty());
}

TEST_F(RuleTest, AFileThatMovesAPolicyOrDropsItWinsOverTheLimitChange) {
  set_limit(changes, per_client(), per_client(), Rate{50, Duration{1000}}, std::nullopt,
            std::nullopt);
  {
    OverrideReport report;
    EXPECT_EQ(prune_overrides(changes, file, &report), changes);
    EXPECT_TRUE(report.dropped.empty());
    ASSERT_EQ(report.kept.size(), 1u);
  }
  for (const auto& [per_client_keys, because] : std::vector<std::pair<std::string, std::string>>{
           {"rate = \"100/s\"\nburst = 30", "the file now says rate 100/s, burst 30, delay 0"},
           {"rate = \"100/s\"\nburst = 20\ndelay = 1",
            "the file now says rate 100/s, burst 20, delay 1"},
           {"rate = \"200/s\"\nburst = 20", "the file now says rate 200/s, burst 20, delay 0"}}) {
    const Config edited = load_file(file_text(kTwo, kBlueOnly, per_client_keys));
    OverrideReport report;
    EXPECT_TRUE(prune_overrides(changes, edited, &report).empty()) << per_client_keys;
    ASSERT_EQ(report.dropped.size(), 1u);
    EXPECT_EQ(report.dropped[0],
              "limits per_client: rate 50/s (the file says rate 100/s, burst 20, delay 0): "
              "dropped, " +
                  because);
  }
  Config without = file;
  without.limits.policies.clear();
  OverrideReport report;
  EXPECT_TRUE(prune_overrides(changes, without, &report).empty());
  ASSERT_EQ(report.dropped.size(), 1u);
  EXPECT_NE(report.dropped[0].find("dropped, the file no longer has policy per_client"),
            std::string::npos);
}

TEST_F(RuleTest, ALimitChangeGoesThroughTheFilesChecks) {
  changes.limits["per_client"] = LimitChange{Rate{50, Duration{1000}},
                                             std::uint64_t{2'000'000},
                                             std::nullopt,
                                             Rate{100, Duration{1000}},
                                             20,
                                             0};
  const LoadResult r = load_config_with(text, "test.toml", changes);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors.front().message.find("limits.per_client.burst: 2000000 is out of range"),
            std::string::npos)
      << r.errors.front().message;
  Overrides kept;
  OverrideReport report;
  const LoadResult fallback = load_with_changes(text, "test.toml", file, changes, &kept, &report);
  ASSERT_TRUE(fallback.ok());
  EXPECT_TRUE(kept.empty()) << "a change that does not validate is dropped with the others";
  EXPECT_EQ(fallback.config->limits.find_policy("per_client")->rate, 100u);
}

}  // namespace
}  // namespace veer::conf
