#pragma once

// The storage shared by the limiter's key table and the per-client connection counts:
// 16-byte slots {key, value} in buckets of four (one 64-byte cache line), each key having
// two candidate buckets, in one fixed mapping. How slots are read and changed is in
// limits/slot_atomics.hpp (limits/*.cpp only).

#include <cstddef>
#include <cstdint>

namespace veer::limits::detail {

struct SlotValue {
  std::uint64_t key;  // 0 = empty
  std::int64_t value;
  friend bool operator==(const SlotValue&, const SlotValue&) = default;
};

struct alignas(16) Slot {
  std::uint64_t key;
  std::int64_t value;
};
static_assert(sizeof(Slot) == 16 && sizeof(SlotValue) == 16);

struct Window;  // a key's slots as one search reads them (limits/slot_atomics.hpp)

inline constexpr std::size_t kSlotsPerBucket = 4;
inline constexpr std::size_t kWindowSlots = 2 * kSlotsPerBucket;

struct alignas(64) Bucket {
  Slot slots[kSlotsPerBucket];
};
static_assert(sizeof(Bucket) == 64);

// A power-of-two number of buckets (at least two) in one zeroed, lazily touched mapping:
// pages no key has reached cost no memory. Fixed at construction; never reallocates.
class BucketArray {
 public:
  // Buckets enough for `min_slots` slots.
  explicit BucketArray(std::uint64_t min_slots);
  ~BucketArray();
  BucketArray(const BucketArray&) = delete;
  BucketArray& operator=(const BucketArray&) = delete;

  // A key's two candidate buckets, from independent halves of the mixed key (the key is
  // usually a hash already; mixing keeps sequential keys apart too); they always differ.
  Bucket* first_bucket(std::uint64_t mixed) const {
    return &buckets_[static_cast<std::size_t>(mixed) & mask_];
  }
  Bucket* second_bucket(std::uint64_t mixed) const {
    const std::size_t first = static_cast<std::size_t>(mixed) & mask_;
    const std::size_t second = static_cast<std::size_t>(mixed >> 32) & mask_;
    return &buckets_[second != first ? second : first ^ 1];
  }

  std::uint64_t slot_count() const { return (mask_ + 1) * kSlotsPerBucket; }
  std::uint64_t bytes() const { return (mask_ + 1) * sizeof(Bucket); }
  // Every slot, for the scans done at scrape time.
  const Slot* begin() const { return &buckets_[0].slots[0]; }
  const Slot* end() const { return begin() + slot_count(); }

 private:
  Bucket* buckets_ = nullptr;
  std::size_t mask_ = 0;
};

// Two slots per key (a table at most half full), saturating: an absurd size is refused by
// BucketArray rather than wrapped round to a small one.
constexpr std::uint64_t two_per(std::uint64_t keys) {
  return keys > ~std::uint64_t{0} / 2 ? ~std::uint64_t{0} : 2 * keys;
}

}  // namespace veer::limits::detail
