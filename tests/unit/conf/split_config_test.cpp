// [splits.NAME]: keys, defaults and the errors a file gets (conf/load_splits.cpp).
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "conf/load.hpp"
#include "unit/conf/split_pools.hpp"

namespace veer::conf {
namespace {

using conf::unit::kRoutesAndPools;

std::string errors_of(const conf::LoadResult& r) {
  std::string all;
  for (const auto& e : r.errors)
    all += e.to_string() + "\n";
  return all;
}

TEST(SplitConfig, KeysDefaultsAndErrors) {
  const std::string head = kRoutesAndPools;
  {
    const auto r = conf::load_config_string(head + R"([splits.rpc]
targets = { green = 1, blue = 3 }
)",
                                            "t.toml");
    ASSERT_TRUE(r.errors.empty()) << errors_of(r);
    const conf::SplitConfig& s = r.config->splits.at(0);
    ASSERT_EQ(s.targets.size(), 2u);
    EXPECT_EQ(s.targets[0].pool, "blue") << "sorted by name";
    EXPECT_EQ(s.targets[0].weight, 3u);
    EXPECT_EQ(s.sticky, "client_ip");
    EXPECT_TRUE(s.override_header.empty());
    EXPECT_TRUE(s.failover);
    EXPECT_TRUE(s.target_header.empty());
    EXPECT_FALSE(s.drain_tunnels_after.has_value());
  }
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"targets = { blue = 0, green = 0 }", "every weight is 0"},
      {"targets = { blue = -1, green = 1 }", "must be >= 0"},
      {"targets = { blue = 1, purple = 1 }", "no pool named \"purple\""},
      {"targets = { blue = 1, rpc = 1 }", "a split cannot target another split"},
      {"targets = {}", "at least one target"},
      {"targets = { blue = \"1\" }", "expected an integer"},
      {"targets = { blue = 1 }\nsticky = \"ip\"",
       "is not client_ip, header:NAME, cookie:NAME or none"},
      {"targets = { blue = 1 }\noverride_header = \"X Veer\"", "is not a header or cookie name"},
      {"targets = { blue = 1 }\ndrain_tunnels_after = \"soon\"", "drain_tunnels_after"},
      {"targets = { blue = 1 }\nweights = 3", "unknown key"},
      {"sticky = \"none\"", "missing key \"targets\""},
  };
  for (const auto& [keys, fragment] : bad) {
    const auto r = conf::load_config_string(head + "[splits.rpc]\n" + keys + "\n", "t.toml");
    EXPECT_NE(errors_of(r).find(fragment), std::string::npos)
        << keys << "\nexpected: " << fragment << "\ngot: " << errors_of(r);
  }
  const auto clash =
      conf::load_config_string(head + "[splits.blue]\ntargets = { green = 1 }\n", "t.toml");
  EXPECT_NE(errors_of(clash).find("a pool has the same name"), std::string::npos)
      << errors_of(clash);
}

}  // namespace
}  // namespace veer::conf
