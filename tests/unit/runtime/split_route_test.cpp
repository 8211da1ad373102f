// Splits: bucket ranges, stickiness, monotone movement, failover order and the choice
// of a target for a request (override, sticky key, fallback to the client address).
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "conf/load.hpp"
#include "http/http_parser.hpp"
#include "runtime/snapshot.hpp"
#include "runtime/split_route.hpp"
#include "strategies/split_buckets.hpp"

namespace veer {
namespace {

using strategies::kSplitBuckets;
using strategies::split_bucket;
using strategies::split_bucket_ends;
using strategies::split_target_of;

// The target of each of `keys` distinct keys under `weights`.
std::vector<std::uint32_t> assign(const std::vector<std::uint64_t>& weights, int keys) {
  const std::vector<std::uint32_t> ends = split_bucket_ends(weights);
  std::vector<std::uint32_t> targets;
  targets.reserve(keys);
  for (int k = 0; k < keys; ++k) {
    targets.push_back(split_target_of(ends, split_bucket("user-" + std::to_string(k))));
  }
  return targets;
}

class Proportions : public testing::TestWithParam<std::vector<std::uint64_t>> {};

TEST_P(Proportions, EachTargetGetsItsWeightWithinOnePointOver100000Keys) {
  const std::vector<std::uint64_t>& weights = GetParam();
  const std::vector<std::uint32_t> targets = assign(weights, 100'000);
  std::vector<int> counts(weights.size(), 0);
  for (std::uint32_t t : targets)
    ++counts[t];
  std::uint64_t total = 0;
  for (std::uint64_t w : weights)
    total += w;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    const double expected = 100.0 * static_cast<double>(weights[i]) / static_cast<double>(total);
    const double measured = counts[i] / 1000.0;
    RecordProperty("share_" + std::to_string(i) + "_percent", std::to_string(measured));
    EXPECT_NEAR(measured, expected, 1.0) << "target " << i;
    if (weights[i] == 0) {
      EXPECT_EQ(counts[i], 0) << "weight 0 gets nothing";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Splits, Proportions,
    testing::Values(std::vector<std::uint64_t>{90, 10}, std::vector<std::uint64_t>{50, 50},
                    std::vector<std::uint64_t>{1, 99}, std::vector<std::uint64_t>{50, 30, 20},
                    std::vector<std::uint64_t>{0, 7, 0, 3},
                    // Weights of any size: the arithmetic does not overflow.
                    std::vector<std::uint64_t>{9'000'000'000'000'000'000ULL,
                                               1'000'000'000'000'000'000ULL},
                    std::vector<std::uint64_t>{1'000'000'000'000'000'000ULL, 1}));

TEST(SplitBuckets, RangesAreContiguousAndCoverEveryBucket) {
  const std::vector<std::uint32_t> ends = split_bucket_ends(std::vector<std::uint64_t>{3, 0, 1});
  ASSERT_EQ(ends.size(), 3u);
  EXPECT_EQ(ends[0], 7500u);
  EXPECT_EQ(ends[1], 7500u) << "weight 0: an empty range";
  EXPECT_EQ(ends[2], kSplitBuckets);
  EXPECT_EQ(split_target_of(ends, 0), 0u);
  EXPECT_EQ(split_target_of(ends, 7499), 0u);
  EXPECT_EQ(split_target_of(ends, 7500), 2u) << "the empty range is skipped";
  EXPECT_EQ(split_target_of(ends, kSplitBuckets - 1), 2u);
}

TEST(SplitBuckets, TheSameKeyLandsOnTheSameTargetEveryTime) {
  const std::vector<std::uint32_t> first = assign({95, 5}, 1000);
  for (int repeat = 0; repeat < 1000; ++repeat) {
    ASSERT_EQ(assign({95, 5}, 1000), first) << "repeat " << repeat;
  }
  // A fixed key has a fixed bucket: the hash is part of the contract (restarts).
  EXPECT_EQ(split_bucket("203.0.113.7"), split_bucket(std::string("203.0.113.7")));
}

// The canary grows 10 -> 25 -> 50 -> 100 (of 100): a key only ever moves from stable to
// canary; shrinking back moves exactly the same keys back.
TEST(SplitBuckets, GrowingTheCanaryOnlyMovesKeysIntoIt) {
  constexpr std::uint32_t kCanary = 0, kStable = 1;  // names sort "canary" < "stable"
  const std::vector<std::vector<std::uint64_t>> steps = {{10, 90}, {25, 75}, {50, 50}, {100, 0}};
  std::vector<std::vector<std::uint32_t>> seen;
  for (const auto& weights : steps)
    seen.push_back(assign(weights, 100'000));
  for (std::size_t s = 1; s < steps.size(); ++s) {
    int moved_in = 0;
    for (std::size_t k = 0; k < seen[s].size(); ++k) {
      ASSERT_FALSE(seen[s - 1][k] == kCanary && seen[s][k] == kStable)
          << "key " << k << " moved back from canary at step " << s;
      moved_in += seen[s - 1][k] == kStable && seen[s][k] == kCanary;
    }
    EXPECT_GT(moved_in, 0);
  }
  // Stable as the first target by name, the canary second: the same holds.
  const std::vector<std::vector<std::uint64_t>> flipped = {{90, 10}, {75, 25}, {50, 50}, {0, 100}};
  std::vector<std::uint32_t> before = assign(flipped[0], 100'000);
  for (std::size_t s = 1; s < flipped.size(); ++s) {
    const std::vector<std::uint32_t> after = assign(flipped[s], 100'000);
    for (std::size_t k = 0; k < after.size(); ++k) {
      ASSERT_FALSE(before[k] == 1 && after[k] == 0) << "key " << k << " step " << s;
    }
    before = after;
  }
  // Shrinking reverses exactly: the same keys go back.
  EXPECT_EQ(assign({10, 90}, 100'000), seen[0]);
}

TEST(SplitBuckets, FallbackSpreadsOverTheOthersByWeightAndIsStablePerBucket) {
  const std::vector<std::uint64_t> weights = {60, 30, 10, 0};
  std::map<std::uint32_t, int> counts;
  for (std::uint32_t bucket = 0; bucket < kSplitBuckets; ++bucket) {
    const auto target = strategies::split_fallback_of(weights, 0b0001, bucket);
    ASSERT_TRUE(target.has_value());
    ASSERT_NE(*target, 0u) << "excluded";
    ASSERT_NE(*target, 3u) << "weight 0 takes no share";
    EXPECT_EQ(target, strategies::split_fallback_of(weights, 0b0001, bucket));
    ++counts[*target];
  }
  EXPECT_EQ(counts[1], 7500);
  EXPECT_EQ(counts[2], 2500);
  EXPECT_FALSE(strategies::split_fallback_of(weights, 0b0111, 42).has_value());
}

// --- choosing a target for a request

// A listener routing to split "rpc", and three one-backend pools it may target.
constexpr const char* kRoutesAndPools = R"(
[listeners.public]
address = "127.0.0.1:8545"
  [[listeners.public.routes]]
  target = "rpc"
[pools.blue]
backends = ["127.0.0.1:19001"]
[pools.green]
backends = ["127.0.0.1:19002"]
[pools.canary]
backends = ["127.0.0.1:19003"]
)";

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
            ->pools[f.split().pools[split_target_of(f.split().bucket_ends, split_bucket(client))]]
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

// --- configuration

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
}  // namespace veer
