#pragma once

// MurmurHash2 (Austin Appleby, 32-bit, seed 0) exactly as nginx computes it
// (src/core/ngx_murmurhash.c, ngx_murmur_hash2): the initial state is the length, the
// bytes are read as little-endian 32-bit words whatever the host's byte order, and a
// tail of 1-3 bytes is folded in with one multiply. nginx's split_clients hashes its key
// with it, so a split that hashes the same key bytes with it assigns every key as
// nginx does (strategies/split_buckets.hpp). Stable: changing it reassigns every key.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace veer::core {

constexpr std::uint32_t murmur_hash2(std::string_view bytes) {
  constexpr std::uint32_t m = 0x5bd1e995;
  const auto byte = [&](std::size_t i) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[i]));
  };
  std::uint32_t h = static_cast<std::uint32_t>(bytes.size());
  std::size_t i = 0;
  for (; bytes.size() - i >= 4; i += 4) {
    std::uint32_t k = byte(i) | byte(i + 1) << 8 | byte(i + 2) << 16 | byte(i + 3) << 24;
    k *= m;
    k ^= k >> 24;
    k *= m;
    h *= m;
    h ^= k;
  }
  switch (bytes.size() - i) {
    case 3:
      h ^= byte(i + 2) << 16;
      [[fallthrough]];
    case 2:
      h ^= byte(i + 1) << 8;
      [[fallthrough]];
    case 1:
      h ^= byte(i);
      h *= m;
      break;
    default:
      break;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return h;
}

}  // namespace veer::core
