// The desired-state rule (conf/overrides.hpp, docs/OPERATIONS.md "Desired state"): the
// edits each admin call makes, what a later file keeps and drops, and the state file.
#include "conf/overrides.hpp"

#include <gtest/gtest.h>

#include "admin/state_file.hpp"

namespace veer::conf {
namespace {

std::string file_text(const std::string& blue_backends, const std::string& split) {
  return R"(
[listeners.public]
address = "127.0.0.1:8545"
  [[listeners.public.routes]]
  target = "rpc"
[pools.blue]
backends = [)" +
         blue_backends +
         R"(]
[pools.green]
backends = ["127.0.0.1:9003"]
[splits.rpc]
targets = { )" +
         split + " }\n";
}

Config load_file(const std::string& text) {
  LoadResult r = load_config_string(text, "test.toml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors.front().to_string());
  return *r.config;
}

const std::string kTwo = R"("127.0.0.1:9001", "127.0.0.1:9002")";
const std::string kBlueOnly = "blue = 100, green = 0";

struct RuleTest : ::testing::Test {
  std::string text = file_text(kTwo, kBlueOnly);
  Config file = load_file(text);
  Overrides changes;

  // What runs: the file with `changes` on top, after the rule.
  Config running() {
    OverrideReport report;
    const Overrides kept = prune_overrides(changes, file, &report);
    LoadResult r = load_config_with(text, "test.toml", kept);
    EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors.front().to_string());
    return *r.config;
  }
  const PoolConfig& blue() { return *file.find_pool("blue"); }
};

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

TEST_F(RuleTest, TheStateFileRoundTripsAndRefusesWhatIsNotOne) {
  put_backend(changes, blue(), *running().find_pool("blue"), "127.0.0.1:9001", 5, std::nullopt);
  put_backend(changes, blue(), *running().find_pool("blue"), "[::1]:9009", 3, std::nullopt);
  remove_backend(changes, blue(), "127.0.0.1:9002");
  set_admin_state(changes, "blue", "127.0.0.1:9001", AdminState::down);
  set_split(changes, *file.find_split("rpc"), {{"blue", 0}, {"green", 100}});
  std::string why;
  EXPECT_EQ(admin::state_from_json(admin::state_to_json(changes), file, &why), changes) << why;
  for (const char* bad :
       {"", "[]", R"({"format": 3})",
        R"({"format": 2, "backends": {"blue": {"a:1": {"wieght": 1}}}})",
        R"({"format": 2, "backends": {"blue": {"a:1": {"state": "sideways"}}}})",
        R"({"format": 2, "splits": {"rpc": {"targets": {"blue": -1}, "file": {}}}})",
        R"({"format": 2, "backends": {"blue": {"a:1": {"added": true, "removed": true}}}})"}) {
    EXPECT_FALSE(admin::state_from_json(bad, file, &why)) << bad;
    EXPECT_FALSE(why.empty()) << bad;
  }
}

TEST_F(RuleTest, AFormatOneStateFileBecomesTheSameChanges) {
  const std::string v1 = R"({"format":1,
    "pools":{"blue":{"backends":[{"address":"127.0.0.1:9001","weight":5,"backup":false},
                                 {"address":"127.0.0.1:9009","weight":3,"backup":false}]}},
    "splits":{"rpc":{"targets":{"blue":50,"green":50}}},
    "disabled":{},"drained":{"blue":["127.0.0.1:9001"]}})";
  std::string why;
  const std::optional<Overrides> read = admin::state_from_json(v1, file, &why);
  ASSERT_TRUE(read) << why;
  EXPECT_EQ(read->find("blue", "127.0.0.1:9001")->weight, 5u);
  EXPECT_EQ(read->find("blue", "127.0.0.1:9001")->state, AdminState::drain);
  EXPECT_TRUE(read->find("blue", "127.0.0.1:9002")->removed);
  EXPECT_TRUE(read->find("blue", "127.0.0.1:9009")->added);
  EXPECT_EQ(read->splits.at("rpc").targets.at("green"), 50u);
}

}  // namespace
}  // namespace veer::conf
