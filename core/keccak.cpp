#include "core/keccak.hpp"

#include <cstddef>
#include <cstring>

namespace veer::core {
namespace {

constexpr std::size_t kRate = 136;  // bytes: 1600 - 2 * 256 bits of capacity

constexpr std::uint64_t kRoundConstants[24] = {
    0x0000000000000001, 0x0000000000008082, 0x800000000000808a, 0x8000000080008000,
    0x000000000000808b, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
    0x000000000000008a, 0x0000000000000088, 0x0000000080008009, 0x000000008000000a,
    0x000000008000808b, 0x800000000000008b, 0x8000000000008089, 0x8000000000008003,
    0x8000000000008002, 0x8000000000000080, 0x000000000000800a, 0x800000008000000a,
    0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
};

// rho offsets and pi positions in the order of the combined rho-pi walk.
constexpr unsigned kRotations[24] = {1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                     27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};
constexpr unsigned kPiLanes[24] = {10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                                   15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};

constexpr std::uint64_t rotl(std::uint64_t x, unsigned n) {
  return (x << n) | (x >> (64 - n));
}

// Keccak-f[1600] (FIPS 202 section 3.3): 24 rounds of theta, rho, pi, chi, iota.
void permute(std::uint64_t state[25]) {
  for (const std::uint64_t round_constant : kRoundConstants) {
    std::uint64_t column[5];
    for (int x = 0; x < 5; ++x)
      column[x] = state[x] ^ state[x + 5] ^ state[x + 10] ^ state[x + 15] ^ state[x + 20];
    for (int x = 0; x < 5; ++x) {
      const std::uint64_t d = column[(x + 4) % 5] ^ rotl(column[(x + 1) % 5], 1);
      for (int y = 0; y < 25; y += 5)
        state[y + x] ^= d;
    }
    std::uint64_t carried = state[1];
    for (int i = 0; i < 24; ++i) {
      const unsigned lane = kPiLanes[i];
      const std::uint64_t next = state[lane];
      state[lane] = rotl(carried, kRotations[i]);
      carried = next;
    }
    for (int y = 0; y < 25; y += 5) {
      std::uint64_t row[5];
      for (int x = 0; x < 5; ++x)
        row[x] = state[y + x];
      for (int x = 0; x < 5; ++x)
        state[y + x] = row[x] ^ (~row[(x + 1) % 5] & row[(x + 2) % 5]);
    }
    state[0] ^= round_constant;
  }
}

// XORs one rate-sized block into the state, lanes little-endian (FIPS 202 B.1).
void absorb(std::uint64_t state[25], const unsigned char* block) {
  for (std::size_t i = 0; i < kRate / 8; ++i) {
    std::uint64_t lane = 0;
    for (int b = 7; b >= 0; --b)
      lane = (lane << 8) | block[i * 8 + static_cast<std::size_t>(b)];
    state[i] ^= lane;
  }
}

}  // namespace

std::array<std::uint8_t, 32> keccak256(std::string_view bytes) {
  std::uint64_t state[25] = {};
  const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
  std::size_t left = bytes.size();
  for (; left >= kRate; left -= kRate, data += kRate) {
    absorb(state, data);
    permute(state);
  }
  // The last, partial block with Keccak's original pad10*1 (0x01 ... 0x80; SHA3-256
  // would put 0x06 first).
  unsigned char last[kRate] = {};
  if (left > 0) std::memcpy(last, data, left);
  last[left] ^= 0x01;
  last[kRate - 1] ^= 0x80;
  absorb(state, last);
  permute(state);
  std::array<std::uint8_t, 32> digest;
  for (std::size_t i = 0; i < digest.size(); ++i)
    digest[i] = static_cast<std::uint8_t>(state[i / 8] >> (8 * (i % 8)));
  return digest;
}

}  // namespace veer::core
