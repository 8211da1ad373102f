// The rate limiter's table (limits/key_table.hpp) through the Limiter interface, as the
// request path calls it: one allowed request on a hot key, the same with 1,000,000 keys
// in the table (lookups that miss the CPU caches), the memory 1,000,000 keys take, and
// two threads charging one key at once.
#include <benchmark/benchmark.h>

#include <unistd.h>

#include <cstdint>
#include <ctime>
#include <fstream>
#include <memory>

#include "core/hash.hpp"
#include "limits/local_limiter.hpp"

namespace veer::limits {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::uint64_t kMillion = 1'000'000;

// Resident memory of this process (/proc/self/statm, second field, in pages).
double rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t size = 0;
  std::uint64_t resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

// CPU time of this thread: the machine may be shared, so wall time would count others' work.
double cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

std::uint64_t key_of(std::uint64_t i) {
  return core::mix64(i + 1);  // as runtime::limit_key's hashes: spread over 64 bits
}

// An allowed request of one hot key: the clock moves one interval per request, so every
// call charges (compare-and-swap) rather than refuses.
void BM_LimiterAcquireAllowed(benchmark::State& state) {
  auto limiter = std::make_unique<LocalLimiter>(kMillion);
  Limiter& as_limiter = *limiter;
  const Gcra gcra = Gcra::of(100, kSecond, 20, 0);
  std::int64_t now = 1000 * kSecond;
  for (auto _ : state) {
    now += gcra.interval;
    benchmark::DoNotOptimize(as_limiter.acquire(42, now, gcra));
  }
}
BENCHMARK(BM_LimiterAcquireAllowed);

// A refused request of a hot key: the table is read, not written.
void BM_LimiterAcquireRefused(benchmark::State& state) {
  auto limiter = std::make_unique<LocalLimiter>(kMillion);
  Limiter& as_limiter = *limiter;
  const Gcra gcra = Gcra::of(100, kSecond, 20, 0);
  const std::int64_t now = 1000 * kSecond;
  for (int i = 0; i < 30; ++i)
    as_limiter.acquire(42, now, gcra);
  for (auto _ : state)
    benchmark::DoNotOptimize(as_limiter.acquire(42, now, gcra));
}
BENCHMARK(BM_LimiterAcquireRefused);

// 1,000,000 live keys in a table sized for them, requests spread over all of them (each
// key's slot is usually not in any CPU cache: 32 MiB of table).
void BM_LimiterAcquireMillionKeys(benchmark::State& state) {
  static const auto limiter = [] {
    auto made = std::make_unique<LocalLimiter>(kMillion);
    const Gcra gcra = Gcra::of(100, kSecond, 20, 0);
    for (std::uint64_t i = 0; i < kMillion; ++i)
      made->acquire(key_of(i), 1000 * kSecond, gcra);
    return made;
  }();
  const Gcra gcra = Gcra::of(1'000'000'000, kSecond, 1'000'000'000, 0);  // always allowed
  std::int64_t now = 1000 * kSecond;
  std::uint64_t i = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(limiter->acquire(key_of(i), now, gcra));
    i = i + 1 == kMillion ? 0 : i + 1;
    now += 1;
  }
  state.counters["evictions"] = static_cast<double>(limiter->stats(now).evictions);
}
BENCHMARK(BM_LimiterAcquireMillionKeys);

// 1,000,000 new keys into a fresh table sized for them: time per insert, resident memory
// added (in all, and after the first 100,000 keys), per key, and evictions (about 8).
void BM_LimiterInsertMillionKeys(benchmark::State& state) {
  const Gcra gcra = Gcra::of(100, kSecond, 20, 0);
  double grown = 0;
  double grown_first = 0;  // after the first 100,000 keys
  double seconds = 0;
  std::uint64_t evictions = 0;
  std::uint64_t table = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto limiter = std::make_unique<LocalLimiter>(kMillion);
    const double before = rss_bytes();
    const double start = cpu_seconds();
    state.ResumeTiming();
    for (std::uint64_t i = 0; i < kMillion / 10; ++i)
      limiter->acquire(key_of(i), 1000 * kSecond, gcra);
    state.PauseTiming();
    grown_first += rss_bytes() - before;
    state.ResumeTiming();
    for (std::uint64_t i = kMillion / 10; i < kMillion; ++i)
      limiter->acquire(key_of(i), 1000 * kSecond, gcra);
    state.PauseTiming();
    seconds += cpu_seconds() - start;
    grown += rss_bytes() - before;
    const LimiterStats stats = limiter->stats(1000 * kSecond);
    evictions += stats.evictions;
    table = stats.table_bytes;
    limiter.reset();
    state.ResumeTiming();
  }
  const double runs = static_cast<double>(state.iterations());
  state.counters["cpu_ns_per_insert"] = seconds / runs * 1e9 / kMillion;
  state.counters["rss_growth_MiB"] = grown / runs / (1 << 20);
  state.counters["rss_growth_first_100k_MiB"] = grown_first / runs / (1 << 20);
  state.counters["rss_bytes_per_key"] = grown / runs / kMillion;
  state.counters["table_MiB"] = static_cast<double>(table) / (1 << 20);
  state.counters["evictions"] = static_cast<double>(evictions) / runs;
}
BENCHMARK(BM_LimiterInsertMillionKeys)->Iterations(3)->Unit(benchmark::kMillisecond);

// max_keys 1,000,000 and 4,000,000 distinct live keys: past max_keys every insert evicts,
// and resident memory stays where the first million left it.
void BM_LimiterEvictionPastMaxKeys(benchmark::State& state) {
  const Gcra gcra = Gcra::of(100, kSecond, 20, 0);
  const std::int64_t now = 1000 * kSecond;
  double grown_past = 0;
  double seconds = 0;
  std::uint64_t evictions = 0;
  for (auto _ : state) {
    state.PauseTiming();
    auto limiter = std::make_unique<LocalLimiter>(kMillion);
    for (std::uint64_t i = 0; i < kMillion; ++i)
      limiter->acquire(key_of(i), now, gcra);
    const double full = rss_bytes();
    const double start = cpu_seconds();
    state.ResumeTiming();
    for (std::uint64_t i = kMillion; i < 4 * kMillion; ++i)
      limiter->acquire(key_of(i), now, gcra);
    state.PauseTiming();
    seconds += cpu_seconds() - start;
    grown_past += rss_bytes() - full;
    evictions += limiter->stats(now).evictions;
    limiter.reset();
    state.ResumeTiming();
  }
  const double runs = static_cast<double>(state.iterations());
  state.counters["cpu_ns_per_insert"] = seconds / runs * 1e9 / (3 * kMillion);
  state.counters["rss_growth_past_max_KiB"] = grown_past / runs / 1024;
  state.counters["evictions"] = static_cast<double>(evictions) / runs;
}
BENCHMARK(BM_LimiterEvictionPastMaxKeys)->Iterations(2)->Unit(benchmark::kMillisecond);

// Two workers charging the same key at once: every call is an allowed request, so each
// one is a compare-and-swap on a cache line the other thread also writes.
void BM_LimiterContendedKey(benchmark::State& state) {
  static LocalLimiter limiter(1024);
  const Gcra gcra = Gcra::of(1'000'000'000, kSecond, 1'000'000'000, 0);  // always allowed
  std::int64_t now = 1000 * kSecond;
  for (auto _ : state)
    benchmark::DoNotOptimize(limiter.acquire(42, now++, gcra));
}
BENCHMARK(BM_LimiterContendedKey)->Threads(1)->Threads(2);

}  // namespace
}  // namespace veer::limits
