#pragma once

// The strategies' tests share one fixture: a pool of backends with load counters and a
// candidate set, and a way to make any strategy of the registry over it.

#include <cstdint>
#include <memory>
#include <numeric>
#include <string>
#include <string_view>
#include <vector>

#include "core/backend_stats.hpp"
#include "strategies/strategy.hpp"

// An inner namespace, so that these names never meet the library's.
namespace veer::strategies::unit {

// A pool of backends named 10.0.0.1:8545, 10.0.0.2:8545, ... with the given weights,
// all eligible.
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

// How often each backend is picked in `picks` picks with keys key, key + 1, ...
inline std::vector<int> count_picks(Strategy& s, const Pool& pool, int picks,
                                    std::uint64_t key = 0) {
  std::vector<int> counts(pool.views.size(), 0);
  for (int i = 0; i < picks; ++i)
    ++counts[s.pick(PickContext{key + i}, pool.candidates())];
  return counts;
}

}  // namespace veer::strategies::unit
