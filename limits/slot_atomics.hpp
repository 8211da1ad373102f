#pragma once

// How slots (limits/bucket_array.hpp) are read and changed: only ever by one double-width
// compare-and-swap.
//
// Include from limits/*.cpp only: the compare-and-swap is inlined here and needs -mcx16
// on x86-64 (CMakeLists.txt gives it to veer_limits), where GCC's __sync builtin on
// unsigned __int128 becomes `lock cmpxchg16b`. Elsewhere it falls back to the __atomic
// builtin, which may take libatomic's lock.

#include <cstring>

#include "core/hash.hpp"
#include "limits/bucket_array.hpp"

#if defined(__x86_64__) && !defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_16)
#error "limits/ needs -mcx16 on x86-64 (a lock-free 16-byte compare-and-swap)"
#endif

namespace veer::limits::detail {

// Reads key, value, key again until both keys agree: the value then belongs to that key
// (a slot's key changes only with its value, in one compare-and-swap). A stale pair is
// harmless: deciding on it only makes the compare-and-swap fail. On x86-64 these are
// three plain loads from one cache line.
inline SlotValue load_slot(const Slot& slot) {
  for (;;) {
    const std::uint64_t key = __atomic_load_n(&slot.key, __ATOMIC_ACQUIRE);
    const std::int64_t value = __atomic_load_n(&slot.value, __ATOMIC_ACQUIRE);
    if (__atomic_load_n(&slot.key, __ATOMIC_ACQUIRE) == key) return {key, value};
  }
}

// Replaces `expected` by `desired` if the slot still holds exactly `expected`; a full
// barrier either way.
inline bool compare_and_swap(Slot& slot, SlotValue expected, SlotValue desired) {
  unsigned __int128 old_bits;
  unsigned __int128 new_bits;
  std::memcpy(&old_bits, &expected, sizeof old_bits);
  std::memcpy(&new_bits, &desired, sizeof new_bits);
  auto* target = reinterpret_cast<unsigned __int128*>(&slot);
#if defined(__GCC_HAVE_SYNC_COMPARE_AND_SWAP_16)
  return __sync_bool_compare_and_swap(target, old_bits, new_bits);
#else
  return __atomic_compare_exchange_n(target, &old_bits, new_bits, false, __ATOMIC_SEQ_CST,
                                     __ATOMIC_SEQ_CST);
#endif
}

// A key's eight slots in search order (first bucket, then second) and what was read in
// them. Where a key is found first is where it is charged.
struct Window {
  Bucket* buckets[2];
  std::size_t read = 0;  // slots read so far
  SlotValue seen[kWindowSlots];

  Slot& slot(std::size_t i) const {
    return buckets[i / kSlotsPerBucket]->slots[i % kSlotsPerBucket];
  }
  SlotValue read_next() {
    seen[read] = load_slot(slot(read));
    return seen[read++];
  }
  void read_all() {
    read = 0;
    while (read < kWindowSlots)
      read_next();
  }
  // Index of the first slot read whose key is `key`, from `from` on; -1 if none.
  int find(std::uint64_t key, std::size_t from = 0) const {
    for (std::size_t i = from; i < read; ++i)
      if (seen[i].key == key) return static_cast<int>(i);
    return -1;
  }
};

inline Window window_of(const BucketArray& array, std::uint64_t key) {
  const std::uint64_t mixed = core::mix64(key);
  Window window;
  window.buckets[0] = array.first_bucket(mixed);
  window.buckets[1] = array.second_bucket(mixed);
  return window;
}

}  // namespace veer::limits::detail
