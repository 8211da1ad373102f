// core/murmur_hash2.hpp: nginx's MurmurHash2 (ngx_murmur_hash2). The known answers were
// computed with a separate transcription of nginx's C function (Python, 32-bit masks);
// the integration test nginx_equivalence_test checks the hash against the real nginx.
#include "core/murmur_hash2.hpp"

#include <gtest/gtest.h>

#include <string>

namespace veer::core {
namespace {

using namespace std::string_view_literals;

struct KnownAnswer {
  std::string_view key;
  std::uint32_t hash;
};

TEST(MurmurHash2, KnownAnswersOfEveryTailLength) {
  const KnownAnswer answers[] = {
      {""sv, 0x00000000},
      {"a"sv, 0x92685f5e},      // tail of 1
      {"ab"sv, 0x1aa14063},     // tail of 2
      {"abc"sv, 0x13577c9b},    // tail of 3
      {"abcd"sv, 0x26873021},   // one word, no tail
      {"abcde"sv, 0x5f09a8de},  // a word and a tail
      {"127.0.0.1"sv, 0xb6131d91},
      {"203.0.113.7"sv, 0x96b9f290},
      {"2001:db8::1"sv, 0xf17b4610},
      {"user-42"sv, 0xe0870305},
      {"\xff\xfe\x80"sv, 0xa30efe85},          // bytes above 0x7f in the tail
      {"\xff\xfe\x80\x90\xa0"sv, 0xb8a4f8bf},  // and in a word
      {"The quick brown fox jumps over the lazy dog"sv, 0x212729d0},
  };
  for (const KnownAnswer& a : answers) {
    EXPECT_EQ(murmur_hash2(a.key), a.hash) << "key of " << a.key.size() << " bytes";
  }
}

TEST(MurmurHash2, IsAConstantExpressionAndReadsOnlyTheViewedBytes) {
  static_assert(murmur_hash2("abc") == 0x13577c9b);
  const std::string longer = "abcdef";
  EXPECT_EQ(murmur_hash2(std::string_view(longer).substr(0, 3)), murmur_hash2("abc"));
  // A NUL is a byte like any other (keys come from header values with a length).
  EXPECT_NE(murmur_hash2("a\0"sv), murmur_hash2("a"sv));
}

// Every bit of the output depends on every byte: flipping one input bit flips about
// half of the output bits (avalanche), for each of the first 16 byte positions.
TEST(MurmurHash2, OneFlippedInputBitFlipsAboutHalfTheOutputBits) {
  for (std::size_t byte = 0; byte < 16; ++byte) {
    double flipped = 0;
    int trials = 0;
    for (int k = 0; k < 64; ++k) {
      std::string key = "key-" + std::to_string(k * 104729) + "-padding-padding";
      for (int bit = 0; bit < 8; ++bit) {
        std::string other = key;
        other[byte] = static_cast<char>(other[byte] ^ (1 << bit));
        flipped += __builtin_popcount(murmur_hash2(key) ^ murmur_hash2(other));
        ++trials;
      }
    }
    EXPECT_NEAR(flipped / trials, 16.0, 1.5) << "byte " << byte;
  }
}

}  // namespace
}  // namespace veer::core
