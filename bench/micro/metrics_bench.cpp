// What counting one request for /metrics costs a worker, and what a scrape costs.
#include <benchmark/benchmark.h>

#include <chrono>

#include "runtime/metrics.hpp"

namespace {

using namespace std::chrono_literals;

// The request path: a status class and a histogram bucket (the clock read that feeds
// it is shared with the access log and not counted here).
void BM_RecordExchange(benchmark::State& state) {
  veer::runtime::ExchangeSeries series;
  std::chrono::nanoseconds elapsed = 300us;
  for (auto _ : state) {
    series.count_response(200);
    series.time_response(elapsed);
    elapsed += 1ns;
  }
  benchmark::DoNotOptimize(series.responses[1].value());
}
BENCHMARK(BM_RecordExchange);

// A split target's answer for the rollout judge (SplitTargetSeries::count_answer):
// answered, errors and the latency bucket (latency_bucket), on the clock already read
// for the exchange's other counters. Times vary over 1 µs to ~1 s, one error in 16.
void BM_CountSplitAnswer(benchmark::State& state) {
  veer::runtime::SplitTargetSeries series;
  std::uint64_t i = 0;
  for (auto _ : state) {
    const auto elapsed = std::chrono::nanoseconds(1000 + ((i * 2654435761u) & 0x3fffffff));
    series.count_answer((i & 15) == 0, elapsed);
    ++i;
  }
  benchmark::DoNotOptimize(series.answered.value());
}
BENCHMARK(BM_CountSplitAnswer);

// Summing one worker's series as a scrape does, for `range(0)` series.
void BM_VisitSeries(benchmark::State& state) {
  veer::runtime::WorkerMetrics metrics;
  std::vector<std::shared_ptr<veer::runtime::ExchangeSeries>> held;
  for (int i = 0; i < state.range(0); ++i)
    held.push_back(metrics.series({"rpc", "*/", "pool", "10.0.0." + std::to_string(i) + ":8545"}));
  for (auto _ : state) {
    std::uint64_t total = 0;
    metrics.visit_series(
        [&](const veer::runtime::SeriesKey&, const veer::runtime::ExchangeSeries& s) {
          total += s.responses[1].value();
        });
    benchmark::DoNotOptimize(total);
  }
}
BENCHMARK(BM_VisitSeries)->Arg(10)->Arg(1000);

}  // namespace
