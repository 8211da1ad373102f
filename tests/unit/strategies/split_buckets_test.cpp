// Split buckets: ranges, stickiness, monotone movement when weights change, and the
// failover order (strategies/split_buckets.hpp).
#include "strategies/split_buckets.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace veer::strategies {
namespace {

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

}  // namespace
}  // namespace veer::strategies
