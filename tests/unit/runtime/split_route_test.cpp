// The choice of a split's target for a request: the override header or cookie, the
// sticky key, and the fallback to the client address (runtime/split_route.hpp).
#include "runtime/split_route.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "conf/load.hpp"
#include "http/http_parser.hpp"
#include "runtime/snapshot.hpp"
#include "strategies/split_buckets.hpp"
#include "unit/conf/split_pools.hpp"

namespace veer::runtime {
namespace {

using strategies::split_hash;
using strategies::split_target_of_hash;

using conf::unit::kRoutesAndPools;

struct SplitFixture {
  std::shared_ptr<const runtime::Snapshot> snapshot;
  runtime::BackendRegistry registry;
  http::RequestHead head;
  std::string bytes;
  core::Random random{7};

  explicit SplitFixture(const std::string& split_keys) {
    const std::string toml = std::string(kRoutesAndPools) + "[splits.rpc]\n" + split_keys;
    conf::LoadResult loaded = conf::load_config_string(toml, "split.toml");
    EXPECT_TRUE(loaded.errors.empty())
        << (loaded.errors.empty() ? "" : loaded.errors[0].to_string());
    snapshot = runtime::build_snapshot(std::move(*loaded.config), 1, registry);
  }

  const runtime::SplitRuntime& split() const { return snapshot->splits.at(0); }

  // The pool name the request with these header lines goes to.
  std::string pool_for(const std::string& headers, const std::string& client = "192.0.2.1") {
    bytes = "GET / HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n";
    head.reset();
    EXPECT_FALSE(http::parse_request_head(bytes, head));
    const runtime::SplitChoice choice = runtime::choose_split_target(split(), head, client, random);
    return snapshot->pools[split().pools[choice.target]].name;
  }
};

TEST(SplitChoice, TheOverrideHeaderReachesEveryTargetAndUnknownValuesAreIgnored) {
  SplitFixture f(R"(targets = { blue = 100, green = 0, canary = 0 }
override_header = "X-Veer-Version"
override_cookie = "veer_version"
)");
  for (const char* pool : {"blue", "green", "canary"}) {
    EXPECT_EQ(f.pool_for(std::string("X-Veer-Version: ") + pool + "\r\n"), pool);
    EXPECT_EQ(f.pool_for(std::string("x-veer-version: ") + pool + "\r\n"), pool) << "any case";
    EXPECT_EQ(f.pool_for(std::string("Cookie: a=1; veer_version=") + pool + "\r\n"), pool);
  }
  EXPECT_EQ(f.pool_for("X-Veer-Version: purple\r\n"), "blue") << "not a target: ignored";
  EXPECT_EQ(f.pool_for("X-Veer-Version: \r\n"), "blue");
}

TEST(SplitChoice, StickyHeaderKeysAreStableAndMissingKeysFallBackToTheClientAddress) {
  SplitFixture f(R"(targets = { blue = 50, green = 50 }
sticky = "header:X-User"
)");
  std::map<std::string, int> spread;
  for (int k = 0; k < 200; ++k) {
    const std::string line = "X-User: u" + std::to_string(k) + "\r\n";
    const std::string first = f.pool_for(line, "192.0.2.1");
    // The same key from other addresses: the key decides, not the address.
    EXPECT_EQ(f.pool_for(line, "198.51.100." + std::to_string(k % 250)), first);
    ++spread[first];
  }
  EXPECT_GT(spread["blue"], 60);
  EXPECT_GT(spread["green"], 60);
  // Without the header, the client address is the key.
  for (int a = 0; a < 50; ++a) {
    const std::string client = "198.51.100." + std::to_string(a);
    const std::string expected =
        f.snapshot
            ->pools[f.split().pools[split_target_of_hash(f.split().hash_ends, split_hash(client))]]
            .name;
    EXPECT_EQ(f.pool_for("", client), expected);
  }
}

TEST(SplitChoice, StickyNoneSplitsEachRequestByWeight) {
  SplitFixture f(R"(targets = { blue = 80, green = 20 }
sticky = "none"
)");
  std::map<std::string, int> counts;
  for (int i = 0; i < 20'000; ++i)
    ++counts[f.pool_for("")];
  EXPECT_NEAR(counts["blue"] / 20'000.0, 0.8, 0.02);
  EXPECT_NEAR(counts["green"] / 20'000.0, 0.2, 0.02);
}

}  // namespace
}  // namespace veer::runtime
