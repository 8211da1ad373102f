#include "core/ip_address.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <cstring>
#include <random>
#include <string>

namespace veer::core {
namespace {

std::string text_of(const IpAddress& a) {
  char buffer[IpAddress::kMaxText];
  return std::string(buffer, a.format(buffer));
}

TEST(IpAddress, ParsesBothFamiliesAndFormatsBack) {
  for (const char* text :
       {"192.0.2.1", "0.0.0.0", "255.255.255.255", "2001:db8::1", "::1", "::", "fe80::1:2:3:4"}) {
    const auto a = IpAddress::parse(text);
    ASSERT_TRUE(a) << text;
    EXPECT_EQ(text_of(*a), text);
  }
  EXPECT_TRUE(IpAddress::parse("192.0.2.1")->is_v4());
  EXPECT_FALSE(IpAddress::parse("2001:db8::1")->is_v4());
}

TEST(IpAddress, ReadsBracketsAndMappedAddressesAsTheirFamily) {
  EXPECT_EQ(text_of(*IpAddress::parse("[2001:db8::1]")), "2001:db8::1");
  const auto mapped = IpAddress::parse("::ffff:192.0.2.7");
  ASSERT_TRUE(mapped);
  EXPECT_TRUE(mapped->is_v4());
  EXPECT_EQ(*mapped, *IpAddress::parse("192.0.2.7"));
}

TEST(IpAddress, RefusesWhatIsNotAnAddress) {
  for (const char* text : {"", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4:80", "[::1]:80",
                           "::1%lo", "example.com", "[::1", "1.2.3.4 ", " 1.2.3.4", "unknown",
                           "0123456789012345678901234567890123456789012345678"}) {
    EXPECT_FALSE(IpAddress::parse(text)) << text;
  }
}

TEST(IpAddress, FromSockaddrTreatsMappedPeersAsIpv4) {
  sockaddr_storage storage{};
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  v6->sin6_family = AF_INET6;
  ASSERT_EQ(inet_pton(AF_INET6, "::ffff:10.1.2.3", &v6->sin6_addr), 1);
  const auto a = IpAddress::from_sockaddr(storage);
  ASSERT_TRUE(a);
  EXPECT_EQ(text_of(*a), "10.1.2.3");
  storage = {};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  v4->sin_family = AF_INET;
  ASSERT_EQ(inet_pton(AF_INET, "10.1.2.3", &v4->sin_addr), 1);
  EXPECT_EQ(IpAddress::from_sockaddr(storage), a);
  storage.ss_family = AF_UNIX;
  EXPECT_FALSE(IpAddress::from_sockaddr(storage));
}

TEST(IpAddress, MaskingCountsBitsWithinTheFamily) {
  EXPECT_EQ(text_of(IpAddress::parse("192.0.2.255")->masked(24)), "192.0.2.0");
  EXPECT_EQ(text_of(IpAddress::parse("192.0.2.255")->masked(0)), "0.0.0.0");
  EXPECT_EQ(text_of(IpAddress::parse("192.0.2.255")->masked(32)), "192.0.2.255");
  EXPECT_EQ(text_of(IpAddress::parse("2001:db8:1:2:3:4:5:6")->masked(64)), "2001:db8:1:2::");
  EXPECT_EQ(text_of(IpAddress::parse("2001:db8:1:2:3:4:5:6")->masked(60)), "2001:db8:1::");
  EXPECT_EQ(text_of(IpAddress::parse("2001:db8::ffff")->masked(127)), "2001:db8::fffe");
}

TEST(IpPrefix, ParsesBlocksAndRefusesHostBitsAndBadLengths) {
  std::string_view why;
  const auto ten = IpPrefix::parse("10.0.0.0/8", &why);
  ASSERT_TRUE(ten);
  EXPECT_EQ(ten->bits, 8);
  EXPECT_TRUE(ten->contains(*IpAddress::parse("10.255.0.1")));
  EXPECT_FALSE(ten->contains(*IpAddress::parse("11.0.0.1")));
  EXPECT_FALSE(ten->contains(*IpAddress::parse("2001:db8::1")));
  const auto one = IpPrefix::parse("::1", &why);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->bits, 128);
  EXPECT_TRUE(one->contains(*IpAddress::parse("::1")));
  EXPECT_FALSE(one->contains(*IpAddress::parse("::2")));
  const auto all_v4 = IpPrefix::parse("0.0.0.0/0", &why);
  ASSERT_TRUE(all_v4);
  EXPECT_TRUE(all_v4->contains(*IpAddress::parse("203.0.113.9")));
  EXPECT_FALSE(all_v4->contains(*IpAddress::parse("2001:db8::1"))) << "families never mix";
  EXPECT_FALSE(IpPrefix::parse("10.0.0.1/8", &why));
  EXPECT_EQ(why, "address has bits set after the prefix length");
  for (const char* bad :
       {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/a", "10.0.0.0/8/8", "nonsense/8", "/8"}) {
    EXPECT_FALSE(IpPrefix::parse(bad, &why)) << bad;
  }
}

// Against a bit-by-bit model: a random prefix contains a random address exactly when
// their first `bits` bits agree and the families match.
TEST(IpPrefix, ContainsAgreesWithABitwiseModel) {
  std::mt19937_64 random(14);
  for (int i = 0; i < 20000; ++i) {
    const bool v4 = random() % 2 == 0;
    std::uint8_t raw[16];
    for (auto& b : raw)
      b = static_cast<std::uint8_t>(random());
    std::uint8_t octets4[4] = {raw[0], raw[1], raw[2], raw[3]};
    const IpAddress base = v4 ? IpAddress::from_v4(octets4) : IpAddress::from_v6(raw);
    const unsigned family_bits = v4 ? 32 : 128;
    const unsigned bits = static_cast<unsigned>(random() % (family_bits + 1));
    IpAddress probe = base;
    const unsigned flip = static_cast<unsigned>(random() % family_bits) + (v4 ? 96 : 0);
    if (random() % 2 == 0) probe.bytes[flip / 8] ^= static_cast<std::uint8_t>(0x80u >> (flip % 8));
    const IpPrefix prefix{base.masked(bits), static_cast<std::uint8_t>(bits)};
    bool same = true;
    for (unsigned b = 0; b < bits; ++b) {
      const unsigned at = b + (v4 ? 96 : 0);
      const bool x = (base.bytes[at / 8] >> (7 - at % 8)) & 1;
      const bool y = (probe.bytes[at / 8] >> (7 - at % 8)) & 1;
      same = same && x == y;
    }
    EXPECT_EQ(prefix.contains(probe), same)
        << text_of(base) << "/" << bits << " " << text_of(probe);
  }
}

}  // namespace
}  // namespace veer::core
