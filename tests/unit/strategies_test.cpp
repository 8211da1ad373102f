// Each strategy's defining property, with fixed seeds.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "core/backend_stats.hpp"
#include "core/hash.hpp"
#include "strategies/ip_hash.hpp"
#include "strategies/least_response_time.hpp"
#include "strategies/strategy.hpp"

namespace veer::strategies {
namespace {

// A pool of backends named b0, b1, ... with the given weights, all eligible.
struct Pool {
  explicit Pool(std::vector<std::uint32_t> weights, std::string prefix = "10.0.0.")
      : names(weights.size()), stats(weights.size()) {
    for (std::size_t i = 0; i < weights.size(); ++i) {
      names[i] = prefix + std::to_string(i + 1) + ":8545";
      views.push_back(BackendView{names[i], weights[i], &stats[i]});
    }
    set_candidates([&] {
      std::vector<std::uint32_t> all(weights.size());
      std::iota(all.begin(), all.end(), 0u);
      return all;
    }());
  }
  void set_candidates(std::vector<std::uint32_t> eligible) {
    indices = std::move(eligible);
    bits.assign((views.size() + 63) / 64, 0);
    for (std::uint32_t i : indices)
      bits[i / 64] |= std::uint64_t{1} << (i % 64);
  }
  Candidates candidates() const { return Candidates(indices, bits); }
  std::unique_ptr<Strategy> make(std::string_view name, std::uint64_t seed = 1,
                                 const Strategy* previous = nullptr) {
    const StrategyInfo* info = find_strategy(name);
    Prepared prepared = info->prepare != nullptr ? info->prepare(views) : Prepared{};
    return info->make(StrategyInputs{views, seed, previous, std::move(prepared)});
  }

  std::vector<std::string> names;
  std::vector<core::BackendStats> stats;
  std::vector<BackendView> views;
  std::vector<std::uint32_t> indices;
  std::vector<std::uint64_t> bits;
};

std::vector<int> count_picks(Strategy& s, const Pool& pool, int picks, std::uint64_t key = 0) {
  std::vector<int> counts(pool.views.size(), 0);
  for (int i = 0; i < picks; ++i)
    ++counts[s.pick(PickContext{key + i}, pool.candidates())];
  return counts;
}

TEST(RoundRobin, CyclesEvenlyAndWorkersStartApart) {
  Pool pool({1, 1, 1});
  auto w0 = pool.make("round_robin", 0);
  auto w1 = pool.make("round_robin", 1);
  EXPECT_EQ(count_picks(*w0, pool, 300), (std::vector<int>{100, 100, 100}));
  EXPECT_NE(w0->pick({}, pool.candidates()), w1->pick({}, pool.candidates()))
      << "two workers do not begin on the same backend";
}

TEST(RoundRobin, ReloadKeepsTheCursor) {
  Pool pool({1, 1, 1});
  auto before = pool.make("round_robin", 0);
  EXPECT_EQ(before->pick({}, pool.candidates()), 0u);
  auto after = pool.make("round_robin", 7, before.get());
  EXPECT_EQ(after->pick({}, pool.candidates()), 1u);
}

TEST(LeastConnections, PicksTheFewestAndBreaksTiesAtRandom) {
  Pool pool({1, 1, 1, 1});
  auto s = pool.make("least_connections", 42);
  pool.stats[0].active_connections = 5;
  pool.stats[1].active_connections = 2;
  pool.stats[2].active_connections = 9;
  pool.stats[3].active_connections = 2;
  const auto counts = count_picks(*s, pool, 10000);
  EXPECT_EQ(counts[0] + counts[2], 0);
  EXPECT_GT(counts[1], 4500) << "ties split about evenly, not always the first";
  EXPECT_GT(counts[3], 4500);
}

TEST(LeastConnections, CountsStayWithinOnePlusWorkersUnderChurn) {
  // Long-lived connections (WebSocket subscriptions) keep arriving while some close:
  // each round up to kWorkers random connections end, then every worker picks for a
  // new one at the same instant (all picks happen before any count is updated).
  Pool pool({1, 1, 1, 1, 1});
  constexpr int kWorkers = 2;
  std::vector<std::unique_ptr<Strategy>> workers;
  for (int w = 0; w < kWorkers; ++w)
    workers.push_back(pool.make("least_connections", 100 + w));
  core::Random random(7);
  std::vector<std::uint32_t> open;  // backend of each open connection
  std::int64_t worst = 0;
  for (int round = 0; round < 20000; ++round) {
    for (int closing = static_cast<int>(random.below(kWorkers + 1)); closing > 0 && !open.empty();
         --closing) {
      const std::size_t i = random.below(static_cast<std::uint32_t>(open.size()));
      --pool.stats[open[i]].active_connections;
      open[i] = open.back();
      open.pop_back();
    }
    std::vector<std::uint32_t> picks;
    for (auto& w : workers)
      picks.push_back(w->pick({}, pool.candidates()));
    for (std::uint32_t b : picks) {
      ++pool.stats[b].active_connections;
      open.push_back(b);
    }
    std::int64_t low = INT64_MAX, high = INT64_MIN;
    for (auto& st : pool.stats) {
      low = std::min(low, st.active_connections.load());
      high = std::max(high, st.active_connections.load());
    }
    worst = std::max(worst, high - low);
  }
  EXPECT_GT(open.size(), 1000u) << "connections accumulated: the test exercised real load";
  EXPECT_LE(worst, 1 + kWorkers);
}

TEST(Weighted, SmoothCycleForFiveOneOne) {
  Pool pool({5, 1, 1});
  auto s = pool.make("weighted");
  std::string cycle;
  for (int i = 0; i < 7; ++i)
    cycle += static_cast<char>('a' + s->pick({}, pool.candidates()));
  EXPECT_EQ(cycle, "aabacaa");
  // Where two cycles meet, the heavy backend runs at most 4 times in a row.
  int run = 0, longest = 0;
  for (int i = 0; i < 700; ++i) {
    run = s->pick({}, pool.candidates()) == 0 ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  EXPECT_EQ(longest, 4);
}

TEST(Weighted, SharesFollowWeightsWithinOnePercent) {
  Pool pool({5, 3, 2, 7});
  auto s = pool.make("weighted");
  const auto counts = count_picks(*s, pool, 100000);
  const double total = 17;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    EXPECT_NEAR(counts[i] / 100000.0, pool.views[i].weight / total, 0.01) << i;
  }
}

TEST(Weighted, ChangingOneWeightKeepsTheOthersScores) {
  Pool pool({5, 1, 1});
  auto before = pool.make("weighted");
  for (int i = 0; i < 3; ++i)
    before->pick({}, pool.candidates());  // a a b: scores (1,-4,3)
  pool.views[2].weight = 4;               // the next snapshot moves c's weight only
  auto after = pool.make("weighted", 1, before.get());
  // Continuing with c at 4: scores (6,-3,7) -> c.
  EXPECT_EQ(after->pick({}, pool.candidates()), 2u);
  // A fresh strategy would have started from zero scores and picked a.
  auto fresh = pool.make("weighted");
  EXPECT_EQ(fresh->pick({}, pool.candidates()), 0u);
}

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

TEST(LeastResponseTime, FollowsLatencyAndInFlight) {
  Pool pool({1, 1, 1});
  static std::chrono::steady_clock::time_point fake_now{std::chrono::seconds(100)};
  const auto clock = [] { return fake_now; };
  LeastResponseTime s(pool.views, 5, clock);
  const double decay = core::kLatencyDecayNs;
  pool.stats[0].latency.record(std::chrono::milliseconds(1), fake_now, decay);
  pool.stats[1].latency.record(std::chrono::milliseconds(1), fake_now, decay);
  pool.stats[2].latency.record(std::chrono::milliseconds(50), fake_now, decay);
  const auto counts = count_picks(s, pool, 3000);
  EXPECT_EQ(counts[2], 0) << "the slow backend loses every comparison";
  EXPECT_NEAR(counts[0], 1500, 150);
  // Load counts too: many requests in flight on backend 0 make it the costly one.
  pool.stats[0].in_flight = 100;
  const auto loaded = count_picks(s, pool, 3000);
  EXPECT_LT(loaded[0], loaded[1] / 10);
}

TEST(LeastResponseTime, AnUnsampledBackendIsTriedAndAnIdleSlowOneDecays) {
  Pool pool({1, 1});
  static std::chrono::steady_clock::time_point fake_now{std::chrono::seconds(100)};
  const auto clock = [] { return fake_now; };
  LeastResponseTime s(pool.views, 9, clock);
  pool.stats[0].latency.record(std::chrono::milliseconds(2), fake_now, core::kLatencyDecayNs);
  // Backend 1 has no sample: it is compared on in-flight alone, so it is tried.
  pool.stats[0].in_flight = 1;
  EXPECT_EQ(s.pick({}, pool.candidates()), 1u);
  // A slow backend left alone drifts back toward zero and is tried again.
  pool.stats[0].in_flight = 0;
  pool.stats[1].latency.record(std::chrono::milliseconds(50), fake_now, core::kLatencyDecayNs);
  EXPECT_EQ(s.pick({}, pool.candidates()), 0u);
  fake_now += std::chrono::seconds(10);  // backend 0 keeps being sampled at 2 ms
  pool.stats[0].latency.record(std::chrono::milliseconds(2), fake_now, core::kLatencyDecayNs);
  EXPECT_LT(pool.stats[1].latency.estimate_ns(fake_now, core::kLatencyDecayNs), 2e6);
  EXPECT_EQ(s.pick({}, pool.candidates()), 1u);
}

TEST(PeakEwma, PeaksAtOnceAndDecaysWithTime) {
  core::PeakEwma ewma;
  const auto t0 = std::chrono::steady_clock::time_point(std::chrono::seconds(1));
  const double decay = 2e9;
  EXPECT_LT(ewma.estimate_ns(t0, decay), 0) << "never sampled";
  ewma.record(std::chrono::milliseconds(10), t0, decay);
  ewma.record(std::chrono::milliseconds(40), t0 + std::chrono::milliseconds(1), decay);
  EXPECT_NEAR(ewma.estimate_ns(t0 + std::chrono::milliseconds(1), decay), 40e6, 1e3)
      << "a peak is believed at once";
  EXPECT_NEAR(ewma.estimate_ns(t0 + std::chrono::milliseconds(2001), decay), 40e6 / std::exp(1.0),
              1e4)
      << "one time constant later it has decayed by e";
}

}  // namespace
}  // namespace veer::strategies
