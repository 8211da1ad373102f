#pragma once

// Timeouts without a timer per connection. Every timeout of a kind has the same
// duration, so deadlines armed with that duration expire in the order they were armed:
// one FIFO list per distinct duration is already sorted. Arming, re-arming and
// disarming are O(1) list operations, and one Asio timer per worker wakes for the
// earliest head. Refreshing a deadline on every read costs two pointer updates, not
// a cancelled timer operation and its completion.

#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

namespace veer::proxy {

using Clock = std::chrono::steady_clock;

class Deadline;
class DeadlineQueue;

// Implemented by whatever owns deadlines (sessions, tunnels, the upstream pool).
class TimeoutHandler {
 public:
  // Runs on the owning worker's thread, after the deadline has been unlinked.
  virtual void on_timeout(Deadline& deadline) = 0;

 protected:
  ~TimeoutHandler() = default;
};

// An intrusive list node, embedded in its owner. Unlinks itself when destroyed.
class Deadline {
 public:
  Deadline(TimeoutHandler& owner, std::uint8_t tag) : owner_(&owner), tag_(tag) {}
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;
  ~Deadline() { disarm(); }

  bool armed() const { return list_ != nullptr; }
  std::uint8_t tag() const { return tag_; }
  Clock::time_point when() const { return when_; }
  void disarm();

 private:
  friend class DeadlineQueue;
  struct List;
  TimeoutHandler* owner_;
  std::uint8_t tag_;
  Clock::time_point when_{};
  List* list_ = nullptr;
  Deadline* prev_ = nullptr;
  Deadline* next_ = nullptr;
};

struct Deadline::List {
  Clock::duration duration{};
  Deadline* head = nullptr;
  Deadline* tail = nullptr;
  DeadlineQueue* queue = nullptr;
};

class DeadlineQueue {
 public:
  // Told when the earliest deadline moves earlier than anything armed before.
  class Waker {
   public:
    virtual void wake_at(Clock::time_point when) = 0;
    // The time deadlines are armed from (a worker reads it once per turn).
    virtual Clock::time_point now() { return Clock::now(); }

   protected:
    ~Waker() = default;
  };

  explicit DeadlineQueue(Waker& waker) : waker_(waker) {}
  DeadlineQueue(const DeadlineQueue&) = delete;
  DeadlineQueue& operator=(const DeadlineQueue&) = delete;
  ~DeadlineQueue();

  // (Re)arms `d` to expire `after` from `now`.
  void arm(Deadline& d, Clock::duration after, Clock::time_point now);
  void arm(Deadline& d, Clock::duration after) { arm(d, after, waker_.now()); }
  Clock::time_point now() { return waker_.now(); }

  // Fires every deadline due at `now`; returns the earliest one still armed
  // (time_point::max() when none).
  Clock::time_point expire(Clock::time_point now);

  std::size_t armed_count() const { return armed_; }

 private:
  friend class Deadline;
  Deadline::List& list_for(Clock::duration duration);
  Clock::time_point earliest() const;

  Waker& waker_;
  std::vector<std::unique_ptr<Deadline::List>> lists_;  // few: one per timeout kind
  std::size_t armed_ = 0;
};

}  // namespace veer::proxy
