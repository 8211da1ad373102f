// Consistent hashing on a key: the same owner in every worker and after a restart,
// little movement when the pool changes, detours only for an ineligible owner.
#include "strategies/ip_hash.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "core/hash.hpp"
#include "unit/strategies/pool.hpp"

namespace veer::strategies {
namespace {

using unit::Pool;

// The backend each of `keys` client keys goes to.
std::vector<std::uint32_t> owners(Strategy& s, const Pool& pool, int keys) {
  std::vector<std::uint32_t> out(static_cast<std::size_t>(keys));
  for (int k = 0; k < keys; ++k) {
    const std::uint64_t hash = core::hash_bytes("client-" + std::to_string(k));
    out[static_cast<std::size_t>(k)] = s.pick(PickContext{hash}, pool.candidates());
  }
  return out;
}

TEST(IpHash, SameKeySameBackendAcrossWorkersAndRestarts) {
  Pool pool(std::vector<std::uint32_t>(10, 1));
  auto worker_a = pool.make("ip_hash", 1);
  auto worker_b = pool.make("ip_hash", 2);
  Pool restarted(std::vector<std::uint32_t>(10, 1));  // a new process: tables rebuilt
  auto after_restart = restarted.make("ip_hash", 3);
  const auto a = owners(*worker_a, pool, 10000);
  EXPECT_EQ(a, owners(*worker_b, pool, 10000));
  EXPECT_EQ(a, owners(*after_restart, restarted, 10000));
  std::map<std::uint32_t, int> spread;
  for (auto b : a)
    ++spread[b];
  EXPECT_EQ(spread.size(), 10u);
  for (auto [b, n] : spread)
    EXPECT_NEAR(n, 1000, 150) << b;
}

TEST(IpHash, RemovingOneOfTenRemapsAtMostFifteenPercentAndAddingBackRestores) {
  Pool ten(std::vector<std::uint32_t>(10, 1));
  auto s10 = ten.make("ip_hash");
  const auto before = owners(*s10, ten, 100000);
  // The same pool without its 7th backend (a reload removing it): indices shift, so
  // compare addresses.
  Pool nine(std::vector<std::uint32_t>(10, 1));
  nine.views.erase(nine.views.begin() + 6);
  nine.set_candidates({0, 1, 2, 3, 4, 5, 6, 7, 8});
  auto s9 = nine.make("ip_hash");
  const auto after = owners(*s9, nine, 100000);
  int moved = 0;
  for (std::size_t k = 0; k < before.size(); ++k) {
    moved += ten.views[before[k]].address != nine.views[after[k]].address ? 1 : 0;
  }
  RecordProperty("moved_keys_of_100000", moved);
  EXPECT_LE(moved, 15000) << "of 100,000 keys";
  EXPECT_GE(moved, 9000) << "about a tenth of the keys belonged to the removed backend";
  auto s10_again = ten.make("ip_hash");
  EXPECT_EQ(owners(*s10_again, ten, 100000), before) << "adding it back restores every owner";
}

TEST(IpHash, AnIneligibleOwnersKeysMoveAndNoOtherKeyDoes) {
  Pool pool(std::vector<std::uint32_t>(10, 1));
  auto s = pool.make("ip_hash");
  const auto before = owners(*s, pool, 100000);
  pool.set_candidates({0, 1, 2, 4, 5, 6, 7, 8, 9});  // backend 3 unhealthy
  const auto during = owners(*s, pool, 100000);
  std::map<std::uint32_t, int> heirs;
  for (std::size_t k = 0; k < before.size(); ++k) {
    if (before[k] == 3) {
      ++heirs[during[k]];
    } else {
      ASSERT_EQ(during[k], before[k]) << "a key of a healthy backend moved";
    }
  }
  EXPECT_EQ(heirs.count(3), 0u);
  EXPECT_GE(heirs.size(), 8u) << "its keys spread over the others, not onto one neighbour";
  EXPECT_EQ(owners(*s, pool, 100000), during) << "the detour is itself consistent";
  pool.set_candidates({0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  EXPECT_EQ(owners(*s, pool, 100000), before) << "keys return when it is healthy again";
}

TEST(IpHash, WeightsShapeTheShares) {
  Pool pool({1, 3});
  auto s = pool.make("ip_hash");
  const auto owned = owners(*s, pool, 100000);
  const double heavy = static_cast<double>(std::count(owned.begin(), owned.end(), 1u)) / 1e5;
  EXPECT_NEAR(heavy, 0.75, 0.02);
}

TEST(IpHash, TableDoesNotDependOnFileOrder) {
  Pool forward({1, 2, 3});
  Pool backward({3, 2, 1});
  std::reverse(backward.names.begin(), backward.names.end());
  for (std::size_t i = 0; i < 3; ++i)
    backward.views[i].address = backward.names[i];
  auto a = forward.make("ip_hash");
  auto b = backward.make("ip_hash");
  const auto oa = owners(*a, forward, 20000);
  const auto ob = owners(*b, backward, 20000);
  for (std::size_t k = 0; k < oa.size(); ++k) {
    ASSERT_EQ(forward.views[oa[k]].address, backward.views[ob[k]].address);
  }
}

}  // namespace
}  // namespace veer::strategies
