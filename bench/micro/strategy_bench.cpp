// One pick per iteration for each strategy, at 3, 100 and 1,000 backends, on one thread
// and with 2 threads picking at once. Each thread has its own strategy object (as each
// worker does); the per-backend stats they read (connection counts, latency) are shared
// and, for the 2-thread runs, written by both, as under real load.
#include <benchmark/benchmark.h>

#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "core/backend_stats.hpp"
#include "strategies/strategy.hpp"

namespace veer::strategies {
namespace {

struct Pool {
  explicit Pool(std::size_t n) : names(n), stats(n), views(n), indices(n), bits((n + 63) / 64, 0) {
    const auto now = std::chrono::steady_clock::now();
    for (std::size_t i = 0; i < n; ++i) {
      names[i] = "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250) + ":8545";
      views[i] = BackendView{names[i], static_cast<std::uint32_t>(1 + i % 5), &stats[i]};
      stats[i].active_connections.store(static_cast<std::int64_t>(i % 7));
      stats[i].latency.record(std::chrono::microseconds(200 + 37 * (i % 11)), now,
                              core::kLatencyDecayNs);
      bits[i / 64] |= std::uint64_t{1} << (i % 64);
    }
    std::iota(indices.begin(), indices.end(), 0u);
  }
  std::vector<std::string> names;
  std::vector<core::BackendStats> stats;
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
  const Prepared prepared = info->prepare != nullptr ? info->prepare(pool.views) : Prepared{};
  auto strategy = info->make(StrategyInputs{
      pool.views, static_cast<std::uint64_t>(state.thread_index()), nullptr, prepared});
  const Candidates candidates(pool.indices, pool.bits);
  std::uint64_t key = 0x9e3779b97f4a7c15ULL * static_cast<std::uint64_t>(state.thread_index() + 1);
  for (auto _ : state) {
    key += 0x9e3779b97f4a7c15ULL;
    benchmark::DoNotOptimize(strategy->pick(PickContext{key}, candidates));
  }
}

#define VEER_STRATEGY_BENCH(name) \
  BENCHMARK_CAPTURE(BM_Pick, name, #name)->Arg(3)->Arg(100)->Arg(1000)->Threads(1)->Threads(2)

VEER_STRATEGY_BENCH(round_robin);
VEER_STRATEGY_BENCH(least_connections);
VEER_STRATEGY_BENCH(weighted);
VEER_STRATEGY_BENCH(ip_hash);
VEER_STRATEGY_BENCH(least_response_time);

void BM_BuildMaglevTable(benchmark::State& state) {
  Pool& pool = shared_pool(static_cast<std::size_t>(state.range(0)));
  const StrategyInfo* info = find_strategy("ip_hash");
  for (auto _ : state)
    benchmark::DoNotOptimize(info->prepare(pool.views));
}
BENCHMARK(BM_BuildMaglevTable)->Arg(3)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace veer::strategies
