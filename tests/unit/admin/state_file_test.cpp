// The state file (admin/state_file.hpp, docs/OPERATIONS.md "State file"): format 2 read
// field by field, format 1 converted against the file, every malformed file refused
// with the field it stumbled on, the atomic write, and `veer check`'s reading of it.
#include "admin/state_file.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "admin/rollout_json.hpp"
#include "unit/conf/rule_fixture.hpp"

namespace veer::admin {
namespace {

using conf::AdminState;
using conf::BackendChange;
using conf::Overrides;
using conf::unit::RuleTest;
namespace json = boost::json;

TEST_F(RuleTest, TheStateFileRoundTripsAndRefusesWhatIsNotOne) {
  put_backend(changes, blue(), *running().find_pool("blue"), "127.0.0.1:9001", 5, std::nullopt);
  put_backend(changes, blue(), *running().find_pool("blue"), "[::1]:9009", 3, std::nullopt);
  remove_backend(changes, blue(), "127.0.0.1:9002");
  set_admin_state(changes, "blue", "127.0.0.1:9001", AdminState::down);
  set_split(changes, *file.find_split("rpc"), {{"blue", 0}, {"green", 100}});
  set_limit(changes, per_client(), per_client(), conf::Rate{50, conf::Duration{60'000}}, 3, 7);
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

// The fixture's file (pool blue: 9001 and 9002, weight 1; pool green; split rpc at blue
// 100, green 0), read against by state_from_json.
class StateFile : public RuleTest {
 protected:
  // The changes `text` holds; a failure names the text and the reason.
  Overrides read(const std::string& text) {
    std::string why;
    std::optional<Overrides> o = state_from_json(text, file, &why);
    EXPECT_TRUE(o) << text << "\n" << why;
    return o.value_or(Overrides{});
  }
  // Why `text` is refused ("" when it is not).
  std::string refusal(const std::string& text) {
    std::string why;
    if (state_from_json(text, file, &why)) return "";
    return why;
  }
};

// The document's example, on the fixture's pools: each field lands where it is named.
TEST_F(StateFile, FormatTwoReadsEveryDocumentedField) {
  const Overrides o = read(R"({"format": 2,
    "backends": {"blue": {"127.0.0.1:9009": {"added": true, "weight": 2, "backup": true,
                                             "state": "drain"},
                          "127.0.0.1:9002": {"removed": true},
                          "127.0.0.1:9001": {"weight": 5, "file": {"weight": 1, "backup": false}}},
                 "green": {"127.0.0.1:9003": {"state": "down"}}},
    "splits": {"rpc": {"targets": {"blue": 0, "green": 100},
                       "file": {"blue": 100, "green": 0}}}})");
  BackendChange added;
  added.added = true;
  added.weight = 2;
  added.backup = true;
  added.state = AdminState::drain;
  BackendChange removed;
  removed.removed = true;
  BackendChange updated;
  updated.weight = 5;
  BackendChange down;
  down.state = AdminState::down;
  Overrides expected;
  expected.backends["blue"] = {
      {"127.0.0.1:9009", added}, {"127.0.0.1:9002", removed}, {"127.0.0.1:9001", updated}};
  expected.backends["green"] = {{"127.0.0.1:9003", down}};
  expected.splits["rpc"] =
      conf::SplitChange{{{"blue", 0}, {"green", 100}}, {{"blue", 100}, {"green", 0}}};
  EXPECT_EQ(o, expected);
  EXPECT_EQ(read(state_to_json(o)), o) << "written back, it reads the same";
}

TEST_F(StateFile, AnAdditionWithoutWeightOrBackupIsWeightOneAndPrimary) {
  const Overrides o =
      read(R"({"format": 2, "backends": {"blue": {"127.0.0.1:9009": {"added": true}}}})");
  const BackendChange* c = o.find("blue", "127.0.0.1:9009");
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(c->added);
  EXPECT_EQ(c->weight, 1u);
  EXPECT_EQ(c->backup, false);
}

// normalize: what equals the file is no change, so a hand-edited file that restates the
// file reads as empty.
TEST_F(StateFile, ChangesEqualToTheFileReadAsNone) {
  EXPECT_TRUE(read(R"({"format": 2, "backends": {}, "splits": {}})").empty());
  EXPECT_TRUE(read(R"({"format": 2,
    "backends": {"blue": {"127.0.0.1:9001": {"weight": 3, "backup": true,
                                             "file": {"weight": 3, "backup": true}},
                          "127.0.0.1:9002": {}}},
    "splits": {"rpc": {"targets": {"blue": 7}, "file": {"blue": 7}}}})")
                  .empty());
}

TEST_F(StateFile, WhatIsNotJsonOrNotAnObjectIsRefused) {
  for (const char* text :
       {"", "[]", "null", "2", "\"format\"", R"({"format": 2)", R"({"format": 2} trailing)"}) {
    EXPECT_EQ(refusal(text), "not a JSON object") << text;
  }
}

TEST_F(StateFile, TheFormatMustBeOneOrTwo) {
  EXPECT_EQ(refusal(R"({"format": 3})"), "format 3 is not a format this veer reads (1 or 2)");
  EXPECT_EQ(refusal(R"({"format": 0})"), "format 0 is not a format this veer reads (1 or 2)");
  EXPECT_EQ(refusal(R"({"format": "2"})"), "format: expected a non-negative integer");
  EXPECT_EQ(refusal(R"({"format": -2})"), "format: expected a non-negative integer");
  EXPECT_EQ(refusal(R"({"format": 2.0})"), "format: expected a non-negative integer");
  EXPECT_EQ(refusal(R"({"backends": {}})"), "format: missing (this veer reads 1 or 2)")
      << "a file without a format is not one of format 0";
}

// Every shape error of format 2 names the field by its path and says what was expected.
TEST_F(StateFile, FormatTwoNamesTheFieldItRefuses) {
  const auto backend = [](const std::string& fields) {
    return R"({"format": 2, "backends": {"blue": {"a:1": )" + fields + "}}}";
  };
  const auto split = [](const std::string& fields) {
    return R"({"format": 2, "splits": {"rpc": )" + fields + "}}";
  };
  const auto limit = [](const std::string& fields) {
    return R"({"format": 2, "limits": {"per_client": )" + fields + "}}";
  };
  const std::string file_values = R"("file": {"rate": "100/s", "burst": 20, "delay": 0})";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"format": 2, "pools": {}})", "pools: unknown field"},
      {R"({"format": 2, "backends": []})", "backends: expected an object"},
      {R"({"format": 2, "backends": {"blue": []}})", "backends.blue: expected an object"},
      {backend("5"), "backends.blue.a:1: expected an object"},
      {backend(R"({"wieght": 1})"), "backends.blue.a:1.wieght: unknown field"},
      {backend(R"({"weight": "5"})"), "backends.blue.a:1.weight: expected a non-negative integer"},
      {backend(R"({"weight": -1})"), "backends.blue.a:1.weight: expected a non-negative integer"},
      {backend(R"({"weight": 2.5})"), "backends.blue.a:1.weight: expected a non-negative integer"},
      {backend(R"({"backup": 1})"), "backends.blue.a:1.backup: expected true or false"},
      {backend(R"({"added": "yes"})"), "backends.blue.a:1.added: expected true or false"},
      {backend(R"({"removed": null})"), "backends.blue.a:1.removed: expected true or false"},
      {backend(R"({"state": 3})"), "backends.blue.a:1.state: expected a string"},
      {backend(R"({"state": "sideways"})"),
       R"(backends.blue.a:1.state: expected "drain" or "down")"},
      {backend(R"({"state": "none"})"), R"(backends.blue.a:1.state: expected "drain" or "down")"},
      {backend(R"({"weight": 2, "file": {"weight": 1}})"),
       R"(backends.blue.a:1.file: expected {"weight": N, "backup": B})"},
      {backend(R"({"weight": 2, "file": {"weight": 1, "backup": false, "x": 1}})"),
       R"(backends.blue.a:1.file: expected {"weight": N, "backup": B})"},
      {backend(R"({"weight": 2, "file": {"weight": "1", "backup": false}})"),
       "backends.blue.a:1.file.weight: expected a non-negative integer"},
      {backend(R"({"added": true, "removed": true})"), "backends.blue.a:1: both added and removed"},
      {split(R"({"targets": {"blue": 1}})"),
       R"(splits.rpc: expected {"targets": {...}, "file": {...}})"},
      {split(R"({"targets": {"blue": -1}, "file": {}})"),
       "splits.rpc.targets.blue: expected a non-negative integer"},
      {split(R"({"targets": {}, "file": 1})"), "splits.rpc.file: expected an object"},
      {R"({"format": 2, "splits": []})", "splits: expected an object"},
      {R"({"format": 2, "limits": []})", "limits: expected an object"},
      {limit("[]"), "limits.per_client: expected an object"},
      {limit(R"({"rate": "50/s"})"),
       "limits.per_client.file: expected the file's values the change was made against"},
      {limit(R"({"rate": "50/d", )" + file_values + "}"),
       "limits.per_client.rate: the unit after '/' is s, m or h"},
      {limit(R"({"rate": 50, )" + file_values + "}"), "limits.per_client.rate: expected a string"},
      {limit(R"({"burst": -1, )" + file_values + "}"),
       "limits.per_client.burst: expected a non-negative integer"},
      {limit(R"({"delay": true, )" + file_values + "}"),
       "limits.per_client.delay: expected a non-negative integer"},
      {limit(R"({"brust": 1, )" + file_values + "}"), "limits.per_client.brust: unknown field"},
      {limit(R"({"burst": 1, "file": {"rate": "100/s", "burst": 20}})"),
       R"(limits.per_client.file: expected {"rate": "N/s", "burst": N, "delay": N})"},
      {limit(R"({"burst": 1, "file": {"rate": "0/s", "burst": 20, "delay": 0}})"),
       "limits.per_client.file.rate: the count is out of range (1-1000000000)"},
  };
  for (const auto& [text, why] : cases)
    EXPECT_EQ(refusal(text), why) << text;
}

// Format 1 held each changed pool's whole list: the file tells what it changed.
TEST_F(StateFile, FormatOneListsEqualToTheFileAreNoChange) {
  EXPECT_TRUE(read(R"({"format": 1, "pools": {"blue": {"backends": [
      {"address": "127.0.0.1:9001", "weight": 1, "backup": false},
      {"address": "127.0.0.1:9002", "weight": 1, "backup": false}]}}})")
                  .empty());
  // Without weight or backup, an entry keeps the file's.
  const Overrides o =
      read(R"({"format": 1, "pools": {"blue": {"backends": [{"address": "127.0.0.1:9002"}]}}})");
  BackendChange removed;
  removed.removed = true;
  Overrides expected;
  expected.backends["blue"] = {{"127.0.0.1:9001", removed}};
  EXPECT_EQ(o, expected) << state_to_json(o);
}

TEST_F(StateFile, FormatOneDisabledIsDownAndWhatTheFileLacksIsSkipped) {
  const Overrides o = read(R"({"format": 1,
    "pools": {"gone": {"backends": [{"address": "10.0.0.1:1"}]}},
    "splits": {"gone": {"targets": {"blue": 1}}, "rpc": {"targets": {"blue": 100, "green": 0}}},
    "disabled": {"blue": ["127.0.0.1:9002"]}, "drained": {}})");
  BackendChange down;
  down.state = AdminState::down;
  Overrides expected;
  expected.backends["blue"] = {{"127.0.0.1:9002", down}};
  EXPECT_EQ(o, expected) << state_to_json(o);
}

TEST_F(StateFile, FormatOneNamesTheFieldItRefuses) {
  const auto pool = [](const std::string& entry) {
    return R"({"format": 1, "pools": {"blue": {"backends": [)" + entry + "]}}}";
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"format": 1, "pools": []})", "pools: expected an object"},
      {R"({"format": 1, "pools": {"blue": {}}})", "pools.blue.backends: expected an array"},
      {R"({"format": 1, "pools": {"gone": {"backends": 1}}})",
       "pools.gone.backends: expected an array"},
      {pool("7"), "pools.blue.backends[]: expected an object"},
      {pool(R"({"weight": 1})"), "pools.blue.backends[]: expected an address"},
      {pool(R"({"address": 9001})"), "pools.blue.backends[].address: expected a string"},
      {pool(R"({"address": "127.0.0.1:9001", "weight": "5"})"),
       "pools.blue.backends[].weight: expected a non-negative integer"},
      {pool(R"({"address": "127.0.0.1:9001", "backup": "no"})"),
       "pools.blue.backends[].backup: expected true or false"},
      {R"({"format": 1, "splits": {"rpc": {}}})", "splits.rpc.targets: expected an object"},
      {R"({"format": 1, "splits": {"rpc": {"targets": {"blue": -5}}}})",
       "splits.rpc.targets.blue: expected a non-negative integer"},
      {R"({"format": 1, "drained": {"blue": "127.0.0.1:9001"}})",
       "drained.blue: expected an array"},
      {R"({"format": 1, "disabled": {"blue": [9001]}})", "disabled.blue[]: expected a string"},
  };
  for (const auto& [text, why] : cases)
    EXPECT_EQ(refusal(text), why) << text;
}

// A directory of its own per test, removed afterwards.
class StateFileOnDisk : public StateFile {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "/veer-state-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/state.json";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void write(const std::string& text) { std::ofstream(path_) << text; }
  std::string dir_;
  std::string path_;
};

TEST_F(StateFileOnDisk, WrittenAtomicallyAndReadBack) {
  std::string why;
  std::optional<Overrides> none = read_state_file(path_, file, &why);
  ASSERT_TRUE(none) << why;
  EXPECT_TRUE(none->empty()) << "an absent file is an empty state";

  set_admin_state(changes, "blue", "127.0.0.1:9001", AdminState::drain);
  ASSERT_TRUE(write_atomically(path_, state_to_json(changes), &why)) << why;
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp")) << "the temporary file was renamed";
  EXPECT_EQ(read_state_file(path_, file, &why), changes) << why;

  EXPECT_FALSE(write_atomically(dir_ + "/missing/state.json", "{}", &why));
  EXPECT_EQ(why.rfind("cannot create " + dir_ + "/missing/state.json.tmp: ", 0), 0u) << why;
}

TEST_F(StateFileOnDisk, AReadErrorNamesTheFile) {
  write(R"({"format": 2, "backends": {"blue": {"a:1": {"wieght": 1}}}})");
  std::string why;
  EXPECT_FALSE(read_state_file(path_, file, &why));
  EXPECT_EQ(why, path_ + ": backends.blue.a:1.wieght: unknown field");
}

// veer check: the rule a start applies, without starting.
TEST_F(StateFileOnDisk, CheckReportsWhatAStartWouldDrop) {
  std::vector<std::string> dropped;
  std::string error;
  EXPECT_TRUE(check_state_file(text, file, &dropped, &error)) << "no state file configured";
  EXPECT_TRUE(dropped.empty());

  file.server.state_file = path_;
  EXPECT_TRUE(check_state_file(text, file, &dropped, &error)) << "configured, not written yet";
  EXPECT_TRUE(dropped.empty());

  set_admin_state(changes, "blue", "127.0.0.1:9001", AdminState::drain);
  set_admin_state(changes, "gone", "127.0.0.1:1", AdminState::down);
  write(state_to_json(changes));
  ASSERT_TRUE(check_state_file(text, file, &dropped, &error)) << error;
  ASSERT_EQ(dropped.size(), 1u) << "the drain of a backend the file lists is kept";
  EXPECT_NE(dropped[0].find("no longer has pool gone"), std::string::npos) << dropped[0];

  write("{\"format\": 9}");
  EXPECT_FALSE(check_state_file(text, file, &dropped, &error));
  EXPECT_EQ(error, path_ + ": format 9 is not a format this veer reads (1 or 2)");
}

// A state without limit changes is written as before them (a veer that predates them
// reads it), and one with them reads back equal.
TEST_F(RuleTest, LimitChangesAreWrittenOnlyWhenThereAreSome) {
  set_split(changes, *file.find_split("rpc"), {{"blue", 0}, {"green", 100}});
  EXPECT_EQ(state_to_json(changes).find("limits"), std::string::npos);
  EXPECT_EQ(state_to_json(changes),
            R"({"format":2,"backends":{},"splits":{"rpc":{"targets":{"blue":0,"green":100},)"
            R"("file":{"blue":100,"green":0}}}})"
            "\n");
  set_limit(changes, per_client(), per_client(), std::nullopt, 5, std::nullopt);
  const std::string text = state_to_json(changes);
  EXPECT_NE(text.find(R"("limits":{"per_client":{"burst":5,"file":{"rate":"100/s","burst":20,)"
                      R"("delay":0}}})"),
            std::string::npos)
      << text;
  std::string why;
  EXPECT_EQ(state_from_json(text, file, &why), changes) << why;
  // A change equal to the file reads back as no change.
  EXPECT_TRUE(state_from_json(R"({"format": 2, "limits": {"per_client": {"rate": "100/s",
      "file": {"rate": "100/s", "burst": 20, "delay": 0}}}})",
                              file, &why)
                  ->empty());
}

// --- Rollouts beside the changes (admin/rollout_json.hpp writes each record).

runtime::RolloutRecord a_rollout(const std::string& name, bool from_file) {
  runtime::RolloutRecord r;
  r.from_file = from_file;
  r.config.name = name;
  r.config.split = "rpc";
  r.config.stable = "blue";
  r.config.canary = "green";
  r.config.steps = {50, 500, 2500, 10000};
  r.config.min_step = conf::Duration{10'000};
  r.config.error_ratio = conf::ErrorGuardConfig{0.1, 0.05};
  r.config.latency = conf::LatencyGuardConfig{0.9, 50, 0.05};
  r.progress.state = runtime::RolloutState::running;
  r.progress.step = 1;
  r.progress.step_running_ms = 12'345;
  r.progress.stable.requests = 1980;
  r.progress.stable.errors = 2;
  r.progress.stable.latency[70] = 1900;
  r.progress.stable.latency[90] = 80;
  r.progress.canary.requests = 20;
  r.progress.canary.latency[71] = 20;
  r.progress.reason = "judging step 2 (5 %)";
  r.progress.history = {{1'765'083'600'123, 0, 50, "started", "canary at 0.5 %"},
                        {1'765'083'630'000, 1, 500, "passed", "n 1980/20, bound 0.04 < 0.1"}};
  return r;
}

TEST_F(StateFile, RolloutsRoundTripBesideTheChanges) {
  set_split(changes, *file.find_split("rpc"), {{"blue", 95}, {"green", 5}});
  const std::vector<runtime::RolloutRecord> rollouts = {a_rollout("r1", true),
                                                        a_rollout("r2", false)};
  const std::string text = state_to_json(changes, rollouts);
  EXPECT_NE(text.find(R"("rollouts":{"r1":{"source":"config","config":{"name":"r1")"),
            std::string::npos)
      << text;
  std::vector<runtime::RolloutRecord> read_back;
  std::string why;
  EXPECT_EQ(state_from_json(text, file, &why, &read_back), changes) << why;
  EXPECT_EQ(read_back, rollouts);
  EXPECT_EQ(state_from_json(text, file, &why), changes) << "rollouts read but not wanted: " << why;
}

TEST_F(StateFile, WithoutRolloutsTheTextIsWhatVeerWroteBefore) {
  EXPECT_EQ(state_to_json(changes, {}), "{\"format\":2,\"backends\":{},\"splits\":{}}\n");
  set_split(changes, *file.find_split("rpc"), {{"blue", 0}, {"green", 100}});
  EXPECT_EQ(state_to_json(changes, {}), state_to_json(changes));
  EXPECT_EQ(state_to_json(changes).find("rollouts"), std::string::npos);
  std::vector<runtime::RolloutRecord> read_back = {a_rollout("stale", false)};
  std::string why;
  EXPECT_EQ(state_from_json(state_to_json(changes), file, &why, &read_back), changes) << why;
  EXPECT_TRUE(read_back.empty()) << "a file without rollouts has none";
  read_back = {a_rollout("stale", false)};
  EXPECT_TRUE(state_from_json(R"({"format":1,"pools":{},"splits":{}})", file, &why, &read_back));
  EXPECT_TRUE(read_back.empty()) << "format 1 predates rollouts";
}

TEST_F(StateFile, MalformedRolloutsAreRefusedNamingTheField) {
  const auto with_record = [](const std::string& record) {
    return R"({"format": 2, "rollouts": {"r1": )" + record + "}}";
  };
  const json::object good = rollout_record_json(a_rollout("r1", false));
  const auto changed = [&](const std::string& pointer, const json::value& value) {
    json::value v = good;
    boost::system::error_code ec;
    json::value* at = v.find_pointer(pointer, ec);
    EXPECT_NE(at, nullptr) << pointer;
    if (at != nullptr) *at = value;
    return json::serialize(v);
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"format": 2, "rollouts": []})", "rollouts: expected an object"},
      {with_record(R"({"source": "api"})"), "rollouts.r1.config: missing"},
      {with_record(R"({"source": "api", "config": {}, "progress": {}, "x": 1})"),
       "rollouts.r1.x: unknown field"},
      {with_record(changed("/source", "file")),
       "rollouts.r1.source: expected \"config\" or \"api\""},
      {with_record(changed("/config/steps/1", "5")),
       "rollouts.r1.config.steps[1]: expected a number"},
      {with_record(changed("/config/name", "r2")), "rollouts.r1.config.name: \"r2\" is not \"r1\""},
      {with_record(changed("/progress/state", "sideways")),
       "rollouts.r1.progress.state: \"sideways\" is not"},
      {with_record(changed("/progress/step", 4)), "rollouts.r1.progress.step: 4 is beyond"},
      {with_record(changed("/progress/canary/latency/0/0", 100000)),
       "rollouts.r1.progress.canary.latency[0][0]: expected an integer from 0 to"},
      {with_record(changed("/progress/history/1/unix_ms", "now")),
       "rollouts.r1.progress.history[1].unix_ms: expected an integer"},
  };
  for (const auto& [text, expected] : cases) {
    EXPECT_EQ(refusal(text).rfind(expected, 0), 0u)
        << text << "\nexpected: " << expected << "\ngot: " << refusal(text);
    std::vector<runtime::RolloutRecord> read_back;
    std::string why;
    EXPECT_FALSE(state_from_json(text, file, &why, &read_back)) << text;
  }
}

TEST_F(StateFileOnDisk, RolloutsAreReadFromTheFileAndByCheck) {
  const std::vector<runtime::RolloutRecord> rollouts = {a_rollout("r1", false)};
  std::string why;
  std::vector<runtime::RolloutRecord> read_back = rollouts;
  ASSERT_TRUE(read_state_file(path_, file, &why, &read_back)) << why;
  EXPECT_TRUE(read_back.empty()) << "an absent file has no rollouts";
  ASSERT_TRUE(write_atomically(path_, state_to_json(changes, rollouts), &why)) << why;
  ASSERT_TRUE(read_state_file(path_, file, &why, &read_back)) << why;
  EXPECT_EQ(read_back, rollouts);
  conf::Config with_state = file;
  with_state.server.state_file = path_;
  std::vector<std::string> dropped;
  read_back.clear();
  ASSERT_TRUE(check_state_file(text, with_state, &dropped, &why, &read_back)) << why;
  EXPECT_EQ(read_back, rollouts);
  write(R"({"format": 2, "rollouts": {"r1": {"source": "api"}}})");
  EXPECT_FALSE(check_state_file(text, with_state, &dropped, &why));
  EXPECT_EQ(why, path_ + ": rollouts.r1.config: missing");
}

}  // namespace
}  // namespace veer::admin
