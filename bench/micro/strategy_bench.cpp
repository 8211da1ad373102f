// One pick per iteration for each strategy, at 3, 100 and 1,000 backends, on one
// thread and with 2 threads picking at once (each with its own strategy object, as
// workers do; shared per-backend stats are what they contend on).
#include <benchmark/benchmark.h>

#include <memory>
#include <numeric>
#include <vector>

#include "health/backend_stats.hpp"
#include "strategies/strategy.hpp"

namespace veer::strategies {
namespace {

struct Pool {
  explicit Pool(std::size_t n) : stats(n), views(n), indices(n), bits((n + 63) / 64, ~0ull) {
    for (std::size_t i = 0; i < n; ++i) {
      views[i] = BackendView{static_cast<std::uint32_t>(1 + i % 5), &stats[i]};
    }
    std::iota(indices.begin(), indices.end(), 0u);
  }
  std::vector<health::BackendStats> stats;
  std::vector<BackendView> views;
  std::vector<std::uint32_t> indices;
  std::vector<std::uint64_t> bits;
};

Pool& shared_pool(std::size_t n) {
  static Pool p3(3), p100(100), p1000(1000);
  return n == 3 ? p3 : n == 100 ? p100 : p1000;
}

void BM_Pick(benchmark::State& state, const char* name) {
  Pool& pool = shared_pool(static_cast<std::size_t>(state.range(0)));
  const StrategyInfo* info = find_strategy(name);
  if (info == nullptr) {
    state.SkipWithError("strategy not available");
    return;
  }
  auto strategy =
      info->make(StrategyInputs{pool.views, static_cast<std::uint64_t>(state.thread_index())});
  const Candidates candidates(pool.indices, pool.bits);
  std::uint64_t key = 0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(state.thread_index() + 1);
  for (auto _ : state) {
    key += 0x9e3779b97f4a7c15ULL;
    benchmark::DoNotOptimize(strategy->pick(PickContext{key}, candidates));
  }
}

BENCHMARK_CAPTURE(BM_Pick, round_robin, "round_robin")
    ->Arg(3)
    ->Arg(100)
    ->Arg(1000)
    ->Threads(1)
    ->Threads(2);

}  // namespace
}  // namespace veer::strategies
