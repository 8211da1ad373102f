// The PROXY protocol parser (http/proxy_protocol.hpp): v1 and v2 headers whole and in
// pieces, every refusal, and a randomized round trip (generated headers followed by
// payload, fed in random splits).
#include "http/proxy_protocol.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace veer::http {
namespace {

using Status = ProxyHeaderParser::Status;

std::string text_of(const core::IpAddress& a) {
  char out[core::IpAddress::kMaxText];
  return std::string(out, a.format(out));
}

struct Fed {
  Status status = Status::need_more;
  std::size_t consumed = 0;  // bytes of the input taken, over all feeds
  ProxyHeaderParser parser;
};

// Feeds `input` in pieces of `step` bytes (0 = at once), stopping at done or error.
Fed feed(std::string_view input, std::size_t step = 0) {
  Fed fed;
  if (step == 0) step = input.size() + 1;
  for (std::size_t at = 0; at < input.size(); at += step) {
    const auto r = fed.parser.feed(input.substr(at, step));
    fed.consumed += r.consumed;
    fed.status = r.status;
    if (r.status != Status::need_more) break;
  }
  return fed;
}

std::string be16(unsigned v) {
  return {static_cast<char>(v >> 8), static_cast<char>(v & 0xff)};
}

// A v2 header: command byte (0x21 = PROXY), family byte, and the payload.
std::string v2(std::uint8_t ver_cmd, std::uint8_t family, const std::string& payload) {
  return std::string(kProxyV2Signature) + static_cast<char>(ver_cmd) + static_cast<char>(family) +
         be16(static_cast<unsigned>(payload.size())) + payload;
}

std::string v4_bytes(std::uint8_t a, std::uint8_t b, std::uint8_t c, std::uint8_t d) {
  return {static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d)};
}

std::string tlv(std::uint8_t type, const std::string& value) {
  return static_cast<char>(type) + be16(static_cast<unsigned>(value.size())) + value;
}

const std::string kTcp4Payload =
    v4_bytes(192, 0, 2, 1) + v4_bytes(198, 51, 100, 2) + be16(56324) + be16(443);

TEST(ProxyV1, Tcp4) {
  const std::string header = "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n";
  for (std::size_t step : {0, 1, 2, 7}) {
    const Fed fed = feed(header + "GET / HTTP/1.1\r\n", step);
    ASSERT_EQ(fed.status, Status::done) << step << " " << fed.parser.error();
    EXPECT_EQ(fed.consumed, header.size()) << "the request's bytes are left";
    EXPECT_EQ(fed.parser.header_length(), header.size());
    const ProxyHeader& h = fed.parser.header();
    EXPECT_TRUE(h.has_address);
    EXPECT_EQ(h.version, 1);
    EXPECT_EQ(text_of(h.source), "192.0.2.1");
    EXPECT_EQ(text_of(h.destination), "198.51.100.2");
    EXPECT_EQ(h.source_port, 56324);
    EXPECT_EQ(h.destination_port, 443);
  }
}

TEST(ProxyV1, Tcp6AtTheLongestLength) {
  const std::string full = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
  const std::string header = "PROXY TCP6 " + full + " " + full + " 65535 65535\r\n";
  ASSERT_EQ(header.size(), 104u);
  // The spec's longest line is UNKNOWN with the same fields: exactly the limit.
  const std::string unknown = "PROXY UNKNOWN " + full + " " + full + " 65535 65535\r\n";
  ASSERT_EQ(unknown.size(), ProxyHeaderParser::kMaxV1Length);
  EXPECT_EQ(feed(unknown, 1).status, Status::done);
  EXPECT_EQ(feed("PROXY UNKNOWN " + full + " " + full + " 65535 655350\r\n", 1).status,
            Status::error);
  const Fed fed = feed(header, 1);
  ASSERT_EQ(fed.status, Status::done) << fed.parser.error();
  EXPECT_EQ(text_of(fed.parser.header().source), "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
  EXPECT_EQ(fed.parser.header().source_port, 65535);
  const Fed short6 = feed("PROXY TCP6 2001:db8::1 ::1 0 8443\r\n");
  ASSERT_EQ(short6.status, Status::done) << short6.parser.error();
  EXPECT_EQ(text_of(short6.parser.header().source), "2001:db8::1");
  EXPECT_EQ(short6.parser.header().source_port, 0);
}

TEST(ProxyV1, UnknownMeansThePeer) {
  for (const char* header :
       {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN ffff:f::f ffff:f::f 65535 65535\r\n"}) {
    const Fed fed = feed(header);
    ASSERT_EQ(fed.status, Status::done) << header;
    EXPECT_FALSE(fed.parser.header().has_address);
    EXPECT_EQ(fed.consumed, std::string_view(header).size());
  }
}

TEST(ProxyV1, MalformedLinesAreRefused) {
  const std::vector<std::string> bad = {
      "proxy TCP4 192.0.2.1 198.51.100.2 1 2\r\n",
      "PROXY TCP4 192.0.2.1 198.51.100.2 1\r\n",
      "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 3\r\n",
      "PROXY TCP4  192.0.2.1 198.51.100.2 1 2\r\n",
      "PROXY TCP4 192.0.2.1 198.51.100.2 1 2 \r\n",
      "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n",
      "PROXY TCP4 192.0.2.1 198.51.100.2 1 2\rX",
      "PROXY TCP4 192.0.2.1 198.51.100.2 080 2\r\n",
      "PROXY TCP4 192.0.2.1 198.51.100.2 65536 2\r\n",
      "PROXY TCP4 192.0.2.1 198.51.100.2 -1 2\r\n",
      "PROXY TCP4 192.0.2.1 198.51.100.2 +1 2\r\n",
      "PROXY TCP4 2001:db8::1 198.51.100.2 1 2\r\n",
      "PROXY TCP6 192.0.2.1 2001:db8::2 1 2\r\n",
      "PROXY TCP6 [2001:db8::1] [2001:db8::2] 1 2\r\n",
      "PROXY TCP4 192.0.2.256 198.51.100.2 1 2\r\n",
      "PROXY TCP4 example.com 198.51.100.2 1 2\r\n",
      "PROXY UDP4 192.0.2.1 198.51.100.2 1 2\r\n",
      "PROXY \r\n",
      "PROXY TCP4 192.0.2.1\t198.51.100.2 1 2\r\n",
      "PROXYTCP4 192.0.2.1 198.51.100.2 1 2\r\n",
      "PROXY UNKNOWN" + std::string(100, 'x') + "\r\n",  // 115 bytes: too long
      "GET / HTTP/1.1\r\n",
      "\x16\x03\x01\x02\x00",  // a TLS ClientHello
      std::string("PROXY TCP4 192.0.2.1 198.51.100.2 1 2\0\r\n", 40),
  };
  for (const std::string& input : bad) {
    for (std::size_t step : {0, 1}) {
      const Fed fed = feed(input, step);
      EXPECT_EQ(fed.status, Status::error) << step << ": " << input;
      EXPECT_FALSE(fed.parser.error().empty());
    }
  }
}

TEST(ProxyV1, NoCrlfWithin107BytesIsAnErrorAtOnce) {
  const std::string long_line = "PROXY UNKNOWN " + std::string(200, 'a');
  const Fed fed = feed(long_line, 1);
  EXPECT_EQ(fed.status, Status::error);
  EXPECT_EQ(fed.consumed, ProxyHeaderParser::kMaxV1Length) << "no byte past the limit is read";
}

TEST(ProxyV1, GarbageIsRefusedAtTheFirstWrongByte) {
  EXPECT_EQ(feed("G", 1).status, Status::error);
  EXPECT_EQ(feed("PROXZ", 1).status, Status::error);
  EXPECT_EQ(feed("PROX", 1).status, Status::need_more);
}

TEST(ProxyV2, Tcp4WithTlvs) {
  const std::string payload = kTcp4Payload + tlv(0x01, "h2") + tlv(0x04, "") +
                              tlv(0x05, std::string(40, 'u')) + tlv(0xEA, "vpce-0123");
  const std::string header = v2(0x21, 0x11, payload);
  for (std::size_t step : {0, 1, 3, 16}) {
    const Fed fed = feed(header + "\x16\x03\x01", step);
    ASSERT_EQ(fed.status, Status::done) << step << " " << fed.parser.error();
    EXPECT_EQ(fed.consumed, header.size());
    const ProxyHeader& h = fed.parser.header();
    EXPECT_EQ(h.version, 2);
    EXPECT_TRUE(h.has_address);
    EXPECT_EQ(text_of(h.source), "192.0.2.1");
    EXPECT_EQ(text_of(h.destination), "198.51.100.2");
    EXPECT_EQ(h.source_port, 56324);
    EXPECT_EQ(h.destination_port, 443);
  }
}

TEST(ProxyV2, Tcp6) {
  std::string source(16, '\0'), destination(16, '\0');
  source[0] = 0x20, source[1] = 0x01, source[2] = 0x0d, source[3] = static_cast<char>(0xb8);
  source[15] = 1;
  destination[15] = 1;
  const std::string header = v2(0x21, 0x21, source + destination + be16(1234) + be16(8443));
  const Fed fed = feed(header, 1);
  ASSERT_EQ(fed.status, Status::done) << fed.parser.error();
  EXPECT_EQ(text_of(fed.parser.header().source), "2001:db8::1");
  EXPECT_EQ(text_of(fed.parser.header().destination), "::1");
  EXPECT_EQ(fed.parser.header().source_port, 1234);
  EXPECT_EQ(fed.parser.header().destination_port, 8443);
}

TEST(ProxyV2, LocalAndUnspecMeanThePeer) {
  for (const std::string& header :
       {v2(0x20, 0x00, ""), v2(0x20, 0x11, kTcp4Payload), v2(0x20, 0x31, std::string(216, 'x')),
        v2(0x21, 0x00, ""), v2(0x21, 0x00, "anything")}) {
    const Fed fed = feed(header + "rest", 1);
    ASSERT_EQ(fed.status, Status::done) << fed.parser.error();
    EXPECT_FALSE(fed.parser.header().has_address);
    EXPECT_EQ(fed.consumed, header.size());
  }
}

TEST(ProxyV2, MalformedHeadersAreRefused) {
  std::string bad_signature = v2(0x21, 0x11, kTcp4Payload);
  bad_signature[6] = 'X';
  std::string too_long = v2(0x21, 0x11, kTcp4Payload);
  too_long[14] = static_cast<char>(0xff);  // length 65k+
  const std::vector<std::string> bad = {
      bad_signature,
      v2(0x11, 0x11, kTcp4Payload),                                 // version 1 in the v2 form
      v2(0x31, 0x11, kTcp4Payload),                                 // version 3
      v2(0x22, 0x11, kTcp4Payload),                                 // command 2
      v2(0x21, 0x12, kTcp4Payload),                                 // UDP over IPv4
      v2(0x21, 0x22, std::string(36, '\0')),                        // UDP over IPv6
      v2(0x21, 0x31, std::string(216, '/')),                        // UNIX stream
      v2(0x21, 0x41, kTcp4Payload),                                 // an unknown family
      v2(0x21, 0x11, kTcp4Payload.substr(0, 11)),                   // too short for TCP4
      v2(0x21, 0x21, kTcp4Payload),                                 // too short for TCP6
      v2(0x21, 0x11, kTcp4Payload + "\x01\x00"),                    // a TLV header cut short
      v2(0x21, 0x11, kTcp4Payload + tlv(0x01, "h2").substr(0, 4)),  // a TLV value cut short
      v2(0x21, 0x11, kTcp4Payload + std::string("\x01\x00\x09", 3) + "abc"),  // length past end
      v2(0x21, 0x11, kTcp4Payload + std::string(ProxyHeaderParser::kMaxV2Payload, '\0')),
      too_long,
  };
  for (std::size_t i = 0; i < bad.size(); ++i) {
    for (std::size_t step : {0, 1}) {
      const Fed fed = feed(bad[i] + "more bytes after it", step);
      EXPECT_EQ(fed.status, Status::error) << "case " << i << " step " << step;
      EXPECT_FALSE(fed.parser.error().empty());
    }
  }
}

TEST(ProxyV2, PartialHeadersNeedMore) {
  const std::string header = v2(0x21, 0x11, kTcp4Payload + tlv(0x02, "authority"));
  for (std::size_t cut = 0; cut < header.size(); ++cut) {
    const Fed fed = feed(header.substr(0, cut), 1);
    EXPECT_EQ(fed.status, Status::need_more) << cut;
    EXPECT_EQ(fed.consumed, cut);
  }
}

TEST(ProxyHeader, FeedsAfterTheEndTakeNothing) {
  ProxyHeaderParser parser;
  EXPECT_EQ(parser.feed("PROXY UNKNOWN\r\nGET").consumed, 15u);
  const auto again = parser.feed("more");
  EXPECT_EQ(again.status, Status::done);
  EXPECT_EQ(again.consumed, 0u);
  ProxyHeaderParser broken;
  EXPECT_EQ(broken.feed("X").status, Status::error);
  EXPECT_EQ(broken.feed("PROXY UNKNOWN\r\n").status, Status::error);
}

// Random valid headers of both versions, followed by payload, fed in random pieces:
// each parses to what was generated and takes exactly its own bytes.
TEST(ProxyHeader, RandomRoundTrip) {
  std::mt19937 rng(7239);
  const auto byte = [&] { return static_cast<std::uint8_t>(rng()); };
  for (int round = 0; round < 5000; ++round) {
    const bool v6 = rng() % 2 == 0;
    std::uint8_t source[16], destination[16];
    for (int i = 0; i < 16; ++i)
      source[i] = byte(), destination[i] = byte();
    std::uint8_t source4[4] = {source[0], source[1], source[2], source[3]};
    std::uint8_t destination4[4] = {destination[0], destination[1], destination[2], destination[3]};
    const core::IpAddress src =
        v6 ? core::IpAddress::from_v6(source) : core::IpAddress::from_v4(source4);
    const core::IpAddress dst =
        v6 ? core::IpAddress::from_v6(destination) : core::IpAddress::from_v4(destination4);
    const std::uint16_t sport = static_cast<std::uint16_t>(rng()),
                        dport = static_cast<std::uint16_t>(rng());
    std::string header;
    if (rng() % 2 == 0) {
      header = std::string("PROXY ") + (v6 ? "TCP6 " : "TCP4 ") + text_of(src) + " " +
               text_of(dst) + " " + std::to_string(sport) + " " + std::to_string(dport) + "\r\n";
    } else {
      std::string payload;
      if (v6) {
        payload.append(reinterpret_cast<const char*>(source), 16);
        payload.append(reinterpret_cast<const char*>(destination), 16);
      } else {
        payload.append(reinterpret_cast<const char*>(source4), 4);
        payload.append(reinterpret_cast<const char*>(destination4), 4);
      }
      payload += be16(sport) + be16(dport);
      for (int t = static_cast<int>(rng() % 4); t > 0; --t) {
        std::string value(rng() % 60, '\0');
        for (char& c : value)
          c = static_cast<char>(byte());
        payload += tlv(byte(), value);
      }
      header = v2(0x21, v6 ? 0x21 : 0x11, payload);
    }
    std::string payload_after(rng() % 64, '\0');
    for (char& c : payload_after)
      c = static_cast<char>(byte());
    const std::string input = header + payload_after;
    ProxyHeaderParser parser;
    std::size_t at = 0, consumed = 0;
    ProxyHeaderParser::Result r;
    while (at < input.size()) {
      const std::size_t piece = 1 + rng() % 24;
      r = parser.feed(std::string_view(input).substr(at, piece));
      consumed += r.consumed;
      at += piece;
      if (r.status != Status::need_more) break;
    }
    ASSERT_EQ(r.status, Status::done) << parser.error() << " round " << round;
    ASSERT_EQ(consumed, header.size());
    ASSERT_EQ(parser.header_length(), header.size());
    const ProxyHeader& h = parser.header();
    ASSERT_TRUE(h.has_address);
    ASSERT_EQ(h.source, src) << text_of(h.source) << " vs " << text_of(src);
    ASSERT_EQ(h.destination, dst);
    ASSERT_EQ(h.source_port, sport);
    ASSERT_EQ(h.destination_port, dport);
  }
}

}  // namespace
}  // namespace veer::http
