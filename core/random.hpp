#pragma once

#include <cstdint>

#include "core/hash.hpp"

namespace veer::core {

// The next value of a splitmix64 stream whose state is `state`: a Weyl sequence (the
// golden-ratio increment visits every 64-bit value once) through mix64. One add and a
// few multiplies, no shared state: the per-worker streams of Random and request ids.
constexpr std::uint64_t splitmix64(std::uint64_t& state) {
  return mix64(state += 0x9e3779b97f4a7c15ULL);
}

// A small, fast generator for per-worker random choices (tie-breaks, power of two
// choices): splitmix64. Seeded per worker; no shared state, no syscall. Not for
// anything an attacker should not predict.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed ^ 0x6a09e667f3bcc909ULL) {}
  std::uint64_t next() { return splitmix64(state_); }
  // Uniform in [0, n) without a division (Lemire's multiply-shift).
  std::uint32_t below(std::uint32_t n) {
    return static_cast<std::uint32_t>(((next() >> 32) * n) >> 32);
  }

 private:
  std::uint64_t state_;
};

}  // namespace veer::core
