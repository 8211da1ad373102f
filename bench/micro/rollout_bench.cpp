// What a rollout costs: the latency bucket every answer of a split target takes on the
// worker (per request), and one judgement of each guard the controller makes per tick.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>

#include "runtime/rollout_judge.hpp"

namespace veer::runtime {
namespace {

// Response times spread over the buckets (1 µs .. 1 s), so the branch on the linear
// range and the octave both vary as they do under real traffic.
void BM_LatencyBucket(benchmark::State& state) {
  std::uint64_t ns = 1000;
  for (auto _ : state) {
    ns = ns * 6364136223846793005ULL + 1442695040888963407ULL;
    benchmark::DoNotOptimize(latency_bucket(std::chrono::nanoseconds((ns >> 34) & 0x3fffffff)));
  }
}
BENCHMARK(BM_LatencyBucket);

// A step well under way: 20,000 stable and 2,000 canary answers, latencies around 1 to
// 6 ms, a few errors on each side.
void step_evidence(TargetEvidence& stable, TargetEvidence& canary) {
  for (std::uint64_t i = 0; i < 20000; ++i) {
    ++stable.latency[latency_bucket(std::chrono::microseconds(1000 + (i * 7919) % 5000))];
  }
  for (std::uint64_t i = 0; i < 2000; ++i) {
    ++canary.latency[latency_bucket(std::chrono::microseconds(1000 + (i * 7919) % 5200))];
  }
  stable.requests = 20000;
  stable.errors = 21;
  canary.requests = 2000;
  canary.errors = 3;
}

void BM_JudgeErrorRatio(benchmark::State& state) {
  TargetEvidence stable, canary;
  step_evidence(stable, canary);
  const conf::ErrorGuardConfig guard{0.01, 0.05};
  for (auto _ : state)
    benchmark::DoNotOptimize(judge_error_ratio(stable, canary, guard));
}
BENCHMARK(BM_JudgeErrorRatio);

void BM_JudgeLatency(benchmark::State& state) {
  TargetEvidence stable, canary;
  step_evidence(stable, canary);
  const conf::LatencyGuardConfig guard{0.99, 25, 0.05};
  for (auto _ : state)
    benchmark::DoNotOptimize(judge_latency(stable, canary, guard));
}
BENCHMARK(BM_JudgeLatency);

}  // namespace
}  // namespace veer::runtime
