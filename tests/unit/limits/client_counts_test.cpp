// Open connections per client (limits/client_counts.hpp): against a std::map model, with
// a table too small (fail open, never stricter), and under four threads.
#include "limits/client_counts.hpp"

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <thread>
#include <vector>

namespace veer::limits {
namespace {

struct Step {
  bool acquire;
  std::uint64_t key;
  std::uint32_t max;
};

// Acquires and releases over `keys` clients; a release only of a client with a
// connection open (as the proxy does).
class Workload {
 public:
  Workload(std::uint64_t seed, std::size_t keys) : rng_(seed) {
    for (std::size_t i = 0; i < keys; ++i)
      keys_.push_back(rng_() | 2);  // never 0 or 1
  }
  Step next(const std::map<std::uint64_t, std::uint32_t>& open) {
    const std::uint64_t key = keys_[rng_() % keys_.size()];
    const auto it = open.find(key);
    const bool can_release = it != open.end() && it->second > 0;
    const bool acquire = !can_release || rng_() % 100 < 52;
    return {acquire, key, static_cast<std::uint32_t>(1 + rng_() % 4)};
  }

 private:
  std::mt19937_64 rng_;
  std::vector<std::uint64_t> keys_;
};

TEST(ClientCounts, MatchesTheModelExactlyWhenBigEnough) {
  ClientCounts counts(200);
  Workload workload(3, 200);
  std::map<std::uint64_t, std::uint32_t> model;
  for (int step = 0; step < 1'000'000; ++step) {
    const Step s = workload.next(model);
    if (s.acquire) {
      const bool want = model[s.key] < s.max;
      ASSERT_EQ(counts.try_acquire(s.key, s.max), want) << "step " << step;
      model[s.key] += want ? 1 : 0;
    } else {
      counts.release(s.key);
      model[s.key] -= 1;
    }
    ASSERT_EQ(counts.open(s.key), model[s.key]) << "step " << step;
    if (step % 10'000 == 0) {
      std::uint64_t clients = 0;
      for (const auto& [key, n] : model)
        clients += n > 0 ? 1 : 0;
      ASSERT_EQ(counts.clients(), clients) << "step " << step;
    }
  }
  EXPECT_EQ(counts.overflows(), 0u);
  EXPECT_EQ(counts.unmatched_releases(), 0u);
}

TEST(ClientCounts, TooSmallTableFailsOpenAndCountsOnlyLow) {
  ClientCounts counts(4);  // eight slots for 100 clients
  ASSERT_EQ(counts.capacity(), 8u);
  Workload workload(4, 100);
  std::map<std::uint64_t, std::uint32_t> open;  // connections really open
  std::uint64_t refused_wrongly = 0;
  for (int step = 0; step < 500'000; ++step) {
    const Step s = workload.next(open);
    if (s.acquire) {
      if (counts.try_acquire(s.key, s.max)) {
        open[s.key] += 1;
      } else {
        refused_wrongly += open[s.key] < s.max ? 1 : 0;
      }
    } else {
      counts.release(s.key);
      open[s.key] -= 1;
    }
    ASSERT_LE(counts.open(s.key), open[s.key]) << "step " << step;
  }
  EXPECT_EQ(refused_wrongly, 0u);
  EXPECT_GT(counts.overflows(), 0u);
  for (const auto& [key, n] : open)
    for (std::uint32_t i = 0; i < n; ++i)
      counts.release(key);
  EXPECT_EQ(counts.clients(), 0u) << "every count healed at zero";
}

TEST(ClientCounts, FreedSlotsAreReusedByOtherClients) {
  ClientCounts counts(4);
  for (std::uint64_t key = 10; key < 18; ++key)
    EXPECT_TRUE(counts.try_acquire(key, 1));
  EXPECT_EQ(counts.clients(), 8u);
  EXPECT_TRUE(counts.try_acquire(99, 1)) << "full: fails open";
  EXPECT_EQ(counts.overflows(), 1u);
  EXPECT_FALSE(counts.try_acquire(10, 1));
  counts.release(10);
  EXPECT_TRUE(counts.try_acquire(99, 1)) << "10's slot is free again";
  EXPECT_FALSE(counts.try_acquire(99, 1));
  EXPECT_EQ(counts.overflows(), 1u);
  EXPECT_EQ(counts.open(10), 0u);
  EXPECT_FALSE(counts.try_acquire(0, 0)) << "max 0 refuses";
}

// Four threads open and close connections of eight shared clients (limit 2) as fast as
// they can: the connections a client really holds never exceed its limit, and once all
// are closed every count is back at zero.
TEST(ClientCounts, FourThreadsNeverExceedTheLimitAndEndAtZero) {
  constexpr std::uint32_t kMax = 2;
  constexpr std::size_t kClients = 8;
  ClientCounts counts(64);
  std::array<std::atomic<std::uint32_t>, kClients> held{};
  std::atomic<std::uint32_t> worst{0};
  std::atomic<std::uint64_t> admitted{0};
  std::vector<std::jthread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(t));
      std::deque<std::size_t> mine;
      for (int i = 0; i < 200'000; ++i) {
        if (mine.size() < 3 && rng() % 2 == 0) {
          const std::size_t client = rng() % kClients;
          if (!counts.try_acquire(client + 100, kMax)) continue;
          const std::uint32_t now_held = held[client].fetch_add(1) + 1;
          std::uint32_t seen = worst.load();
          while (now_held > seen && !worst.compare_exchange_weak(seen, now_held)) {
          }
          admitted.fetch_add(1);
          mine.push_back(client);
        } else if (!mine.empty()) {
          held[mine.front()].fetch_sub(1);
          counts.release(mine.front() + 100);
          mine.pop_front();
        }
      }
      for (std::size_t client : mine) {
        held[client].fetch_sub(1);
        counts.release(client + 100);
      }
    });
  threads.clear();
  EXPECT_LE(worst.load(), kMax);
  EXPECT_GT(admitted.load(), 10'000u);
  for (std::size_t client = 0; client < kClients; ++client)
    EXPECT_EQ(counts.open(client + 100), 0u);
  EXPECT_EQ(counts.clients(), 0u);
  EXPECT_EQ(counts.overflows(), 0u);
  EXPECT_EQ(counts.unmatched_releases(), 0u);
}

}  // namespace
}  // namespace veer::limits
