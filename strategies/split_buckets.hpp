#pragma once

// How a split assigns requests to its targets, exactly as nginx's split_clients does
// (src/http/modules/ngx_http_split_clients_module.c), so that `veer export nginx` can
// carry a split over key for key. A key hashes to 32 bits with nginx's MurmurHash2.
// Each target owns a contiguous range of kSplitBuckets buckets in proportion to its
// weight, in a fixed target order; the exported split_clients gives each target its
// range's width as a percentage (two decimals: 1 bucket = 0.01%) and the last target of
// positive width "*", and nginx turns those into thresholds on the hash. veer uses the
// same thresholds (split_hash_ends), not hash-to-bucket scaling, which would differ from
// them for keys within a few counts (of 2^32) of a boundary.
//
// Growing one target of two therefore moves keys only into it (the boundary slides one
// way), shrinking it moves exactly those back, and unchanged weights keep every key where
// it was, across workers and restarts. The hash and the thresholds are part of that
// contract: changing either reassigns keys.

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/murmur_hash2.hpp"

namespace veer::strategies {

inline constexpr std::uint32_t kSplitBuckets = 10'000;
// The end of the last target's hash range: past every 32-bit hash (nginx's "*").
inline constexpr std::uint64_t kSplitHashEnd = std::uint64_t{1} << 32;

// The hash of a sticky key: nginx's ngx_murmur_hash2 over the same bytes nginx's
// variable holds (runtime/request_key.hpp says which those are).
inline std::uint32_t split_hash(std::string_view key) {
  return core::murmur_hash2(key);
}

// The bucket a hash falls in: the hash scaled to [0, kSplitBuckets), so bucket order is
// hash order. Failover (split_fallback_of) spreads a key by its bucket.
constexpr std::uint32_t split_bucket_of(std::uint32_t hash) {
  return static_cast<std::uint32_t>((std::uint64_t{hash} * kSplitBuckets) >> 32);
}

inline std::uint32_t split_bucket(std::string_view key) {
  return split_bucket_of(split_hash(key));
}

// The end (exclusive) of each target's bucket range, in target order; a target of
// weight 0 owns an empty range. Weights may be any size; at least one is positive.
// The widths, in hundredths of a percent, are the percentages of the nginx export.
std::vector<std::uint32_t> split_bucket_ends(std::span<const std::uint64_t> weights);

// The end (exclusive) of each target's range of hashes, from its bucket range, with
// nginx's arithmetic: each width w adds w * 0xffffffff / 10000 (rounded down) to a
// running threshold, and the last target of positive width (and any empty one after it)
// ends at kSplitHashEnd, as the "*" part does.
std::vector<std::uint64_t> split_hash_ends(std::span<const std::uint32_t> bucket_ends);

// The target owning `hash`: the first whose hash range ends above it.
std::uint32_t split_target_of_hash(std::span<const std::uint64_t> hash_ends, std::uint32_t hash);

// The target owning `bucket` (< kSplitBuckets); it owns the bucket's hashes but for the
// few within a handful of counts of a threshold (see above).
std::uint32_t split_target_of(std::span<const std::uint32_t> ends, std::uint32_t bucket);

// Where `bucket` goes when the targets in `excluded` (bit i = target i) cannot take it:
// the remaining targets of positive weight, in proportion to their weights, so a key
// keeps going to the same fallback. nullopt when none remains.
std::optional<std::uint32_t> split_fallback_of(std::span<const std::uint64_t> weights,
                                               std::uint64_t excluded, std::uint32_t bucket);

}  // namespace veer::strategies
