#pragma once

// How a split assigns requests to its targets. A key hashes into one of kSplitBuckets
// buckets and each target owns a contiguous range of buckets in proportion to its
// weight, in a fixed target order. Growing one target of two therefore moves keys only
// into it (the boundary slides one way), shrinking it moves exactly those back, and
// unchanged weights keep every key where it was, across workers and restarts.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/hash.hpp"

namespace veer::strategies {

inline constexpr std::uint32_t kSplitBuckets = 10'000;

// The bucket of a sticky key. Seeded apart from ip_hash, so that which version a key
// gets says nothing about which backend it gets inside that version.
inline std::uint32_t split_bucket(std::string_view key) {
  return static_cast<std::uint32_t>(core::hash_bytes(key, 0x5b11'7ed5ULL) % kSplitBuckets);
}

// The end (exclusive) of each target's bucket range, in target order; a target of
// weight 0 owns an empty range. Weights may be any size; at least one is positive.
std::vector<std::uint32_t> split_bucket_ends(std::span<const std::uint64_t> weights);

// The target owning `bucket` (< kSplitBuckets).
std::uint32_t split_target_of(std::span<const std::uint32_t> ends, std::uint32_t bucket);

// Where `bucket` goes when the targets in `excluded` (bit i = target i) cannot take it:
// the remaining targets of positive weight, in proportion to their weights, so a key
// keeps going to the same fallback. nullopt when none remains.
std::optional<std::uint32_t> split_fallback_of(std::span<const std::uint64_t> weights,
                                               std::uint64_t excluded, std::uint32_t bucket);

}  // namespace veer::strategies
