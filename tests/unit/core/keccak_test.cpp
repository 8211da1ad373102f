#include "core/keccak.hpp"

#include <gtest/gtest.h>

#include <string>

#include "core/hex.hpp"

namespace veer::core {
namespace {

std::string hex(const std::array<std::uint8_t, 32>& digest) {
  std::string out;
  for (const std::uint8_t b : digest) {
    out += kHexDigits[b >> 4];
    out += kHexDigits[b & 0xF];
  }
  return out;
}

// Ethereum's published digests (the empty string's is the empty code hash of every
// account without code).
TEST(Keccak256, KnownVectors) {
  EXPECT_EQ(hex(keccak256("")), "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470");
  EXPECT_EQ(hex(keccak256("abc")),
            "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45");
  // The function selector of transfer(address,uint256) is the digest's first 4 bytes.
  EXPECT_EQ(hex(keccak256("transfer(address,uint256)")).substr(0, 8), "a9059cbb");
}

// Inputs around and across the 136-byte rate. The digests come from a straight
// transcription of FIPS 202 in Python whose SHA3-256 mode (padding 0x06) agrees with
// OpenSSL's sha3_256 on the same inputs, run with Keccak's padding 0x01.
TEST(Keccak256, AcrossTheRate) {
  std::string counting(200, '\0');
  for (std::size_t i = 0; i < counting.size(); ++i)
    counting[i] = static_cast<char>(i);
  EXPECT_EQ(hex(keccak256(counting)),
            "bfb0aa97863e797943cf7c33bb7e880bb4543f3d2703c0923c6901c2af57b890");
  EXPECT_EQ(hex(keccak256(std::string(135, '\0'))),
            "29e3704feeca7fb9ba229f0fa04d9b36449cf3ad6e1d85d9cfff3a10df9abc3e")
      << "the padding's two bits in one byte";
  EXPECT_EQ(hex(keccak256(std::string(136, '\0'))),
            "3a5912a7c5faa06ee4fe906253e339467a9ce87d533c65be3c15cb231cdb25f9")
      << "a whole block, then a block of padding";
}

}  // namespace
}  // namespace veer::core
