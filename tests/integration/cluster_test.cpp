// Two real veer processes sharing one rate limit through a real redis-server: one client
// offering 300 requests/s split evenly between them. Shared: 1,020 accepted in 10 s
// (100/s, burst 20) within 5 % plus the lease overshoot; Redis killed: no request fails
// for it (only 200s and 429s) and each instance allows 50/s; Redis back: shared again.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "support/http_client.hpp"
#include "support/poll.hpp"
#include "support/redis_server.hpp"
#include "support/test_backend.hpp"
#include "support/veer_process.hpp"

namespace veer::test {
namespace {

using Clock = std::chrono::steady_clock;

std::string cluster_toml(const TestBackend& backend, const RedisServer& redis,
                         const std::string& engine) {
  return "[server]\nworkers = 2\nio_engine = \"" + engine +
         "\"\naccess_log = \"off\"\n"
         "[limits]\n"
         "[limits.per_client]\nrate = \"100/s\"\nburst = 20\nkey = \"client_ip\"\n"
         "scope = \"cluster\"\n"
         "[cluster]\nredis = \"" +
         redis.address() +
         "\"\ntimeout = \"250ms\"\n"
         "[listeners.public]\naddress = \"127.0.0.1:0\"\n"
         "  [[listeners.public.routes]]\n  target = \"main\"\n  limits = [\"per_client\"]\n"
         "[pools.main]\nbackends = [\"" +
         backend.address() + "\"]\n";
}

struct Answer {
  std::int64_t at;  // when the request was sent, ns of steady_clock
  int instance;
  int status;  // 0: no response
  bool retry_after;
};

// `threads` keep-alive clients, each on one instance (alternately), together sending
// `rate` requests per second, paced, until stopped (60 s at most).
class Load {
 public:
  Load(std::vector<std::uint16_t> ports, int rate, int threads) {
    const auto period = std::chrono::nanoseconds(1'000'000'000LL * threads / rate);
    for (int t = 0; t < threads; ++t) {
      workers_.emplace_back([this, port = ports[t % ports.size()],
                             instance = t % static_cast<int>(ports.size()), period,
                             offset = period * t / threads] {
        std::unique_ptr<Client> client;
        auto next = Clock::now() + offset;
        const auto end = Clock::now() + 60s;
        std::vector<Answer> mine;
        while (!done_ && Clock::now() < end) {
          std::this_thread::sleep_until(next);  // pacing the offered load
          next += period;
          if (!client || !client->connected()) client = std::make_unique<Client>(port, 2s);
          const auto sent = Clock::now();
          const auto r = client->get("/");
          mine.push_back({sent.time_since_epoch().count(), instance, r ? r->status : 0,
                          r && !r->header("Retry-After").empty()});
          if (!r) client.reset();
        }
        std::lock_guard lock(mutex_);
        answers_.insert(answers_.end(), mine.begin(), mine.end());
      });
    }
  }
  ~Load() { stop(); }
  void stop() {
    done_ = true;
    for (auto& w : workers_)
      if (w.joinable()) w.join();
  }
  // 200s of `instance` (-1: both) sent in [from, to).
  int accepted(int instance, Clock::time_point from, Clock::time_point to) const {
    return static_cast<int>(std::count_if(answers_.begin(), answers_.end(), [&](const Answer& a) {
      return a.status == 200 && (instance < 0 || a.instance == instance) &&
             a.at >= from.time_since_epoch().count() && a.at < to.time_since_epoch().count();
    }));
  }
  const std::vector<Answer>& answers() const { return answers_; }

 private:
  std::atomic<bool> done_{false};
  std::mutex mutex_;
  std::vector<Answer> answers_;
  std::vector<std::thread> workers_;
};

class Cluster : public ::testing::TestWithParam<std::string> {};

TEST_P(Cluster, TwoInstancesShareOneLimitThroughRedisAndFallBackWhenItDies) {
  VEER_REQUIRE_REDIS();
  RedisServer redis;
  ASSERT_TRUE(redis.start());
  TestBackend backend;
  VeerProcess a(cluster_toml(backend, redis, GetParam())),
      b(cluster_toml(backend, redis, GetParam()));
  ASSERT_TRUE(a.wait_ready());
  ASSERT_TRUE(b.wait_ready());
  // Each has counted both through Redis (the fallback's N).
  ASSERT_TRUE(a.wait_for_log("cluster: 2 veer instances live", 5s));
  ASSERT_TRUE(b.wait_for_log("cluster: 2 veer instances live", 5s));

  Load load({a.port(), b.port()}, 300, 6);
  const auto t0 = Clock::now();
  poll_until([&] { return Clock::now() >= t0 + 10s; }, 12s);
  const auto t10 = Clock::now();

  const std::size_t a_log = a.log_size(), b_log = b.log_size();
  redis.kill();
  ASSERT_TRUE(a.wait_for_log("unavailable", 3s, a_log));
  ASSERT_TRUE(b.wait_for_log("unavailable", 3s, b_log));
  const auto fell = Clock::now();
  poll_until([&] { return Clock::now() >= fell + 4500ms; }, 6s);

  const std::size_t a_log2 = a.log_size(), b_log2 = b.log_size();
  ASSERT_TRUE(redis.start());
  ASSERT_TRUE(a.wait_for_log("answers again", 5s, a_log2));
  ASSERT_TRUE(b.wait_for_log("answers again", 5s, b_log2));
  const auto back = Clock::now();
  poll_until([&] { return Clock::now() >= back + 5s; }, 7s);
  load.stop();

  // Lease overshoot: B = 100 / 50 = 2 per instance, two instances.
  constexpr double kOvershoot = 4;
  const int shared = load.accepted(-1, t0, t10);
  EXPECT_GE(shared, 1020 * 0.95);
  EXPECT_LE(shared, 1020 * 1.05 + kOvershoot);
  for (int i = 0; i < 2; ++i) {
    const double rate = load.accepted(i, fell + 500ms, fell + 4500ms) / 4.0;
    EXPECT_NEAR(rate, 50.0, 2.5) << "instance " << i;
  }
  const int resumed = load.accepted(-1, back + 1s, back + 5s);
  EXPECT_GE(resumed, 400 * 0.95);
  EXPECT_LE(resumed, 400 * 1.05 + kOvershoot);
  // Nothing failed because of Redis: every answer was a 200 or a 429 with Retry-After.
  int failed = 0, refused = 0;
  for (const Answer& answer : load.answers()) {
    if (answer.status == 429) {
      ++refused;
      EXPECT_TRUE(answer.retry_after);
    } else if (answer.status != 200) {
      ++failed;
    }
  }
  EXPECT_EQ(failed, 0);
  EXPECT_GT(refused, 0);
  std::printf(
      "[ figures  ] %s: shared 10 s: %d; fallback a %.1f/s b %.1f/s; resumed 4 s: %d; answers %zu, "
      "429s %d, failed %d\n",
      GetParam().c_str(), shared, load.accepted(0, fell + 500ms, fell + 4500ms) / 4.0,
      load.accepted(1, fell + 500ms, fell + 4500ms) / 4.0, resumed, load.answers().size(), refused,
      failed);
}

// The cluster thread's Asio adapter runs on each engine's reactor.
INSTANTIATE_TEST_SUITE_P(Engines, Cluster, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace veer::test
