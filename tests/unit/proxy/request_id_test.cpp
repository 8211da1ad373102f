// X-Request-Id values come from the shared splitmix64 stream (core/random.hpp).
#include <gtest/gtest.h>

#include <string>

#include "core/hex.hpp"
#include "core/random.hpp"
#include "proxy/request_id.hpp"

namespace veer::proxy {
namespace {

TEST(RequestIds, AreTheSplitmix64StreamInHex) {
  RequestIds ids(42);
  std::uint64_t state = 42;
  std::string expected;
  for (int half = 0; half < 2; ++half) {
    std::uint64_t bits = core::splitmix64(state);
    for (int i = 0; i < 16; ++i, bits >>= 4)
      expected += core::kHexDigits[bits & 0xf];
  }
  char out[32];
  EXPECT_EQ(ids.next(out), expected);
  EXPECT_NE(ids.next(out), expected);
}

}  // namespace
}  // namespace veer::proxy
