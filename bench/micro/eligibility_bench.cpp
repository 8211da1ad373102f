// The per-request cost of what surrounds a strategy on a worker: a pick through the
// WorkerView (epoch check, candidate lists, slow start, retry exclusion), recording an
// outcome for passive health, and the retry budget's bookkeeping.
#include <benchmark/benchmark.h>

#include <string>

#include "conf/load.hpp"
#include "health/outlier.hpp"
#include "runtime/retry_budget.hpp"
#include "runtime/worker_view.hpp"

namespace veer::proxy {
namespace {

std::shared_ptr<const runtime::Snapshot> pool_of(int backends, const std::string& extra,
                                                 runtime::BackendRegistry& registry) {
  std::string list;
  for (int i = 0; i < backends; ++i) {
    list += (i ? ", \"127.0.0.1:" : "\"127.0.0.1:") + std::to_string(20000 + i) + "\"";
  }
  const conf::LoadResult loaded = conf::load_config_string(
      "[listeners.l]\naddress = \"127.0.0.1:0\"\n[[listeners.l.routes]]\ntarget = \"p\"\n"
      "[pools.p]\nbackends = [" +
          list + "]\n" + extra,
      "bench.toml");
  return build_snapshot(*loaded.config, 1, registry);
}

runtime::WorkerView view_of(std::shared_ptr<const runtime::Snapshot> snapshot) {
  return runtime::WorkerView(std::move(snapshot), 0, 1, nullptr,
                             [](const conf::SocketAddress&) { return std::uint32_t{0}; });
}

// A plain pick: what every request pays.
void BM_ViewPick(benchmark::State& state) {
  runtime::BackendRegistry registry;
  runtime::WorkerView view = view_of(pool_of(static_cast<int>(state.range(0)), "", registry));
  for (auto _ : state)
    benchmark::DoNotOptimize(view.pick(0, {}));
}
BENCHMARK(BM_ViewPick)->Arg(3)->Arg(100);

// slow_start configured, one backend warming up: every pick reads the clock.
void BM_ViewPickSlowStart(benchmark::State& state) {
  runtime::BackendRegistry registry;
  auto snapshot = pool_of(static_cast<int>(state.range(0)), "slow_start = \"60s\"\n", registry);
  snapshot->pools[0].backends[0].stats->routable_since =
      std::chrono::steady_clock::now().time_since_epoch().count();
  runtime::WorkerView view = view_of(snapshot);
  for (auto _ : state)
    benchmark::DoNotOptimize(view.pick(0, {}));
}
BENCHMARK(BM_ViewPickSlowStart)->Arg(3)->Arg(100);

// A retry's pick: the candidates minus the backend already tried.
void BM_ViewPickExcluding(benchmark::State& state) {
  runtime::BackendRegistry registry;
  runtime::WorkerView view = view_of(pool_of(static_cast<int>(state.range(0)), "", registry));
  for (auto _ : state)
    benchmark::DoNotOptimize(view.pick(0, {}, runtime::exclusion_bit(1)));
}
BENCHMARK(BM_ViewPickExcluding)->Arg(3)->Arg(100);

// A success reported for passive health (every response head).
void BM_RecordSuccess(benchmark::State& state) {
  core::BackendStats stats;
  for (auto _ : state) {
    health::record_success(stats);
    benchmark::DoNotOptimize(stats);
  }
}
BENCHMARK(BM_RecordSuccess);

// The retry budget: one request recorded, and one retry asked for.
void BM_RetryBudget(benchmark::State& state) {
  runtime::RetryBudget budget;
  budget.configure(20, 50);
  for (auto _ : state) {
    const auto now = std::chrono::steady_clock::now();
    budget.record_request(now);
    benchmark::DoNotOptimize(budget.try_spend(now));
  }
}
BENCHMARK(BM_RetryBudget);

}  // namespace
}  // namespace veer::proxy
