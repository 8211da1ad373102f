#pragma once

// The per-key state of one rate-limit policy for the whole process: a fixed-size,
// lock-free table of 64-bit key -> TAT (limits/gcra.hpp), shared by every worker.
//
// Layout: 16-byte slots {key, TAT} in buckets of four (one cache line); a key may live in
// either of two buckets picked by independent bits of its hash, and a new key goes to the
// less loaded one (two-choice hashing). The table has a power of two of buckets and at
// least 2 x max_keys slots, in one zeroed mapping touched lazily: 32 MiB for 1,000,000
// keys (33.5 bytes per key; between 32 and 64 for other max_keys, by the rounding). At
// max_keys live keys both buckets of a new key are full about 8 times per million.
//
// Expiry and eviction: a slot whose TAT is not after `now` holds nothing a fresh key
// would not (max(tat, now) = now), so any new key may take it: idle keys cost nothing
// once expired. When both buckets hold eight live keys, the new key takes the slot with
// the smallest TAT: the key whose allowance comes back soonest, which for one policy is
// the least recently charged relative to its use (approximate LRU). That key's next
// request is judged as a fresh key's: eviction only ever makes a limit more lenient.
//
// Concurrency: every change is one 16-byte compare-and-swap from the value the change
// was computed from, so a charge is applied exactly once or retried on the new value;
// a refusal writes nothing. A key is charged in the first slot holding it (first bucket,
// then second). Two workers inserting the same new key pick the same slot when they read
// the same eight slots (the compare-and-swap admits one; the other finds the key on its
// retry). When their reads differed (another key arrived in one of the buckets, or a slot
// expired between their two clocks), both may succeed: each insert then re-reads the
// slots, and the second entry is taken out (compare-and-swap to empty, so once) and what
// it was ahead of now added to the first (folds()). Until then the key may have been let
// through once more per racing worker: the only way a charge goes astray.

#include <atomic>
#include <cstdint>

#include "limits/bucket_array.hpp"
#include "limits/limiter.hpp"

namespace veer::limits {

class KeyTable {
 public:
  // Room for max_keys live keys without eviction (at least 8 slots).
  explicit KeyTable(std::uint64_t max_keys);

  // Charges one request of `key` at `now` (gcra_step); any thread, lock-free, no
  // allocation. Key 0 is stored as 1 (0 marks an empty slot).
  Decision acquire(std::uint64_t key, std::int64_t now, const Gcra& gcra);
  // What acquire would return now, without charging; known = false for a key that is
  // absent or expired.
  KeyState inspect(std::uint64_t key, std::int64_t now, const Gcra& gcra) const;

  // Keys whose TAT is after `now`: a scan of the whole table (scrape time, not per request).
  std::uint64_t keys_in_use(std::int64_t now) const;
  std::uint64_t capacity() const { return buckets_.slot_count(); }
  std::uint64_t evictions() const { return evictions_.load(std::memory_order_relaxed); }
  std::uint64_t table_bytes() const { return buckets_.bytes(); }
  // Second entries of one key, left by two racing inserts and folded into the first.
  std::uint64_t folds() const { return folds_.load(std::memory_order_relaxed); }

 private:
  static std::uint64_t stored_key(std::uint64_t key) { return key == 0 ? 1 : key; }
  // Reads the window until `key` is found; its index or -1 with all eight slots read.
  static int find(detail::Window& window, std::uint64_t key);
  // Puts (key, tat) in a free, expired or (all live) least-TAT slot of a fully read window.
  bool insert(detail::Window& window, std::uint64_t key, std::int64_t tat, std::int64_t now);
  // After an insert: folds any other entry of `key` into the first one.
  void fold_duplicates(std::uint64_t key, std::int64_t now);
  // Adds `debt` ns to the key's TAT as though that much had been charged at `now`.
  void add_debt(std::uint64_t key, std::int64_t debt, std::int64_t now);

  friend struct KeyTableProbe;  // tests/unit/limits: plants what a race leaves behind

  detail::BucketArray buckets_;
  // On their own line: written only on eviction and after a race.
  alignas(64) std::atomic<std::uint64_t> evictions_{0};
  std::atomic<std::uint64_t> folds_{0};
};

}  // namespace veer::limits
