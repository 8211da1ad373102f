// Split buckets: ranges, stickiness, monotone movement when weights change, and the
// failover order (strategies/split_buckets.hpp); and the same choice as nginx's
// split_clients over the export's percentages, hash by hash.
#include "strategies/split_buckets.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "core/random.hpp"

namespace veer::strategies {
namespace {

// The target of each of `keys` distinct keys under `weights`.
std::vector<std::uint32_t> assign(const std::vector<std::uint64_t>& weights, int keys) {
  const std::vector<std::uint64_t> ends = split_hash_ends(split_bucket_ends(weights));
  std::vector<std::uint32_t> targets;
  targets.reserve(keys);
  for (int k = 0; k < keys; ++k) {
    targets.push_back(split_target_of_hash(ends, split_hash("user-" + std::to_string(k))));
  }
  return targets;
}

// nginx's split_clients, transcribed from ngx_http_split_clients_module.c: `percents` in
// hundredths of a percent, 0 for "*"; the part a hash selects, or parts.size() for none
// (the variable stays empty).
std::size_t nginx_part(const std::vector<std::uint32_t>& percents, std::uint32_t hash) {
  std::vector<std::uint32_t> thresholds;
  std::uint32_t last = 0;
  for (std::uint32_t percent : percents) {
    if (percent != 0)
      last += static_cast<std::uint32_t>(percent * std::uint64_t{0xffffffff} / 10000);
    thresholds.push_back(percent != 0 ? last : 0);
  }
  for (std::size_t i = 0; i < percents.size(); ++i) {
    if (hash < thresholds[i] || thresholds[i] == 0) return i;
  }
  return percents.size();
}

// What `veer export nginx` writes for a split: each target of positive width with its
// width, the last of them as "*"; and which target each part is.
struct NginxParts {
  std::vector<std::uint32_t> percents;
  std::vector<std::uint32_t> targets;
};
NginxParts nginx_parts(const std::vector<std::uint32_t>& bucket_ends) {
  NginxParts parts;
  std::uint32_t previous = 0;
  for (std::uint32_t i = 0; i < bucket_ends.size(); ++i) {
    if (bucket_ends[i] > previous) {
      parts.percents.push_back(bucket_ends[i] - previous);
      parts.targets.push_back(i);
    }
    previous = bucket_ends[i];
  }
  parts.percents.back() = 0;
  return parts;
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

TEST(SplitBuckets, HashRangesFollowNginxsThresholdsAndTheLastTargetTakesTheRest) {
  const std::vector<std::uint64_t> ends =
      split_hash_ends(split_bucket_ends(std::vector<std::uint64_t>{3, 0, 1, 0}));
  ASSERT_EQ(ends.size(), 4u);
  EXPECT_EQ(ends[0], 7500 * 0xffffffffULL / 10000);
  EXPECT_EQ(ends[1], ends[0]) << "weight 0: an empty range";
  EXPECT_EQ(ends[2], kSplitHashEnd) << "the last target of positive weight is nginx's *";
  EXPECT_EQ(ends[3], kSplitHashEnd);
  EXPECT_EQ(split_target_of_hash(ends, 0), 0u);
  EXPECT_EQ(split_target_of_hash(ends, static_cast<std::uint32_t>(ends[0] - 1)), 0u);
  EXPECT_EQ(split_target_of_hash(ends, static_cast<std::uint32_t>(ends[0])), 2u);
  EXPECT_EQ(split_target_of_hash(ends, 0xffffffff), 2u);
}

// For many weight tables, every hash at and around each of nginx's thresholds (and a
// spread of others) selects the same target in veer as in nginx's own loop over the
// export's percentages; hash-to-bucket scaling would differ right below a threshold, by
// at most a few counts of 2^32 per boundary (measured and bounded here).
TEST(SplitBuckets, EveryHashSelectsTheTargetNginxsSplitClientsSelects) {
  core::Random random(15);
  std::uint64_t near_boundary_differences = 0, boundaries = 0;
  for (int table = 0; table < 500; ++table) {
    std::vector<std::uint64_t> weights(1 + random.below(8));
    for (std::uint64_t& w : weights)
      w = random.below(4) == 0 ? 0 : 1 + random.below(table % 2 ? 1000 : 1'000'000'000);
    weights[random.below(static_cast<std::uint32_t>(weights.size()))] += 1;  // one positive
    const std::vector<std::uint32_t> bucket_ends = split_bucket_ends(weights);
    const std::vector<std::uint64_t> hash_ends = split_hash_ends(bucket_ends);
    const NginxParts parts = nginx_parts(bucket_ends);
    std::vector<std::uint32_t> probes;
    for (std::uint64_t end : hash_ends) {
      if (end == kSplitHashEnd) continue;
      ++boundaries;
      for (std::int64_t d = -8; d <= 8; ++d) {
        const std::int64_t h = static_cast<std::int64_t>(end) + d;
        if (h >= 0 && h <= 0xffffffff) probes.push_back(static_cast<std::uint32_t>(h));
      }
    }
    for (int i = 0; i < 200; ++i)
      probes.push_back(static_cast<std::uint32_t>(random.next() >> 32));
    probes.push_back(0);
    probes.push_back(0xffffffff);
    for (std::uint32_t hash : probes) {
      const std::size_t part = nginx_part(parts.percents, hash);
      ASSERT_LT(part, parts.targets.size()) << "nginx always selects a part (the *)";
      const std::uint32_t target = split_target_of_hash(hash_ends, hash);
      ASSERT_EQ(target, parts.targets[part]) << "table " << table << " hash " << hash;
      near_boundary_differences += split_target_of(bucket_ends, split_bucket_of(hash)) != target;
    }
  }
  RecordProperty("bucket_scaling_differences", std::to_string(near_boundary_differences));
  RecordProperty("boundaries", std::to_string(boundaries));
  // Within 8 counts of a threshold: the scaled bucket's owner differs from nginx's for at
  // most targets + 1 hashes per boundary (8 targets at most here).
  EXPECT_LE(near_boundary_differences, boundaries * 9);
}

// Hashes are spread evenly over the buckets: 1,000,000 keys into 100 groups of 100
// buckets each land within 3% of the mean (binomial: sigma is 1%), and the structured
// keys clients send (addresses, numbered ids) do as well as random ones.
TEST(SplitBuckets, KeysSpreadEvenlyOverTheBuckets) {
  std::vector<int> groups(100, 0);
  for (int k = 0; k < 1'000'000; ++k) {
    const std::string key = k % 2 ? "10." + std::to_string(k >> 16 & 255) + "." +
                                        std::to_string(k >> 8 & 255) + "." + std::to_string(k & 255)
                                  : "user-" + std::to_string(k);
    ++groups[split_bucket(key) / 100];
  }
  for (std::size_t g = 0; g < groups.size(); ++g) {
    EXPECT_NEAR(groups[g], 10'000, 300) << "buckets " << g * 100 << "-" << g * 100 + 99;
  }
}

TEST(SplitBuckets, BucketsAreHashesScaledSoTheirOrderIsTheHashOrder) {
  EXPECT_EQ(split_bucket_of(0), 0u);
  EXPECT_EQ(split_bucket_of(0xffffffff), kSplitBuckets - 1);
  core::Random random(3);
  std::uint32_t previous_hash = 0, previous_bucket = 0;
  for (int i = 0; i < 100'000; ++i) {
    const std::uint32_t hash = previous_hash + static_cast<std::uint32_t>(random.below(100'000));
    if (hash < previous_hash) break;  // wrapped: done
    ASSERT_GE(split_bucket_of(hash), previous_bucket) << "monotone in the hash";
    previous_hash = hash;
    previous_bucket = split_bucket_of(hash);
  }
  EXPECT_EQ(split_bucket("203.0.113.7"), split_bucket_of(core::murmur_hash2("203.0.113.7")));
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
