// The cluster scope against a real redis-server: the lease and heartbeat scripts' rules,
// and two ClusterLimiters with their own RedisLink (two "instances" in one process)
// sharing one limit, falling back when Redis is killed or stops answering, and sharing
// again when it is back. Real time throughout (the scripts read Redis's clock).
#include <hiredis/hiredis.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "limits/cluster_limiter.hpp"
#include "limits/lease_script.hpp"
#include "limits/redis_link.hpp"
#include "support/poll.hpp"
#include "support/redis_server.hpp"

namespace veer::limits {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using test::poll_until;
using test::RedisServer;

std::int64_t ns(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// 100/s, burst 20: T = 10 ms, tolerance 200 ms.
Gcra hundred_per_second() {
  Gcra g;
  g.interval = 10'000'000;
  g.burst_tolerance = 20 * g.interval;
  g.delay_tolerance = g.burst_tolerance;
  return g;
}

conf::RateLimitPolicyConfig shared_policy() {
  conf::RateLimitPolicyConfig p;
  p.name = "shared";
  p.rate = 100;
  p.burst = 20;
  p.scope = conf::RateLimitPolicyConfig::Scope::cluster;
  p.max_keys = 1024;
  return p;
}

conf::ClusterConfig cluster_config(const RedisServer& redis) {
  static int tests = 0;
  conf::ClusterConfig c;
  c.enabled = true;
  c.redis = redis.address();
  c.redis_host_port = conf::HostPort{"127.0.0.1", redis.port(), false};
  c.timeout = 250ms;
  // Each test its own keys, so a test never sees another's state.
  c.key_prefix = "veer-test-" + std::to_string(::getpid()) + "-" + std::to_string(++tests) + ":";
  return c;
}

// A synchronous client for checking the scripts themselves.
struct Sync {
  explicit Sync(std::uint16_t port) : c(redisConnect("127.0.0.1", port)) {}
  ~Sync() { redisFree(c); }
  // EVAL of `script` with one key and three arguments; the reply's integers.
  std::vector<long long> eval(std::string_view script, const std::string& key,
                              const std::vector<std::string>& args) {
    std::vector<std::string> argv{"EVAL", std::string(script), "1", key};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<const char*> parts;
    std::vector<size_t> lengths;
    for (const std::string& a : argv) {
      parts.push_back(a.data());
      lengths.push_back(a.size());
    }
    auto* r = static_cast<redisReply*>(
        redisCommandArgv(c, static_cast<int>(parts.size()), parts.data(), lengths.data()));
    std::vector<long long> out;
    if (r && r->type == REDIS_REPLY_INTEGER) out.push_back(r->integer);
    if (r && r->type == REDIS_REPLY_ARRAY) {
      for (size_t i = 0; i < r->elements; ++i)
        out.push_back(r->element[i]->integer);
    }
    freeReplyObject(r);
    return out;
  }
  std::string get(const std::string& command) {
    auto* r = static_cast<redisReply*>(redisCommand(c, command.c_str()));
    std::string out;
    if (r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS))
      out.assign(r->str, r->len);
    if (r && r->type == REDIS_REPLY_INTEGER) out = std::to_string(r->integer);
    freeReplyObject(r);
    return out;
  }
  redisContext* c;
};

TEST(ClusterRedis, LeaseScriptGrantsBlocksByTheGcraRule) {
  VEER_REQUIRE_REDIS();
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Sync sync(redis.port());
  ASSERT_NE(sync.c, nullptr);
  ASSERT_EQ(sync.c->err, 0);
  const std::vector<std::string> args{"10000000", "200000000", "5"};  // T 10 ms, burst 20, B 5
  const auto start = Clock::now();
  long long total = 0;
  std::vector<long long> last;
  for (int i = 0; i < 6; ++i) {
    last = sync.eval(kLeaseScript, "k", args);
    ASSERT_EQ(last.size(), 3u);
    total += last[0];
  }
  const auto elapsed_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  // 21 at once (burst + 1), plus one for each 10 ms the calls took.
  EXPECT_GE(total, 21);
  EXPECT_LE(total, 21 + elapsed_ms / 10 + 1);
  if (total == 21) {
    EXPECT_EQ(last[0], 0);
    EXPECT_GE(last[1], 1);  // the next unit is at most T away ...
    EXPECT_LE(last[1], 10);
    EXPECT_GE(last[2], 200);  // ... and the whole allowance back in 210 ms
    EXPECT_LE(last[2], 211);
  }
  // The state expires when it stops mattering: when its TAT has passed.
  const long long pttl = std::stoll(sync.get("PTTL k"));
  EXPECT_GT(pttl, 0);
  EXPECT_LE(pttl, 212);
  // The TAT moves by granted x T (in microseconds) while the key is behind.
  const double before = std::stod(sync.get("GET k"));
  const auto one = sync.eval(kLeaseScript, "k", {"10000000", "400000000", "3"});
  ASSERT_EQ(one.size(), 3u);
  const double after = std::stod(sync.get("GET k"));
  EXPECT_NEAR(after - before, static_cast<double>(one[0]) * 10'000, 0.01);
}

TEST(ClusterRedis, HeartbeatCountsLiveInstances) {
  VEER_REQUIRE_REDIS();
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Sync sync(redis.port());
  EXPECT_EQ(sync.eval(kHeartbeatScript, "i", {"a", "3000"}), std::vector<long long>{1});
  EXPECT_EQ(sync.eval(kHeartbeatScript, "i", {"b", "3000"}), std::vector<long long>{2});
  EXPECT_EQ(sync.eval(kHeartbeatScript, "i", {"a", "3000"}), std::vector<long long>{2});
  // A member older than the window is no longer counted.
  sync.get("ZADD i 0 old");
  EXPECT_EQ(sync.eval(kHeartbeatScript, "i", {"a", "3000"}), std::vector<long long>{2});
}

// One "instance": a link of its own (own id, own cluster thread) and a limiter on it.
struct Instance {
  explicit Instance(const conf::ClusterConfig& config) {
    link.configure(config);
    link.start();
    limiter = ClusterLimiter::create(link.channel(), shared_policy());
  }
  bool shared() const { return link.channel()->shared(); }
  RedisLink link;
  std::shared_ptr<ClusterLimiter> limiter;
};

// Offers `rate` requests per second of one key, alternating between the instances,
// from one thread (a worker each), until stopped; keeps when each was allowed.
class Schedule {
 public:
  Schedule(std::vector<Instance*> instances, int rate) : instances_(std::move(instances)) {
    for (auto& times : allowed_)
      times.reserve(20'000);
    thread_ = std::thread([this, rate] { run(rate); });
  }
  ~Schedule() { stop(); }
  void stop() {
    done_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Requests instance i was allowed in [from, to).
  std::size_t allowed(std::size_t i, Clock::time_point from, Clock::time_point to) const {
    const auto& t = allowed_[i];
    return static_cast<std::size_t>(std::lower_bound(t.begin(), t.end(), ns(to)) -
                                    std::lower_bound(t.begin(), t.end(), ns(from)));
  }
  std::int64_t slowest_ns() const { return slowest_; }
  std::uint64_t offered() const { return offered_; }

 private:
  void run(int rate) {
    const Gcra g = hundred_per_second();
    const auto period = std::chrono::nanoseconds(1'000'000'000 / rate);
    auto next = Clock::now();
    // Bounded: 60 s of requests at most, whatever the test does.
    for (std::uint64_t i = 0; !done_ && i < static_cast<std::uint64_t>(rate) * 60; ++i) {
      std::this_thread::sleep_until(next);  // pacing the offered load, not a wait for state
      next += period;
      const std::size_t which = i % instances_.size();
      const auto before = Clock::now();
      const Decision d = instances_[which]->limiter->acquire(42, ns(before), g);
      slowest_ = std::max<std::int64_t>(slowest_, ns(Clock::now()) - ns(before));
      if (d.verdict == Verdict::allow) allowed_[which].push_back(ns(before));
      ++offered_;
    }
  }

  std::vector<Instance*> instances_;
  std::vector<std::int64_t> allowed_[2];
  std::atomic<bool> done_{false};
  std::atomic<std::int64_t> slowest_{0};
  std::atomic<std::uint64_t> offered_{0};
  std::thread thread_;
};

bool both(const Instance& a, const Instance& b, bool shared) {
  return a.shared() == shared && b.shared() == shared;
}

TEST(ClusterRedis, TwoInstancesShareOneLimitFallBackWhenRedisDiesAndShareAgain) {
  VEER_REQUIRE_REDIS();
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  const conf::ClusterConfig config = cluster_config(redis);
  Instance a(config), b(config);
  // Both up and each counting two live instances (the fallback's N).
  ASSERT_TRUE(poll_until(
      [&] {
        return both(a, b, true) && a.link.channel()->instances() == 2 &&
               b.link.channel()->instances() == 2;
      },
      5s));
  const std::uint64_t bound = a.limiter->stats(0).overshoot_bound;
  EXPECT_EQ(bound, 4u);  // B = 100 / 50 = 2, N = 2

  Schedule schedule({&a, &b}, 300);
  const auto t0 = Clock::now();
  poll_until([&] { return Clock::now() >= t0 + 10s; }, 12s);
  const auto t10 = Clock::now();
  // Phase 1: one shared limit. 10 s x 100/s + burst 20 (+1 at t = 0), give or take
  // what one request more or less of schedule is worth, plus the lease overshoot.
  const std::size_t shared_total = schedule.allowed(0, t0, t10) + schedule.allowed(1, t0, t10);
  EXPECT_GE(shared_total, 1020 * 0.95);
  EXPECT_LE(shared_total, 1020 * 1.05 + static_cast<double>(bound));
  // Roughly even between the instances (each offered the same).
  EXPECT_NEAR(static_cast<double>(schedule.allowed(0, t0, t10)), shared_total / 2.0,
              shared_total * 0.1);

  // Phase 2: Redis dies. Each instance falls back to 100 / 2 = 50/s.
  redis.kill();
  ASSERT_TRUE(poll_until([&] { return both(a, b, false); }, 3s));
  const auto fell = Clock::now();
  poll_until([&] { return Clock::now() >= fell + 4500ms; }, 6s);
  for (std::size_t i = 0; i < 2; ++i) {
    // 4 s after the first half second (the fallback's burst of 10 spent by then).
    const double rate = schedule.allowed(i, fell + 500ms, fell + 4500ms) / 4.0;
    EXPECT_NEAR(rate, 50.0, 2.5) << "instance " << i;
  }
  EXPECT_EQ(a.limiter->stats(0).mode, "local fallback");
  EXPECT_GE(a.limiter->stats(0).fallback_transitions, 1u);
  EXPECT_GT(a.limiter->stats(0).fallback_allowed, 150u);

  // Phase 3: Redis is back (empty: no persistence), and so is the shared limit.
  ASSERT_TRUE(redis.start());
  ASSERT_TRUE(poll_until([&] { return both(a, b, true); }, 5s));
  const auto back = Clock::now();
  poll_until([&] { return Clock::now() >= back + 5s; }, 7s);
  schedule.stop();
  const std::size_t resumed =
      schedule.allowed(0, back + 1s, back + 5s) + schedule.allowed(1, back + 1s, back + 5s);
  EXPECT_GE(resumed, 400 * 0.95);
  EXPECT_LE(resumed, 400 * 1.05 + static_cast<double>(bound));
  EXPECT_EQ(a.limiter->stats(0).mode, "shared");
  // No request waited for Redis: far below the 250 ms timeout even while it was dying.
  EXPECT_LT(schedule.slowest_ns(), 100'000'000);
  std::printf(
      "shared 10 s: %zu (a %zu, b %zu); fallback a %.1f/s b %.1f/s; resumed 4 s: %zu; "
      "slowest acquire %.3f ms\n",
      shared_total, schedule.allowed(0, t0, t10), schedule.allowed(1, t0, t10),
      schedule.allowed(0, fell + 500ms, fell + 4500ms) / 4.0,
      schedule.allowed(1, fell + 500ms, fell + 4500ms) / 4.0, resumed, schedule.slowest_ns() / 1e6);
}

TEST(ClusterRedis, ARedisThatStopsAnsweringCountsAsDownAfterTheTimeout) {
  VEER_REQUIRE_REDIS();
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  conf::ClusterConfig config = cluster_config(redis);
  config.instances = 2;  // N from config
  Instance a(config);
  ASSERT_TRUE(poll_until([&] { return a.shared(); }, 5s));
  Schedule schedule({&a}, 150);
  redis.pause();  // the connection stays open; nothing answers
  const auto paused = Clock::now();
  // Down within the timeout plus a heartbeat period (1 s) and a tick.
  ASSERT_TRUE(poll_until([&] { return !a.shared(); }, 3s));
  EXPECT_LT(Clock::now() - paused, 1500ms);
  EXPECT_EQ(a.limiter->stats(0).fallback_rate_divisor, 2u);
  redis.resume();
  ASSERT_TRUE(poll_until([&] { return a.shared(); }, 5s));
  schedule.stop();
  EXPECT_EQ(a.limiter->stats(0).fallback_transitions, 1u);
  EXPECT_LT(schedule.slowest_ns(), 100'000'000);
}

TEST(ClusterRedis, ARedisThatRefusesCommandsCountsAsDown) {
  VEER_REQUIRE_REDIS();
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Instance a(cluster_config(redis));
  ASSERT_TRUE(poll_until([&] { return a.shared(); }, 5s));
  // Out of memory: every write (the scripts' SET and ZADD) gets -OOM, PING still works.
  // The next heartbeat (within a second) says so.
  ASSERT_EQ(test::redis_command(redis.port(), "CONFIG SET maxmemory 1"), "+OK");
  ASSERT_TRUE(poll_until([&] { return !a.shared(); }, 3s));
  const Gcra g = hundred_per_second();
  EXPECT_EQ(a.limiter->acquire(1, ns(Clock::now()), g).verdict, Verdict::allow);
  // Reconnections meanwhile get PONG but a refused heartbeat: no flapping back and forth.
  const std::int64_t fell = ns(Clock::now());
  poll_until([&] { return ns(Clock::now()) >= fell + 1'500'000'000; }, 3s);
  EXPECT_FALSE(a.shared());
  ASSERT_EQ(test::redis_command(redis.port(), "CONFIG SET maxmemory 0"), "+OK");
  ASSERT_TRUE(poll_until([&] { return a.shared(); }, 5s));
  EXPECT_EQ(a.limiter->stats(0).fallback_transitions, 1u);
}

TEST(ClusterRedis, AFlushedScriptCacheIsRefilledByEvalWithoutFallingBack) {
  VEER_REQUIRE_REDIS();
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  Instance a(cluster_config(redis));
  ASSERT_TRUE(poll_until([&] { return a.shared(); }, 5s));
  const Gcra g = hundred_per_second();
  // Drain the burst so that every further request needs a lease from Redis.
  auto served_within = [&](std::chrono::milliseconds span) {
    std::size_t served = 0;
    const auto end = Clock::now() + span;
    while (Clock::now() < end) {
      if (a.limiter->acquire(5, ns(Clock::now()), g).verdict == Verdict::allow) ++served;
      std::this_thread::sleep_for(1ms);  // pacing: about 1,000 offered per second
    }
    return served;
  };
  served_within(500ms);
  EXPECT_EQ(test::redis_command(redis.port(), "SCRIPT FLUSH"), "+OK");
  const std::size_t after_flush = served_within(1000ms);
  EXPECT_NEAR(static_cast<double>(after_flush), 100.0, 10.0);
  EXPECT_TRUE(a.shared());
  EXPECT_EQ(a.limiter->stats(0).fallback_transitions, 0u);
}

TEST(ClusterRedis, AReconfiguredAddressMovesTheLinkToTheOtherRedis) {
  VEER_REQUIRE_REDIS();
  RedisServer first, second;
  ASSERT_TRUE(first.start());
  ASSERT_TRUE(second.start());
  conf::ClusterConfig config = cluster_config(first);
  Instance a(config);
  const std::string members = "ZCARD " + config.key_prefix + "instances";
  ASSERT_TRUE(poll_until([&] { return test::redis_command(first.port(), members) == ":1"; }, 5s));
  config.redis = second.address();
  config.redis_host_port.port = second.port();
  a.link.configure(config);  // what a reload with another [cluster] redis does
  ASSERT_TRUE(poll_until([&] { return test::redis_command(second.port(), members) == ":1"; }, 5s));
  // The instance registers with the new Redis a moment before its first lease there.
  EXPECT_TRUE(poll_until([&] { return a.shared(); }, 5s));
  EXPECT_EQ(a.limiter->stats(0).fallback_transitions, 0u);  // a move is not an outage
}

TEST(ClusterRedis, WithoutRedisEachInstanceAppliesRateOverNFromTheStart) {
  VEER_REQUIRE_REDIS();
  RedisServer redis;  // never started: nothing listens on its port
  conf::ClusterConfig config = cluster_config(redis);
  config.instances = 4;
  Instance a(config);
  EXPECT_FALSE(a.shared());
  const Gcra g = hundred_per_second();
  // A virtual second of one request per millisecond: 25/s with burst 20 / 4 = 5.
  std::size_t allowed = 0;
  const std::int64_t start = ns(Clock::now());
  for (std::int64_t ms = 0; ms < 1000; ++ms) {
    if (a.limiter->acquire(8, start + ms * 1'000'000, g).verdict == Verdict::allow) ++allowed;
  }
  EXPECT_EQ(allowed, 6u + 24u);
  EXPECT_FALSE(a.shared());
}

}  // namespace
}  // namespace veer::limits
