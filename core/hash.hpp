#pragma once

#include <cstdint>
#include <string_view>

namespace veer::core {

// The splitmix64 finalizer (Vigna's splitmix64.c; Java's SplittableRandom.mix64, David
// Stafford's variant 13): a bijection on 64 bits in which every input bit flips about
// half of the output bits. The generator (core/random.hpp) and the hash below end with it.
constexpr std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// A stable 64-bit hash of bytes: FNV-1a followed by the splitmix64 finalizer, so that
// keys differing in one byte land far apart. Stable across runs, builds and machines:
// "same key, same backend across restarts" depends on it never changing.
inline std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed = 0) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return mix64(h);
}

}  // namespace veer::core
