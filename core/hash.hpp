#pragma once

#include <cstdint>
#include <string_view>

namespace veer::core {

// A stable 64-bit hash of bytes: FNV-1a followed by the splitmix64 finalizer, so that
// keys differing in one byte land far apart. Stable across runs, builds and machines:
// "same key, same backend across restarts" depends on it never changing.
inline std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed = 0) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ seed;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

}  // namespace veer::core
