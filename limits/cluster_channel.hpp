#pragma once

// What the workers and the cluster thread (limits/redis_link.hpp) share for rate limits
// of scope = "cluster": whether Redis answers now (shared limit) or not (local fallback),
// how many instances share a limit, and the queue by which workers ask for lease refills.
//
// Workers only read atomics and push into a bounded lock-free queue (Boost.Lockfree,
// fixed capacity: no allocation, no lock) and, when the cluster thread sleeps, write one
// eventfd to wake it; they never wait for Redis. Everything else (the registry of
// limiters, the counters' writers) belongs to the cluster thread or the main thread.

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include <boost/lockfree/queue.hpp>

#include "core/unique_fd.hpp"

namespace veer::limits {

class ClusterLimiter;

// "Refill the lease of the entry in `slot` of limiter `limiter`", as a worker posts it.
// `generation` names the entry's incarnation: a slot reused by another key since is
// recognised and the request dropped.
struct RefillRequest {
  std::uint32_t limiter = 0;
  std::uint32_t slot = 0;
  std::uint32_t generation = 0;
};

class ClusterChannel {
 public:
  ClusterChannel();
  ClusterChannel(const ClusterChannel&) = delete;
  ClusterChannel& operator=(const ClusterChannel&) = delete;

  // --- Any thread (workers on the request path). ---
  // True while Redis answers: requests are served from leases; false: local fallback.
  bool shared() const { return shared_.load(std::memory_order_acquire); }
  // N of the fallback limit rate / N: [cluster] instances when set, else the live
  // instances counted through Redis when it last answered; at least 1.
  std::uint64_t instances() const;
  std::uint64_t lease_config() const { return lease_.load(std::memory_order_relaxed); }
  // Queues a refill and wakes the cluster thread. False when the queue is full (the
  // caller clears its pending flag; a later request asks again).
  bool post(const RefillRequest& request);

  // --- The cluster thread. ---
  bool pop(RefillRequest& request);
  // The eventfd that post() writes; the cluster thread waits on it, then calls woken()
  // before draining the queue.
  int wake_fd() const { return wake_fd_.get(); }
  void woken();
  // Records whether Redis answers; true when that is a change. Entering fallback counts
  // (unless `count` is false: the link stopping at shutdown).
  bool set_shared(bool shared, bool count = true);
  void set_discovered_instances(std::uint64_t live);
  std::uint64_t discovered_instances() const { return discovered_.load(std::memory_order_relaxed); }
  std::uint64_t fallback_transitions() const {
    return fallback_transitions_.load(std::memory_order_relaxed);
  }
  std::uint64_t dropped_refills() const { return dropped_.load(std::memory_order_relaxed); }

  // --- The main thread ([cluster] at start and on reloads). ---
  void configure(std::uint32_t instances, std::uint64_t lease);

  // --- Registry: limiters by id, so a queued request never outlives its limiter. ---
  std::uint32_t add(std::weak_ptr<ClusterLimiter> limiter);
  void remove(std::uint32_t id);
  std::shared_ptr<ClusterLimiter> find(std::uint32_t id) const;

 private:
  // 4,096 requests in flight between workers and the cluster thread: each names one
  // key, deduplicated per key, so this is 4,096 distinct keys asking within one wake-up
  // of the cluster thread (microseconds). Boost.Lockfree's fixed-size queue indexes
  // its nodes with 16 bits, so at most 65,534.
  static constexpr std::size_t kQueueCapacity = 4096;

  std::atomic<bool> shared_{false};
  std::atomic<std::uint64_t> configured_instances_{0};
  std::atomic<std::uint64_t> discovered_{1};
  std::atomic<std::uint64_t> lease_{0};
  std::atomic<std::uint64_t> fallback_transitions_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<bool> wake_pending_{false};
  core::UniqueFd wake_fd_;
  boost::lockfree::queue<RefillRequest, boost::lockfree::capacity<kQueueCapacity>> queue_;

  mutable std::mutex registry_mutex_;
  std::uint32_t next_id_ = 1;
  std::map<std::uint32_t, std::weak_ptr<ClusterLimiter>> registry_;
};

}  // namespace veer::limits
