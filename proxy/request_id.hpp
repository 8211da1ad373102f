#pragma once

#include <cstdint>
#include <string_view>

#include "core/hex.hpp"
#include "core/random.hpp"

namespace veer::proxy {

// X-Request-Id values: 128 random bits as 32 hex characters, from a per-worker
// splitmix64 stream (no lock, no syscall). Unique enough to find a log line; not a
// secret, so a cryptographic generator would only cost time.
class RequestIds {
 public:
  explicit RequestIds(std::uint64_t seed) : state_(seed) {}

  // Writes a new id into `out` and returns a view of it.
  std::string_view next(char (&out)[32]) {
    for (int half = 0; half < 2; ++half) {
      std::uint64_t bits = core::splitmix64(state_);
      for (int i = 0; i < 16; ++i, bits >>= 4)
        out[half * 16 + i] = core::kHexDigits[bits & 0xf];
    }
    return {out, sizeof out};
  }

 private:
  std::uint64_t state_;
};

}  // namespace veer::proxy
