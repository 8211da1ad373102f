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

}  // namespace
}  // namespace veer::conf
