#pragma once

// The per-key state of one cluster-scope policy in this process: a bounded table of
// lease entries, shared by every worker without a lock.
//
// Set-associative like a CPU cache: a key hashes to one set of kWays entries; a new key
// takes an empty entry of its set or, when the set is full, the least recently used one
// (an eviction). Memory is fixed at creation: ceil(max_keys / kWays) sets of 64-byte
// entries (one cache line each, so two keys never share a line), mapped anonymously and
// touched only as keys arrive. Lookup reads at most kWays keys.
//
// Concurrency: every field is an atomic (std::atomic_ref over plain words, so the zero
// pages of a fresh mapping are a valid empty table without a constructor pass). A claim
// first swaps the entry's key to kClaiming, resets the fields, then publishes the key;
// `generation` (the high half of `flags`) changes on every claim so that a refill
// requested for an earlier key of the slot is recognised. Two workers seeing a new key
// at the same instant may give it two entries; the spare one is the least recently used
// of its set and goes first.

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace veer::limits {

struct alignas(64) LeaseEntry {
  std::uint64_t key;          // 0 = empty; kClaiming while being set up
  std::uint64_t flags;        // kPending | kProvisional, generation << 32
  std::int64_t balance;       // units this instance may still serve (negative: owed)
  std::int64_t retry_at;      // no unit can be granted before this (steady ns)
  std::int64_t full_at;       // the key's whole allowance is back (steady ns)
  std::int64_t fallback_tat;  // the local fallback limit's GCRA state
  std::int64_t last_used;     // for the choice of a victim
};
static_assert(sizeof(LeaseEntry) == 64);

// Atomic access to an entry's word (relaxed unless said otherwise).
template <typename T>
std::atomic_ref<T> field(T& word) {
  return std::atomic_ref<T>(word);
}

inline constexpr std::uint64_t kPending = 1;      // a refill is queued or in flight
inline constexpr std::uint64_t kProvisional = 2;  // balance holds one block not yet granted
inline constexpr std::uint64_t kClaiming = ~std::uint64_t{0};
inline std::uint32_t generation_of(std::uint64_t flags) {
  return static_cast<std::uint32_t>(flags >> 32);
}

class LeaseTable {
 public:
  static constexpr std::uint32_t kWays = 4;
  static constexpr std::uint32_t kNone = ~std::uint32_t{0};

  explicit LeaseTable(std::uint64_t max_keys);
  ~LeaseTable();
  LeaseTable(const LeaseTable&) = delete;
  LeaseTable& operator=(const LeaseTable&) = delete;

  // The slot of `key`, or kNone when it has none.
  std::uint32_t find(std::uint64_t key) const;
  // The slot of `key`, claiming one when it has none: the new entry starts with
  // `balance` units, kProvisional set and last used `now`; *created says so. kNone only
  // when every entry of the set is being claimed by other workers at this instant.
  std::uint32_t find_or_claim(std::uint64_t key, std::int64_t now, std::int64_t balance,
                              bool* created);
  LeaseEntry& at(std::uint32_t slot) const { return entries_[slot]; }

  std::uint64_t capacity() const { return std::uint64_t{sets_} * kWays; }
  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t keys_in_use() const { return in_use_.load(std::memory_order_relaxed); }
  std::uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }

  // Keys are 64-bit hashes; the two reserved values are folded onto neighbours.
  static std::uint64_t stored_key(std::uint64_t key) {
    return key == 0 ? 1 : key == kClaiming ? kClaiming - 1 : key;
  }

 private:
  std::uint32_t first_slot(std::uint64_t key) const;
  bool claim(std::uint32_t slot, std::uint64_t seen, std::uint64_t key, std::int64_t now,
             std::int64_t balance);

  std::uint32_t sets_ = 1;
  std::size_t bytes_ = 0;
  LeaseEntry* entries_ = nullptr;
  std::atomic<std::uint64_t> in_use_{0};
  std::atomic<std::uint64_t> evictions_{0};
};

}  // namespace veer::limits
