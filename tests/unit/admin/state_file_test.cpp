// The state file (admin/state_file.hpp, docs/OPERATIONS.md "State file"): format 2 read
// field by field, format 1 converted against the file, every malformed file refused
// with the field it stumbled on, the atomic write, and `veer check`'s reading of it.
#include "admin/state_file.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "unit/conf/rule_fixture.hpp"

namespace veer::admin {
namespace {

using conf::AdminState;
using conf::BackendChange;
using conf::Overrides;
using conf::unit::RuleTest;

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
}  // namespace veer::admin
