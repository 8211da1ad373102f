#pragma once

// Open connections per client address, for the whole process (a listener's
// max_connections_per_client): a fixed-size, lock-free table of key -> count shared by
// every worker, in the same two-choice buckets as the rate limiter (limits/key_table.hpp).
//
// A slot whose count is 0 is free for any key: entries free themselves when a client's
// last connection closes. When both of a new client's buckets hold eight clients with open
// connections, the connection is admitted uncounted (fail open: a full table must not
// lock clients out) and counted in overflows(); its release then finds nothing to release
// (unmatched_releases()) or releases a later connection's count early, so a count can only
// ever be low, never high, and heals when the client's connections reach 0.
//
// Two workers inserting the same new client at once may, when they read its slots at
// different moments, give it two slots. A client's count is the sum of its slots and a
// release takes one from the first slot that has any, so the sum stays exact; and an
// insert re-reads the sum after the fact and, over `max`, gives its count back and tries
// again, so racing first connections cannot pass the limit together.

#include <atomic>
#include <cstdint>

#include "limits/bucket_array.hpp"

namespace veer::limits {

class ClientCounts {
 public:
  // Room for `max_clients` clients with open connections (at least 8 slots).
  explicit ClientCounts(std::uint64_t max_clients);

  // One more connection of `key` if it has fewer than `max` open: any thread, lock-free,
  // no allocation. Key 0 is stored as 1. Callers skip the table when there is no limit
  // (max 0 refuses every connection).
  bool try_acquire(std::uint64_t key, std::uint32_t max);
  // One connection of `key` closed (one that try_acquire admitted).
  void release(std::uint64_t key);

  std::uint64_t open(std::uint64_t key) const;  // connections of `key` counted now
  std::uint64_t clients() const;                // keys with open connections (a scan)
  std::uint64_t capacity() const { return buckets_.slot_count(); }
  std::uint64_t overflows() const { return overflows_.load(std::memory_order_relaxed); }
  std::uint64_t unmatched_releases() const {
    return unmatched_releases_.load(std::memory_order_relaxed);
  }

 private:
  static std::uint64_t stored_key(std::uint64_t key) { return key == 0 ? 1 : key; }
  // Takes one from the first slot of `key` with a count; false if there is none.
  bool take_one(std::uint64_t key);

  detail::BucketArray buckets_;
  alignas(64) std::atomic<std::uint64_t> overflows_{0};
  std::atomic<std::uint64_t> unmatched_releases_{0};
};

}  // namespace veer::limits
