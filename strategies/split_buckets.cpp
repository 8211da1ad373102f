#include "strategies/split_buckets.hpp"

#include <algorithm>

namespace veer::strategies {
namespace {

// Weights up to 2^63 each: their sum times kSplitBuckets needs more than 64 bits.
using Wide = unsigned __int128;

}  // namespace

std::vector<std::uint32_t> split_bucket_ends(std::span<const std::uint64_t> weights) {
  Wide total = 0;
  for (std::uint64_t w : weights)
    total += w;
  std::vector<std::uint32_t> ends;
  ends.reserve(weights.size());
  Wide running = 0;
  for (std::uint64_t w : weights) {
    running += w;
    // Cumulative rounding: each boundary depends only on the weights before it and the
    // total, and the last one is exactly kSplitBuckets.
    ends.push_back(total == 0 ? 0 : static_cast<std::uint32_t>(running * kSplitBuckets / total));
  }
  return ends;
}

std::vector<std::uint64_t> split_hash_ends(std::span<const std::uint32_t> bucket_ends) {
  // The "*" part: the last target whose range is not empty.
  std::size_t star = bucket_ends.size();
  std::uint32_t previous = 0;
  for (std::size_t i = 0; i < bucket_ends.size(); ++i) {
    if (bucket_ends[i] > previous) star = i;
    previous = bucket_ends[i];
  }
  std::vector<std::uint64_t> hash_ends;
  hash_ends.reserve(bucket_ends.size());
  // nginx: last += part[i].percent * (uint64_t) 0xffffffff / 10000, per part, rounded
  // down each time; the sum stays below 2^32.
  std::uint64_t last = 0;
  previous = 0;
  for (std::size_t i = 0; i < bucket_ends.size(); ++i) {
    last += std::uint64_t{bucket_ends[i] - previous} * 0xffff'ffffULL / kSplitBuckets;
    previous = bucket_ends[i];
    hash_ends.push_back(i >= star ? kSplitHashEnd : last);
  }
  return hash_ends;
}

std::uint32_t split_target_of_hash(std::span<const std::uint64_t> hash_ends, std::uint32_t hash) {
  const auto it = std::upper_bound(hash_ends.begin(), hash_ends.end(), std::uint64_t{hash});
  return static_cast<std::uint32_t>(
      std::min<std::size_t>(it - hash_ends.begin(), hash_ends.size() - 1));
}

std::uint32_t split_target_of(std::span<const std::uint32_t> ends, std::uint32_t bucket) {
  const auto it = std::upper_bound(ends.begin(), ends.end(), bucket);
  return static_cast<std::uint32_t>(std::min<std::size_t>(it - ends.begin(), ends.size() - 1));
}

std::optional<std::uint32_t> split_fallback_of(std::span<const std::uint64_t> weights,
                                               std::uint64_t excluded, std::uint32_t bucket) {
  auto open = [&](std::size_t i) { return weights[i] > 0 && (excluded >> (i % 64) & 1) == 0; };
  Wide total = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (open(i)) total += weights[i];
  }
  if (total == 0) return std::nullopt;
  const Wide position = Wide{bucket} * total / kSplitBuckets;
  Wide running = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (!open(i)) continue;
    running += weights[i];
    if (position < running) return static_cast<std::uint32_t>(i);
  }
  return std::nullopt;  // unreachable: position < total
}

}  // namespace veer::strategies
