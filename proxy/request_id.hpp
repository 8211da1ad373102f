#pragma once

#include <cstdint>
#include <string_view>

namespace veer::proxy {

// X-Request-Id values: 128 random bits as 32 hex characters, from a per-worker
// splitmix64 stream (no lock, no syscall). Unique enough to find a log line; not a
// secret, so a cryptographic generator would only cost time.
class RequestIds {
 public:
  explicit RequestIds(std::uint64_t seed) : state_(seed) {}

  // Writes a new id into `out` and returns a view of it.
  std::string_view next(char (&out)[32]) {
    static constexpr char kHex[] = "0123456789abcdef";
    for (int half = 0; half < 2; ++half) {
      std::uint64_t bits = mix();
      for (int i = 0; i < 16; ++i, bits >>= 4)
        out[half * 16 + i] = kHex[bits & 0xf];
    }
    return {out, sizeof out};
  }

 private:
  std::uint64_t mix() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t state_;
};

}  // namespace veer::proxy
