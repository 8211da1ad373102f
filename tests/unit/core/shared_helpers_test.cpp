// The small shared pieces of core/: the splitmix64 stream, hex digits and the names of
// backend states, each written once and used by several layers.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "core/backend_stats.hpp"
#include "core/hash.hpp"
#include "core/hex.hpp"
#include "core/random.hpp"

namespace veer::core {
namespace {

TEST(Splitmix64, MatchesTheReferenceStream) {
  // The first outputs of the reference splitmix64.c from state 0.
  std::uint64_t state = 0;
  EXPECT_EQ(splitmix64(state), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(splitmix64(state), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(splitmix64(state), 0x06c45d188009454fULL);
}

TEST(Splitmix64, HashBytesStaysTheSame) {
  // ip_hash and split buckets promise "same key, same place across restarts".
  EXPECT_EQ(hash_bytes(""), mix64(0xcbf29ce484222325ULL));
  EXPECT_EQ(hash_bytes("10.0.0.1"), hash_bytes("10.0.0.1"));
  EXPECT_NE(hash_bytes("10.0.0.1"), hash_bytes("10.0.0.2"));
  EXPECT_NE(hash_bytes("10.0.0.1", 1), hash_bytes("10.0.0.1", 2));
}

TEST(Hex, ValuesOfEveryByte) {
  for (int c = 0; c < 256; ++c) {
    const char ch = static_cast<char>(c);
    int expected = -1;
    if (c >= '0' && c <= '9') expected = c - '0';
    if (c >= 'a' && c <= 'f') expected = c - 'a' + 10;
    if (c >= 'A' && c <= 'F') expected = c - 'A' + 10;
    EXPECT_EQ(hex_value(ch), expected) << c;
  }
  for (int v = 0; v < 16; ++v)
    EXPECT_EQ(hex_value(kHexDigits[v]), v);
}

TEST(BackendStates, TheStrongestReasonNamesTheState) {
  const auto bit = [](Reason r) { return static_cast<std::uint32_t>(r); };
  EXPECT_STREQ(state_name(0), "up");
  EXPECT_STREQ(state_name(bit(Reason::ejected)), "ejected");
  EXPECT_STREQ(state_name(bit(Reason::ejected) | bit(Reason::down)), "down");
  EXPECT_STREQ(state_name(bit(Reason::down) | bit(Reason::draining)), "draining");
  EXPECT_STREQ(state_name(bit(Reason::draining) | bit(Reason::disabled)), "disabled");
  EXPECT_STREQ(state_name(0xf), "disabled");
  std::set<std::string> names;
  for (Reason r : {Reason::down, Reason::ejected, Reason::draining, Reason::disabled}) {
    EXPECT_STREQ(reason_name(r), state_name(bit(r))) << "a lone reason is its own state";
    names.insert(reason_name(r));
  }
  EXPECT_EQ(names.size(), kReasonCount);
}

}  // namespace
}  // namespace veer::core
