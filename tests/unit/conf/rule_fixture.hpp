#pragma once

// The desired-state rule's fixture, shared by conf/overrides_test.cpp and
// admin/state_file_test.cpp: a file with pool blue (two backends), pool green and split
// rpc, rate-limit policy per_client on the route, and the changes made on top of it. One class for
// both: googletest wants every test of a suite to use the same fixture type.

#include <gtest/gtest.h>

#include <string>

#include "conf/overrides.hpp"

// An inner namespace, so that these names never meet the library's.
namespace veer::conf::unit {

inline const std::string kPerClient = R"(rate = "100/s"
burst = 20)";

inline std::string file_text(const std::string& blue_backends, const std::string& split,
                             const std::string& per_client = kPerClient) {
  return R"(
[listeners.public]
address = "127.0.0.1:8545"
  [[listeners.public.routes]]
  target = "rpc"
  limits = ["per_client"]
[limits.per_client]
)" + per_client +
         R"(
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

inline Config load_file(const std::string& text) {
  LoadResult r = load_config_string(text, "test.toml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors.front().to_string());
  return *r.config;
}

inline const std::string kTwo = R"("127.0.0.1:9001", "127.0.0.1:9002")";
inline const std::string kBlueOnly = "blue = 100, green = 0";

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
  const RateLimitPolicyConfig& per_client() { return *file.limits.find_policy("per_client"); }
};

}  // namespace veer::conf::unit
