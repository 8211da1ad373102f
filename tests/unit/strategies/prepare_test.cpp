// What a strategy is built from: the table prepared per snapshot, which the strategy
// shares rather than borrows, and the state carried over from the strategy it replaces.
#include <gtest/gtest.h>

#include <numeric>
#include <set>
#include <string>
#include <vector>

#include "core/backend_stats.hpp"
#include "strategies/ip_hash.hpp"
#include "strategies/round_robin.hpp"
#include "strategies/strategy.hpp"
#include "strategies/weighted.hpp"

namespace veer::strategies {
namespace {

// Five backends with different weights, all candidates.
struct Backends {
  Backends() : names(5), stats(5) {
    for (std::size_t i = 0; i < names.size(); ++i) {
      names[i] = "10.1.0." + std::to_string(i + 1) + ":80";
      views.push_back(BackendView{names[i], static_cast<std::uint32_t>(i + 1), &stats[i]});
      indices.push_back(static_cast<std::uint32_t>(i));
    }
  }
  Candidates candidates() const { return Candidates(indices, bits); }

  std::vector<std::string> names;
  std::vector<core::BackendStats> stats;
  std::vector<BackendView> views;
  std::vector<std::uint32_t> indices;
  std::vector<std::uint64_t> bits{0b11111};
};

std::vector<std::uint32_t> picks(Strategy& s, const Candidates& candidates, int n) {
  std::vector<std::uint32_t> out;
  for (int i = 0; i < n; ++i)
    out.push_back(
        s.pick(PickContext{0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(i)}, candidates));
  return out;
}

TEST(Prepare, IpHashKeepsItsTableWhenTheSnapshotLetsGo) {
  Backends b;
  const StrategyInfo* info = find_strategy("ip_hash");
  auto reference = info->make(StrategyInputs{b.views, 1, nullptr, info->prepare(b.views)});
  std::unique_ptr<Strategy> strategy;
  {
    // The snapshot's share of the table dies here; the strategy's must keep it alive
    // (under ASan a borrowed table reads freed memory below).
    Prepared prepared = info->prepare(b.views);
    strategy = info->make(StrategyInputs{b.views, 2, nullptr, prepared});
  }
  EXPECT_EQ(picks(*strategy, b.candidates(), 1000), picks(*reference, b.candidates(), 1000));
}

TEST(Prepare, IpHashWithoutAPreparedTableBuildsTheSameOne) {
  Backends b;
  const StrategyInfo* info = find_strategy("ip_hash");
  auto prepared = info->make(StrategyInputs{b.views, 1, nullptr, info->prepare(b.views)});
  auto unprepared = info->make(StrategyInputs{b.views, 1, nullptr, Prepared{}});
  EXPECT_EQ(picks(*unprepared, b.candidates(), 1000), picks(*prepared, b.candidates(), 1000));
}

TEST(Prepare, OnlyIpHashPreparesAndEveryNameMakesItsOwnKind) {
  Backends b;
  std::set<StrategyKind> kinds;
  for (const StrategyInfo& info : all_strategies()) {
    EXPECT_EQ(info.prepare != nullptr, info.name == "ip_hash") << info.name;
    const Prepared prepared = info.prepare != nullptr ? info.prepare(b.views) : Prepared{};
    auto first = info.make(StrategyInputs{b.views, 1, nullptr, prepared});
    // A reload with the same strategy hands the old one over as `previous`.
    auto second = info.make(StrategyInputs{b.views, 2, first.get(), prepared});
    EXPECT_EQ(first->kind(), second->kind()) << info.name;
    kinds.insert(first->kind());
  }
  EXPECT_EQ(kinds.size(), all_strategies().size()) << "one kind per name";
}

TEST(Prepare, PreviousOfAnotherKindIsNotTakenOver) {
  Backends b;
  RoundRobin round_robin(3);
  const StrategyInputs inputs{b.views, 7, &round_robin, Prepared{}};
  EXPECT_EQ(inputs.previous_as<RoundRobin>(), &round_robin);
  EXPECT_EQ(inputs.previous_as<SmoothWeighted>(), nullptr);
  EXPECT_EQ(inputs.previous_as<IpHash>(), nullptr);
  EXPECT_EQ(StrategyInputs{}.previous_as<RoundRobin>(), nullptr);

  // Smooth weighted after round robin starts fresh: the same sequence as no previous.
  auto after_other = SmoothWeighted::make(inputs);
  auto fresh = SmoothWeighted::make(StrategyInputs{b.views, 7, nullptr, Prepared{}});
  EXPECT_EQ(picks(*after_other, b.candidates(), 30), picks(*fresh, b.candidates(), 30));
}

}  // namespace
}  // namespace veer::strategies
