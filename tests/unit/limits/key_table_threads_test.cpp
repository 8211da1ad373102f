// The key table under concurrent workers: threads step through the same clock schedule
// together (a barrier per instant), so the exact outcome is known from one thread doing
// all of their requests; any lost or doubled charge changes the totals. The barrier spins
// so that the threads start each instant together and their charges really overlap (a
// plain store instead of the compare-and-swap fails these tests).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "limits/gcra.hpp"
#include "limits/key_table.hpp"

namespace veer::limits {
namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kSecond = 1000 * kMs;
constexpr int kPhases = 600;
constexpr int kPerPhase = 1000;  // requests per thread per instant

struct Totals {
  std::uint64_t allowed = 0;
  std::uint64_t delayed = 0;
  std::uint64_t refused = 0;
  friend bool operator==(const Totals&, const Totals&) = default;
  void add(const Decision& d) {
    (d.verdict == Verdict::allow ? allowed : d.verdict == Verdict::delay ? delayed : refused) += 1;
  }
  void add(const Totals& t) {
    allowed += t.allowed;
    delayed += t.delayed;
    refused += t.refused;
  }
};

// The instants every thread shares: bursts (no gap), gaps under T, around T, and pauses.
std::vector<std::int64_t> schedule() {
  std::mt19937_64 rng(7);
  std::vector<std::int64_t> times;
  std::int64_t now = 10 * kSecond;
  const std::int64_t gaps[] = {0, kMs / 10, kMs, 3 * kMs, 50 * kMs};
  for (int phase = 0; phase < kPhases; ++phase)
    times.push_back(now += gaps[rng() % 5]);
  return times;
}

// What thread `thread` asks for in `phase`. Same-key work: every thread asks for the
// phase's 20 new keys twice each (so threads race to insert them), then hammers one hot
// key; disjoint work: each thread its own keys.
using Requests = void (*)(int thread, int phase, std::vector<std::uint64_t>& keys);

void same_keys(int, int phase, std::vector<std::uint64_t>& keys) {
  keys.clear();
  for (std::uint64_t i = 0; i < 40; ++i)
    keys.push_back(1'000'000 * (static_cast<std::uint64_t>(phase) + 1) + i / 2);
  keys.resize(kPerPhase, 0x5eed);
}

void disjoint_keys(int thread, int phase, std::vector<std::uint64_t>& keys) {
  std::mt19937_64 rng(static_cast<std::uint64_t>(thread) * 100'003 +
                      static_cast<std::uint64_t>(phase));
  keys.clear();
  for (int i = 0; i < kPerPhase; ++i)
    keys.push_back((static_cast<std::uint64_t>(thread) + 1) << 32 | (rng() % 3));
}

// All threads leave together: each spins (yielding: 4 threads share 2 CPUs here) until
// the last one arrives.
class SpinBarrier {
 public:
  explicit SpinBarrier(int threads) : threads_(threads) {}
  void arrive_and_wait() {
    const std::uint64_t generation = generation_.load();
    if (arrived_.fetch_add(1) + 1 == threads_) {
      arrived_.store(0);
      generation_.fetch_add(1);
      return;
    }
    while (generation_.load() == generation)
      std::this_thread::yield();
  }

 private:
  const int threads_;
  std::atomic<int> arrived_{0};
  std::atomic<std::uint64_t> generation_{0};
};

Totals run_threads(KeyTable& table, int threads, Requests requests, const Gcra& gcra) {
  const std::vector<std::int64_t> times = schedule();
  SpinBarrier sync(threads);
  std::vector<Totals> totals(static_cast<std::size_t>(threads));
  std::vector<std::jthread> workers;
  for (int t = 0; t < threads; ++t)
    workers.emplace_back([&, t] {
      std::vector<std::uint64_t> keys;
      for (int phase = 0; phase < kPhases; ++phase) {
        requests(t, phase, keys);
        for (std::uint64_t key : keys)
          totals[static_cast<std::size_t>(t)].add(table.acquire(key, times[phase], gcra));
        sync.arrive_and_wait();
      }
    });
  workers.clear();
  Totals sum;
  for (const Totals& t : totals)
    sum.add(t);
  return sum;
}

Totals run_alone(KeyTable& table, int threads, Requests requests, const Gcra& gcra) {
  const std::vector<std::int64_t> times = schedule();
  Totals sum;
  std::vector<std::uint64_t> keys;
  for (int phase = 0; phase < kPhases; ++phase)
    for (int t = 0; t < threads; ++t) {
      requests(t, phase, keys);
      for (std::uint64_t key : keys)
        sum.add(table.acquire(key, times[phase], gcra));
    }
  return sum;
}

// T = 1 us, so most instants refill much of the burst and many requests are charged
// (written) while the threads overlap.
const Gcra kHotKey = Gcra::of(1'000'000, kSecond, 2000, 500);
const Gcra kOwnKeys = Gcra::of(1'000'000, kSecond, 300, 100);

void expect_exact(int threads, Requests requests, std::uint64_t max_keys, const Gcra& gcra) {
  KeyTable alone(max_keys);
  const Totals want = run_alone(alone, threads, requests, gcra);
  KeyTable shared(max_keys);
  const Totals got = run_threads(shared, threads, requests, gcra);
  EXPECT_EQ(got.allowed, want.allowed);
  EXPECT_EQ(got.delayed, want.delayed);
  EXPECT_EQ(got.refused, want.refused);
  EXPECT_GT(want.allowed, 100u * kPhases);
  EXPECT_GT(want.delayed, 0u);
  EXPECT_GT(want.refused, 0u);
  EXPECT_EQ(shared.evictions(), 0u) << "sized to fit: the exact figure assumes no eviction";
  const std::int64_t end = schedule().back();
  EXPECT_EQ(shared.keys_in_use(end), alone.keys_in_use(end));
}

TEST(KeyTableThreads, TwoThreadsOnTheSameKeysChargeExactlyOnceEach) {
  expect_exact(2, same_keys, kPhases + 16, kHotKey);
}

TEST(KeyTableThreads, FourThreadsOnTheSameKeysChargeExactlyOnceEach) {
  expect_exact(4, same_keys, kPhases + 16, kHotKey);
}

// 4 x 3 keys in a table of 64 slots (16 cache lines): the threads' keys share buckets.
TEST(KeyTableThreads, TwoThreadsOnDisjointKeysInSharedBuckets) {
  expect_exact(2, disjoint_keys, 32, kOwnKeys);
}

TEST(KeyTableThreads, FourThreadsOnDisjointKeysInSharedBuckets) {
  expect_exact(4, disjoint_keys, 32, kOwnKeys);
}

}  // namespace
}  // namespace veer::limits
