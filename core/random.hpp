#pragma once

#include <cstdint>

namespace veer::core {

// A small, fast generator for per-worker random choices (tie-breaks, power of two
// choices): splitmix64. Seeded per worker; no shared state, no syscall. Not for
// anything an attacker should not predict.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed ^ 0x6a09e667f3bcc909ULL) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) without a division (Lemire's multiply-shift).
  std::uint32_t below(std::uint32_t n) {
    return static_cast<std::uint32_t>(((next() >> 32) * n) >> 32);
  }

 private:
  std::uint64_t state_;
};

}  // namespace veer::core
