#include "proxy/deadline.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace veer::proxy {
namespace {

using namespace std::chrono_literals;

struct RecordingWaker : DeadlineQueue::Waker {
  std::vector<Clock::time_point> wakes;
  void wake_at(Clock::time_point when) override { wakes.push_back(when); }
};

struct Recorder : TimeoutHandler {
  std::vector<int> fired;
  void on_timeout(Deadline& d) override { fired.push_back(d.tag()); }
};

const Clock::time_point t0{std::chrono::seconds(1000)};

TEST(DeadlineQueue, ExpiresInOrderPerDuration) {
  RecordingWaker waker;
  DeadlineQueue queue(waker);
  Recorder owner;
  Deadline a(owner, 1), b(owner, 2), c(owner, 3);
  queue.arm(a, 100ms, t0);
  queue.arm(b, 100ms, t0 + 10ms);
  queue.arm(c, 50ms, t0 + 20ms);
  EXPECT_EQ(queue.armed_count(), 3u);
  EXPECT_EQ(c.when(), t0 + 70ms);
  EXPECT_EQ(queue.expire(t0 + 69ms), t0 + 70ms) << "nothing due yet; earliest is c";
  EXPECT_TRUE(owner.fired.empty());
  EXPECT_EQ(queue.expire(t0 + 105ms), t0 + 110ms);
  EXPECT_EQ(owner.fired, (std::vector<int>{1, 3}));
  EXPECT_EQ(queue.expire(t0 + 1s), Clock::time_point::max());
  EXPECT_EQ(owner.fired, (std::vector<int>{1, 3, 2}));
  EXPECT_EQ(queue.armed_count(), 0u);
}

TEST(DeadlineQueue, RearmMovesToTheBackAndDisarmRemoves) {
  RecordingWaker waker;
  DeadlineQueue queue(waker);
  Recorder owner;
  Deadline a(owner, 1), b(owner, 2);
  queue.arm(a, 100ms, t0);
  queue.arm(b, 100ms, t0 + 1ms);
  queue.arm(a, 100ms, t0 + 50ms);  // refreshed: now after b
  EXPECT_EQ(queue.expire(t0 + 120ms), t0 + 150ms);
  EXPECT_EQ(owner.fired, (std::vector<int>{2}));
  a.disarm();
  EXPECT_FALSE(a.armed());
  EXPECT_EQ(queue.expire(t0 + 1s), Clock::time_point::max());
  EXPECT_EQ(owner.fired, (std::vector<int>{2}));
}

TEST(DeadlineQueue, WakesOnlyWhenTheEarliestDeadlineMovesEarlier) {
  RecordingWaker waker;
  DeadlineQueue queue(waker);
  Recorder owner;
  Deadline a(owner, 1), b(owner, 2), c(owner, 3);
  queue.arm(a, 1s, t0);
  ASSERT_EQ(waker.wakes.size(), 1u);
  queue.arm(b, 1s, t0 + 1ms);  // behind a in its list: no wake-up needed
  EXPECT_EQ(waker.wakes.size(), 1u);
  queue.arm(c, 10ms, t0 + 2ms);  // a shorter timeout: earlier than anything armed
  ASSERT_EQ(waker.wakes.size(), 2u);
  EXPECT_EQ(waker.wakes.back(), t0 + 12ms);
}

TEST(DeadlineQueue, HandlersMayArmDeadlinesWhileExpiring) {
  RecordingWaker waker;
  DeadlineQueue queue(waker);
  struct Rearmer : TimeoutHandler {
    DeadlineQueue* queue = nullptr;
    Deadline self{*this, 7};
    int fired = 0;
    void on_timeout(Deadline&) override {
      if (++fired < 3) queue->arm(self, 10ms, t0 + std::chrono::milliseconds(10 * fired));
    }
  } owner;
  owner.queue = &queue;
  queue.arm(owner.self, 10ms, t0);
  EXPECT_EQ(queue.expire(t0 + 1s), Clock::time_point::max()) << "re-armed twice, all due";
  EXPECT_EQ(owner.fired, 3);
}

TEST(DeadlineQueue, DestroyingAnArmedDeadlineUnlinksIt) {
  RecordingWaker waker;
  DeadlineQueue queue(waker);
  Recorder owner;
  {
    Deadline gone(owner, 1);
    queue.arm(gone, 10ms, t0);
  }
  EXPECT_EQ(queue.armed_count(), 0u);
  EXPECT_EQ(queue.expire(t0 + 1s), Clock::time_point::max());
  EXPECT_TRUE(owner.fired.empty());
}

}  // namespace
}  // namespace veer::proxy
