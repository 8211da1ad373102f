// The cluster scope's lease accounting without Redis: a fake of the lease script (the
// same GCRA rule, on the test's clock) plays the cluster thread, so every interleaving
// of requests, grants, failures and slow replies can be driven and checked exactly.
#include "limits/cluster_limiter.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <deque>
#include <map>
#include <random>
#include <thread>
#include <vector>

namespace veer::limits {
namespace {

constexpr std::int64_t kMs = 1'000'000;

// kLeaseScript's rule in integers: up to `want` units while TAT - now <= tolerance.
struct FakeRedis {
  std::map<std::uint64_t, std::int64_t> tat;
  std::map<std::uint64_t, std::uint64_t> granted;  // per key, all time

  LeaseGrant lease(const LeaseAsk& ask, std::int64_t now) {
    const auto it = tat.find(ask.key);
    std::int64_t t = std::max(it == tat.end() ? now : it->second, now);
    std::uint64_t n = 0;
    if (t - now <= ask.tolerance) {
      n = std::min<std::uint64_t>(
          ask.amount, static_cast<std::uint64_t>((now + ask.tolerance - t) / ask.interval) + 1);
      t += static_cast<std::int64_t>(n) * ask.interval;
      tat[ask.key] = t;
    }
    granted[ask.key] += n;
    return LeaseGrant{n, std::max<std::int64_t>(0, t - ask.tolerance - now), t - now};
  }
};

conf::RateLimitPolicyConfig policy(std::uint64_t rate, std::uint64_t burst,
                                   std::uint64_t max_keys) {
  conf::RateLimitPolicyConfig p;
  p.name = "p";
  p.rate = rate;
  p.burst = burst;
  p.max_keys = max_keys;
  p.scope = conf::RateLimitPolicyConfig::Scope::cluster;
  return p;
}

Gcra gcra_of(std::uint64_t rate, std::uint64_t burst) {
  Gcra g;
  g.interval = 1'000'000'000 / static_cast<std::int64_t>(rate);
  g.burst_tolerance = g.interval * static_cast<std::int64_t>(burst);
  g.delay_tolerance = g.burst_tolerance;
  return g;
}

struct InFlight {
  RefillRequest request;
  LeaseAsk ask;
};

// The cluster thread's part, by hand: take what workers queued (the ask is made when
// the command is sent), reply later.
std::size_t send_queued(ClusterChannel& channel, ClusterLimiter& limiter,
                        std::deque<InFlight>& out) {
  std::size_t sent = 0;
  RefillRequest request;
  while (channel.pop(request)) {
    if (auto ask = limiter.lease_ask(request)) {
      out.push_back({request, *ask});
      ++sent;
    }
  }
  return sent;
}

TEST(ClusterLimiter, ModelOverALongRandomSequenceKeepsTheLeaseIdentityAndBound) {
  auto channel = std::make_shared<ClusterChannel>();
  channel->configure(0, 4);  // B = 4
  channel->set_shared(true);
  auto limiter = ClusterLimiter::create(channel, policy(100, 10, 64));
  const Gcra g = gcra_of(100, 10);
  const std::int64_t block = 4;
  FakeRedis redis;
  std::deque<InFlight> in_flight;
  std::map<std::uint64_t, std::uint64_t> served;
  std::mt19937_64 random(14);
  std::int64_t now = 1'000 * kMs;
  for (int step = 0; step < 200'000; ++step) {
    now += static_cast<std::int64_t>(random() % 300'000);  // up to 0.3 ms
    const int what = static_cast<int>(random() % 100);
    if (what < 60) {
      const std::uint64_t key = 1 + random() % 6;
      if (limiter->acquire(key, now, g).verdict == Verdict::allow) ++served[key];
    } else if (what < 70) {
      send_queued(*channel, *limiter, in_flight);
    } else if (what < 95 && !in_flight.empty()) {
      // Replies come back in any order across keys (one connection: in order, but the
      // model is stricter than that).
      const std::size_t i = random() % in_flight.size();
      const InFlight f = in_flight[i];
      in_flight.erase(in_flight.begin() + static_cast<std::ptrdiff_t>(i));
      limiter->lease_granted(f.request, f.ask, redis.lease(f.ask, now), now);
    } else if (!in_flight.empty()) {
      limiter->lease_failed(in_flight.front().request);
      in_flight.pop_front();
    }
    // Per key: one refill at a time; served = granted - balance (+ the provisional
    // block while it stands); never more than B held, never more than B owed.
    std::map<std::uint64_t, int> asks;
    for (const InFlight& f : in_flight)
      ASSERT_EQ(++asks[f.ask.key], 1) << "step " << step;
    for (std::uint64_t key = 1; key <= 6; ++key) {
      const std::uint32_t slot = limiter->lease_table().find(key);
      if (slot == LeaseTable::kNone) continue;
      const LeaseEntry& e = limiter->lease_table().at(slot);
      const std::int64_t balance = e.balance;
      const bool provisional = (e.flags & kProvisional) != 0;
      ASSERT_LE(balance, block);
      ASSERT_GE(balance, -block);
      ASSERT_EQ(static_cast<std::int64_t>(served[key]),
                static_cast<std::int64_t>(redis.granted[key]) - balance + (provisional ? block : 0))
          << "key " << key << " step " << step;
      ASSERT_LE(served[key], redis.granted[key] + block);
    }
  }
  // The keys were busy: they got about what the shared GCRA gives (rate x time + burst
  // per key), and none was starved by a lost pending flag.
  const double seconds = static_cast<double>(now - 1'000 * kMs) / 1e9;
  for (std::uint64_t key = 1; key <= 6; ++key) {
    EXPECT_LE(redis.granted[key], static_cast<std::uint64_t>(seconds * 100) + 11) << key;
    EXPECT_GT(static_cast<double>(served[key]), seconds * 100 * 0.8) << key;
  }
}

TEST(ClusterLimiter, ANewKeyIsServedWhileItsFirstLeaseIsInFlightAndOwesWhatWasRefused) {
  auto channel = std::make_shared<ClusterChannel>();
  channel->configure(0, 5);
  channel->set_shared(true);
  auto limiter = ClusterLimiter::create(channel, policy(100, 0, 16));
  const Gcra g = gcra_of(100, 0);
  std::deque<InFlight> in_flight;
  std::int64_t now = kMs;
  // Five requests before any reply: the provisional block; the sixth is refused.
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(limiter->acquire(7, now, g).verdict, Verdict::allow) << i;
  EXPECT_EQ(limiter->acquire(7, now, g).verdict, Verdict::refuse);
  ASSERT_EQ(send_queued(*channel, *limiter, in_flight), 1u);  // one refill for six requests
  EXPECT_EQ(in_flight.front().ask.amount, 5u);
  // Redis had only one unit (burst 0): the key now owes four.
  limiter->lease_granted(in_flight.front().request, in_flight.front().ask,
                         LeaseGrant{1, 10 * kMs, 10 * kMs}, now);
  in_flight.clear();
  EXPECT_EQ(limiter->lease_table().at(limiter->lease_table().find(7)).balance, -4);
  const Decision refused = limiter->acquire(7, now + kMs, g);
  EXPECT_EQ(refused.verdict, Verdict::refuse);
  EXPECT_EQ(refused.wait, 9 * kMs);  // until Redis said the next unit is free
  // Not asked again before then.
  EXPECT_EQ(send_queued(*channel, *limiter, in_flight), 0u);
  limiter->acquire(7, now + 10 * kMs, g);
  ASSERT_EQ(send_queued(*channel, *limiter, in_flight), 1u);
  EXPECT_EQ(in_flight.front().ask.amount, 5u);  // capped at one block
}

TEST(ClusterLimiter, RefillIsAskedWhenTheLeaseFallsBelowHalf) {
  auto channel = std::make_shared<ClusterChannel>();
  channel->configure(0, 8);
  channel->set_shared(true);
  auto limiter = ClusterLimiter::create(channel, policy(100, 50, 16));
  const Gcra g = gcra_of(100, 50);
  FakeRedis redis;
  std::deque<InFlight> in_flight;
  limiter->acquire(3, kMs, g);
  ASSERT_EQ(send_queued(*channel, *limiter, in_flight), 1u);
  limiter->lease_granted(in_flight.front().request, in_flight.front().ask,
                         redis.lease(in_flight.front().ask, kMs), kMs);
  in_flight.clear();
  // Balance 7 after the first request; 6, 5, 4 ask nothing; 3 (< 8 / 2) asks for 5.
  for (int i = 0; i < 3; ++i)
    limiter->acquire(3, kMs, g);
  EXPECT_EQ(send_queued(*channel, *limiter, in_flight), 0u);
  limiter->acquire(3, kMs, g);
  ASSERT_EQ(send_queued(*channel, *limiter, in_flight), 1u);
  EXPECT_EQ(in_flight.front().ask.amount, 5u);
}

TEST(ClusterLimiter, FallbackIsALocalGcraAtRateAndBurstOverN) {
  auto channel = std::make_shared<ClusterChannel>();
  channel->configure(2, 0);  // N = 2 from config
  auto limiter = ClusterLimiter::create(channel, policy(100, 20, 16));
  ASSERT_FALSE(channel->shared());
  const Gcra g = gcra_of(100, 20);
  // One request a millisecond for 10 s: 50/s with a burst of 10 (11 at once).
  std::uint64_t allowed = 0;
  for (std::int64_t t = 0; t < 10'000; ++t) {
    const Decision d = limiter->acquire(9, kMs + t * kMs, g);
    if (d.verdict == Verdict::allow) ++allowed;
    if (d.verdict == Verdict::refuse) {
      ASSERT_GT(d.wait, 0);
    }
  }
  EXPECT_EQ(allowed, 11u + 500u - 1u);  // the last slot (t = 10 s) is outside the run
  const LimiterStats s = limiter->stats(0);
  EXPECT_EQ(s.mode, "local fallback");
  EXPECT_EQ(s.fallback_rate_divisor, 2u);
  EXPECT_EQ(s.fallback_allowed, allowed);
  EXPECT_EQ(s.lease_block, 2u);  // 100 / 50
  EXPECT_EQ(s.overshoot_bound, 4u);
  // Nothing is queued for Redis while it is down.
  RefillRequest request;
  EXPECT_FALSE(channel->pop(request));
}

TEST(ClusterLimiter, StatsAndTheBoundedTableEvictTheLeastRecentlyUsed) {
  auto channel = std::make_shared<ClusterChannel>();
  channel->set_shared(true);
  auto limiter = ClusterLimiter::create(channel, policy(100, 0, 64));
  const Gcra g = gcra_of(100, 0);
  for (std::uint64_t key = 1; key <= 1000; ++key)
    limiter->acquire(key * 0x9e3779b97f4a7c15ULL, static_cast<std::int64_t>(key), g);
  const LimiterStats s = limiter->stats(0);
  EXPECT_EQ(s.capacity, 64u);
  EXPECT_EQ(s.keys_in_use, 64u);
  EXPECT_EQ(s.evictions, 1000u - 64u);
  EXPECT_EQ(s.table_bytes, 64u * 64u);
  EXPECT_EQ(s.mode, "shared");
  EXPECT_EQ(s.lease_block, 2u);
  // The most recent key of each set is still there.
  EXPECT_NE(limiter->lease_table().find(1000 * 0x9e3779b97f4a7c15ULL), LeaseTable::kNone);
}

TEST(ClusterLimiter, ARefillForAReusedSlotIsDroppedWithoutTouchingTheNewKey) {
  auto channel = std::make_shared<ClusterChannel>();
  channel->configure(0, 4);
  channel->set_shared(true);
  auto limiter = ClusterLimiter::create(channel, policy(100, 10, 4));  // one set of 4
  const Gcra g = gcra_of(100, 10);
  std::deque<InFlight> in_flight;
  limiter->acquire(1, kMs, g);
  ASSERT_EQ(send_queued(*channel, *limiter, in_flight), 1u);
  for (std::uint64_t key = 2; key <= 5; ++key)  // key 1 is evicted by key 5
    limiter->acquire(key, kMs + static_cast<std::int64_t>(key), g);
  ASSERT_EQ(limiter->lease_table().find(1), LeaseTable::kNone);
  const std::uint32_t slot = limiter->lease_table().find(5);
  ASSERT_EQ(slot, in_flight.front().request.slot);
  const std::int64_t before = limiter->lease_table().at(slot).balance;
  limiter->lease_granted(in_flight.front().request, in_flight.front().ask, LeaseGrant{4, 0, 0},
                         kMs);
  EXPECT_EQ(limiter->lease_table().at(slot).balance, before);
  EXPECT_NE(limiter->lease_table().at(slot).flags & kPending, 0u);  // key 5's own refill
}

TEST(ClusterLimiter, WorkersOnManyThreadsNeverServeMoreThanGrantedPlusOneBlock) {
  auto channel = std::make_shared<ClusterChannel>();
  channel->configure(0, 8);
  channel->set_shared(true);
  auto limiter = ClusterLimiter::create(channel, policy(100'000, 100, 1024));
  const Gcra g = gcra_of(100'000, 100);
  FakeRedis redis;
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> served{0};
  const auto start = std::chrono::steady_clock::now();
  auto now = [&] {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() -
                                                                start)
               .count() +
           kMs;
  };
  std::thread cluster([&] {
    std::deque<InFlight> in_flight;
    while (!done.load()) {
      send_queued(*channel, *limiter, in_flight);
      for (const InFlight& f : in_flight)
        limiter->lease_granted(f.request, f.ask, redis.lease(f.ask, now()), now());
      in_flight.clear();
    }
  });
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&] {
      // Requests as fast as they come for 200 ms, yielding so that the cluster thread
      // runs on a busy machine (workers run an event loop, not a spin).
      for (int i = 0; i < 2'000'000 && now() < 200 * kMs; ++i) {
        if (limiter->acquire(77, now(), g).verdict == Verdict::allow) served.fetch_add(1);
        std::this_thread::yield();
      }
    });
  }
  for (auto& w : workers)
    w.join();
  done = true;
  cluster.join();
  const LeaseEntry& e = limiter->lease_table().at(limiter->lease_table().find(77));
  const std::int64_t provisional = (e.flags & kProvisional) ? 8 : 0;
  EXPECT_EQ(static_cast<std::int64_t>(served.load()),
            static_cast<std::int64_t>(redis.granted[77]) - e.balance + provisional);
  EXPECT_GT(served.load(), 8u);  // more than the provisional block: grants were served
}

TEST(LeaseScript, NamesBlocksAndReplies) {
  EXPECT_EQ(lease_key_name("veer:", "per_client", 0xabcULL), "veer:rl:per_client:0000000000000abc");
  EXPECT_EQ(instances_key_name("x:"), "x:instances");
  EXPECT_EQ(lease_block(0, 10'000'000, 1'000'000'000), 2u);     // 100/s
  EXPECT_EQ(lease_block(0, 100'000'000, 1'000'000'000), 1u);    // 10/s: at least 1
  EXPECT_EQ(lease_block(0, 10'000'000, 60'000'000'000), 120u);  // 6000/m
  EXPECT_EQ(lease_block(7, 10'000'000, 1'000'000'000), 7u);     // [cluster] lease
  const auto grant = lease_grant_of(3, 10, 250, 4);
  ASSERT_TRUE(grant);
  EXPECT_EQ(grant->granted, 3u);
  EXPECT_EQ(grant->wait_ns, 10 * kMs);
  EXPECT_EQ(grant->reset_ns, 250 * kMs);
  EXPECT_FALSE(lease_grant_of(5, 0, 0, 4));   // more than asked
  EXPECT_FALSE(lease_grant_of(-1, 0, 0, 4));  // negative
}

}  // namespace
}  // namespace veer::limits
