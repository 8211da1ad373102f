// The cluster scope's request path (limits/cluster_limiter.hpp) without Redis: a request
// served from the key's lease (the common case: the balance covers it and a refill is
// already pending or not yet due), and one decided by the local fallback while Redis is
// down. Neither touches the network; both are one table lookup and one or two atomics.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <memory>

#include "limits/cluster_limiter.hpp"
#include "limits/gcra.hpp"

namespace veer::limits {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;

conf::RateLimitPolicyConfig policy() {
  conf::RateLimitPolicyConfig p;
  p.name = "bench";
  p.rate = 100;
  p.burst = 20;
  p.scope = conf::RateLimitPolicyConfig::Scope::cluster;
  p.max_keys = 1'000'000;
  return p;
}

void BM_ClusterAcquireFromLease(benchmark::State& state) {
  auto channel = std::make_shared<ClusterChannel>();
  // A lease larger than the run: every request is served from it; the one refill the
  // first request queues stays pending (no cluster thread here), as one in flight does.
  channel->configure(0, std::uint64_t{1} << 40);
  channel->set_shared(true);
  auto limiter = ClusterLimiter::create(channel, policy());
  const Gcra gcra = Gcra::of(100, kSecond, 20, 0);
  std::int64_t now = 1000 * kSecond;
  for (auto _ : state) {
    now += 1000;
    benchmark::DoNotOptimize(limiter->acquire(42, now, gcra));
  }
}
BENCHMARK(BM_ClusterAcquireFromLease);

void BM_ClusterAcquireFallback(benchmark::State& state) {
  auto channel = std::make_shared<ClusterChannel>();
  channel->configure(2, 0);  // Redis down, N = 2: 50/s
  auto limiter = ClusterLimiter::create(channel, policy());
  const Gcra gcra = Gcra::of(100, kSecond, 20, 0);
  std::int64_t now = 1000 * kSecond;
  for (auto _ : state) {
    now += 2 * gcra.interval;  // one request per fallback interval: every one is charged
    benchmark::DoNotOptimize(limiter->acquire(42, now, gcra));
  }
}
BENCHMARK(BM_ClusterAcquireFallback);

}  // namespace
}  // namespace veer::limits
