// The client behind trusted proxies (http/forwarded.hpp): element syntax of
// X-Forwarded-For and Forwarded, the right-to-left walk, the hop cap, and a model check
// of the walk over random chains.
#include "http/forwarded.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "http/http_parser.hpp"

namespace veer::http {
namespace {

core::IpAddress ip(std::string_view text) {
  const auto a = core::IpAddress::parse(text);
  EXPECT_TRUE(a) << text;
  return a.value_or(core::IpAddress{});
}

std::string text_of(const core::IpAddress& a) {
  char out[core::IpAddress::kMaxText];
  return std::string(out, a.format(out));
}

std::vector<core::IpPrefix> prefixes(const std::vector<std::string>& texts) {
  std::vector<core::IpPrefix> out;
  for (const std::string& t : texts) {
    std::string_view why;
    const auto p = core::IpPrefix::parse(t, &why);
    EXPECT_TRUE(p) << t << ": " << why;
    if (p) out.push_back(*p);
  }
  return out;
}

// Header fields of a request made of `lines` ("Name: value").
class Fields {
 public:
  explicit Fields(const std::vector<std::string>& lines) {
    text_ = "GET / HTTP/1.1\r\nHost: a\r\n";
    for (const std::string& line : lines)
      text_ += line + "\r\n";
    text_ += "\r\n";
    std::size_t scan = 0;
    const std::size_t end = find_head_end(text_, scan);
    const ParseError err = parse_request_head(std::string_view(text_).substr(0, end), *head_);
    EXPECT_FALSE(err) << err.reason << "\n" << text_;
  }
  std::span<const HeaderField> get() const { return head_->headers(); }

 private:
  std::string text_;
  std::unique_ptr<RequestHead> head_ = std::make_unique<RequestHead>();
};

// The client of a request with `lines` from `peer`, trusting `trusted`, as text.
std::string client_of(const std::vector<std::string>& lines, std::string_view peer,
                      const std::vector<std::string>& trusted) {
  const Fields fields(lines);
  const auto list = prefixes(trusted);
  return text_of(derive_client(fields.get(), ip(peer), list).address);
}

TEST(ForwardedFor, Elements) {
  const auto parse = [](std::string_view e) {
    const auto a = parse_forwarded_for_element(e);
    return a ? text_of(*a) : std::string("-");
  };
  EXPECT_EQ(parse("192.0.2.1"), "192.0.2.1");
  EXPECT_EQ(parse("192.0.2.1:4711"), "192.0.2.1");
  EXPECT_EQ(parse("2001:db8::1"), "2001:db8::1");
  EXPECT_EQ(parse("[2001:db8::1]"), "2001:db8::1");
  EXPECT_EQ(parse("[2001:db8::1]:443"), "2001:db8::1");
  EXPECT_EQ(parse("::ffff:192.0.2.9"), "192.0.2.9") << "IPv4-mapped reads as IPv4";
  for (std::string_view bad :
       {"", "unknown", "_hidden", "example.com", "192.0.2", "192.0.2.256",
        "192.0.2.1:", "192.0.2.1:65536", "192.0.2.1:x", "192.0.2.1:123456", "[192.0.2.1]",
        "[2001:db8::1", "[2001:db8::1]443", "[2001:db8::1]:", "fe80::1%eth0", "1.2.3.4 5.6.7.8",
        "01.2.3.4", "\"192.0.2.1\"", "2001:db8::g"}) {
    EXPECT_EQ(parse(bad), "-") << bad;
  }
}

TEST(Forwarded, Nodes) {
  const auto parse = [](std::string_view n) {
    const auto a = parse_forwarded_node(n);
    return a ? text_of(*a) : std::string("-");
  };
  EXPECT_EQ(parse("192.0.2.43"), "192.0.2.43");
  EXPECT_EQ(parse("192.0.2.43:80"), "192.0.2.43");
  EXPECT_EQ(parse("192.0.2.43:_port"), "192.0.2.43") << "obfuscated port";
  EXPECT_EQ(parse("[2001:db8:cafe::17]"), "2001:db8:cafe::17");
  EXPECT_EQ(parse("[2001:db8:cafe::17]:4711"), "2001:db8:cafe::17");
  for (std::string_view bad : {"unknown", "_hidden", "_SEVKISEK", "2001:db8::1", "[192.0.2.1]",
                               "192.0.2.43:", "192.0.2.43:_", "192.0.2.43:a_b", "", "[::1]x"}) {
    EXPECT_EQ(parse(bad), "-") << bad;
  }
}

const std::vector<std::string> kCdn = {"10.0.0.0/8", "2001:db8:ffff::/48"};

TEST(DeriveClient, AnUntrustedPeerIsTheClientWhateverItSends) {
  EXPECT_EQ(client_of({"X-Forwarded-For: 203.0.113.9"}, "198.51.100.7", kCdn), "198.51.100.7");
  EXPECT_EQ(client_of({"Forwarded: for=203.0.113.9"}, "198.51.100.7", kCdn), "198.51.100.7");
  EXPECT_EQ(client_of({"X-Forwarded-For: 203.0.113.9"}, "10.1.1.1", {}), "10.1.1.1")
      << "no trusted proxies: nobody is believed";
}

TEST(DeriveClient, RightMostUntrustedHopOfXForwardedFor) {
  // The client forged the first entry; the CDN edge (10.9.9.9) appended the real one.
  EXPECT_EQ(client_of({"X-Forwarded-For: 1.1.1.1, 203.0.113.9, 10.9.9.9"}, "10.0.0.2", kCdn),
            "203.0.113.9");
  EXPECT_EQ(client_of({"X-Forwarded-For: 203.0.113.9"}, "10.0.0.2", kCdn), "203.0.113.9");
  // Several fields are one list, in order.
  EXPECT_EQ(client_of({"X-Forwarded-For: 1.1.1.1", "X-Forwarded-For: 203.0.113.9, 10.2.2.2",
                       "X-Forwarded-For: 10.3.3.3"},
                      "10.0.0.2", kCdn),
            "203.0.113.9");
  // Ports, brackets, spaces, empty elements.
  EXPECT_EQ(client_of({"X-Forwarded-For: 203.0.113.9:5555 ,, [2001:db8:ffff::5]:443 ,"}, "10.0.0.2",
                      kCdn),
            "203.0.113.9");
  EXPECT_EQ(client_of({"X-Forwarded-For: [2001:db8::77]:1234"}, "10.0.0.2", kCdn), "2001:db8::77");
  EXPECT_EQ(client_of({"x-forwarded-for: 2001:db8::77"}, "10.0.0.2", kCdn), "2001:db8::77");
}

TEST(DeriveClient, AllTrustedGivesTheLeftMost) {
  EXPECT_EQ(client_of({"X-Forwarded-For: 10.1.1.1, 10.2.2.2"}, "10.0.0.2", kCdn), "10.1.1.1");
}

TEST(DeriveClient, AnInvalidHopStopsAtTheTrustedProxyThatReportedIt) {
  EXPECT_EQ(client_of({"X-Forwarded-For: 203.0.113.9, unknown, 10.2.2.2"}, "10.0.0.2", kCdn),
            "10.2.2.2");
  EXPECT_EQ(client_of({"X-Forwarded-For: garbage"}, "10.0.0.2", kCdn), "10.0.0.2");
  EXPECT_EQ(client_of({"X-Forwarded-For: 203.0.113.9, 10.1.1.1:99999"}, "10.0.0.2", kCdn),
            "10.0.0.2");
  // An untrusted hop is the answer even when garbage lies to its left.
  EXPECT_EQ(client_of({"X-Forwarded-For: <script>, 203.0.113.9"}, "10.0.0.2", kCdn), "203.0.113.9");
}

TEST(DeriveClient, EmptyOrMissingHeadersLeaveThePeer) {
  EXPECT_EQ(client_of({}, "10.0.0.2", kCdn), "10.0.0.2");
  EXPECT_EQ(client_of({"X-Forwarded-For:"}, "10.0.0.2", kCdn), "10.0.0.2");
  EXPECT_EQ(client_of({"X-Forwarded-For: , ,"}, "10.0.0.2", kCdn), "10.0.0.2");
}

TEST(DeriveClient, ForwardedElementsAndQuoting) {
  EXPECT_EQ(client_of({"Forwarded: for=203.0.113.9"}, "10.0.0.2", kCdn), "203.0.113.9");
  EXPECT_EQ(client_of({"Forwarded: for=\"[2001:db8::1]:4711\";proto=https, for=10.5.5.5"},
                      "10.0.0.2", kCdn),
            "2001:db8::1");
  EXPECT_EQ(
      client_of({"Forwarded: For=\"203.0.113.9:80\"; Proto=https; By=10.0.0.2"}, "10.0.0.2", kCdn),
      "203.0.113.9")
      << "names are case-insensitive, spaces around ';' tolerated";
  // A quoted comma does not split the element; escapes are undone.
  EXPECT_EQ(
      client_of({"Forwarded: for=203.0.113.1, for=198.51.100.2;ext=\"a,b\""}, "10.0.0.2", kCdn),
      "198.51.100.2");
  EXPECT_EQ(client_of({"Forwarded: for=\"\\[2001:db8::5\\]\""}, "10.0.0.2", kCdn), "2001:db8::5");
  // Obfuscated or unknown nodes end the walk at the proxy that wrote them.
  EXPECT_EQ(client_of({"Forwarded: for=203.0.113.1, for=_hidden, for=10.3.3.3"}, "10.0.0.2", kCdn),
            "10.3.3.3");
  EXPECT_EQ(client_of({"Forwarded: for=unknown"}, "10.0.0.2", kCdn), "10.0.0.2");
  // Broken elements: no for, two for, an unclosed quote, a pair without '='.
  for (const char* broken : {"Forwarded: proto=https", "Forwarded: for=203.0.113.1;for=203.0.113.2",
                             "Forwarded: for=\"203.0.113.1", "Forwarded: for=203.0.113.1;secret",
                             "Forwarded: for=\"203.0.113.1\"x", "Forwarded: for=2001:db8::1"}) {
    EXPECT_EQ(client_of({broken}, "10.0.0.2", kCdn), "10.0.0.2") << broken;
  }
  // Several fields are one list.
  EXPECT_EQ(client_of({"Forwarded: for=203.0.113.9", "Forwarded: for=10.1.1.1"}, "10.0.0.2", kCdn),
            "203.0.113.9");
}

TEST(DeriveClient, XForwardedForWinsOverForwarded) {
  // A CDN that maintains only X-Forwarded-For passes a client's Forwarded through.
  EXPECT_EQ(client_of({"Forwarded: for=1.1.1.1", "X-Forwarded-For: 203.0.113.9"}, "10.0.0.2", kCdn),
            "203.0.113.9");
}

TEST(DeriveClient, TheWalkIsCappedAtThirtyTwoHops) {
  std::string chain = "203.0.113.9";
  for (int i = 0; i < 40; ++i)
    chain += ", 10.0.0." + std::to_string(i + 1);
  // The peer is trusted, then 32 trusted hops are examined: the walk stops at the 32nd
  // from the right (10.0.0.9), never reaching the client.
  EXPECT_EQ(client_of({"X-Forwarded-For: " + chain}, "10.0.0.200", kCdn), "10.0.0.9");
  std::string forwarded = "for=203.0.113.9";
  for (int i = 0; i < 40; ++i)
    forwarded += ", for=10.0.0." + std::to_string(i + 1);
  EXPECT_EQ(client_of({"Forwarded: " + forwarded}, "10.0.0.200", kCdn), "10.0.0.9");
  // 31 trusted hops and the client fit.
  std::string fits = "203.0.113.9";
  for (int i = 0; i < 31; ++i)
    fits += ", 10.0.0." + std::to_string(i + 1);
  EXPECT_EQ(client_of({"X-Forwarded-For: " + fits}, "10.0.0.200", kCdn), "203.0.113.9");
}

// Model check: random chains of trusted, untrusted and invalid hops, written in either
// header with random syntax, against the rule stated in forwarded.hpp.
TEST(DeriveClient, MatchesTheWalkRuleOnRandomChains) {
  std::mt19937 rng(20240614);
  const auto trusted = prefixes({"10.0.0.0/8", "2001:db8:ffff::/48"});
  const auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<unsigned>(n)); };
  for (int round = 0; round < 3000; ++round) {
    struct Hop {
      std::string text;  // as the model's address text; "" = invalid
      std::string xff;
      std::string fwd;
    };
    std::vector<Hop> hops(static_cast<std::size_t>(pick(40)));
    for (Hop& h : hops) {
      const int kind = pick(10);
      const int n = pick(250) + 1;
      if (kind < 4) {
        h.text = "10.0." + std::to_string(pick(250)) + "." + std::to_string(n);
        h.xff = pick(2) ? h.text : h.text + ":" + std::to_string(pick(65536));
        h.fwd = pick(2) ? "for=" + h.text : "for=\"" + h.text + ":" + std::to_string(n) + "\"";
      } else if (kind < 7) {
        h.text = "203.0.113." + std::to_string(n);
        h.xff = h.text;
        h.fwd = "for=" + h.text + ";proto=https";
      } else if (kind < 9) {
        h.text = "2001:db8:" + std::string(pick(2) ? "ffff" : "1") + "::" + std::to_string(n);
        h.xff = pick(2) ? h.text : "[" + h.text + "]:" + std::to_string(n);
        h.fwd = "for=\"[" + h.text + "]\"";
      } else {
        h.xff = pick(2) ? "unknown" : "not-an-ip";
        h.fwd = pick(2) ? "for=unknown" : "for=_obf";
      }
    }
    const std::string peer = pick(5) ? "10.255.0.1" : "198.51.100.1";
    // The model: right to left from a trusted peer.
    std::string expected = peer;
    if (peer.starts_with("10.")) {
      std::size_t examined = 0;
      for (auto it = hops.rbegin(); it != hops.rend() && examined < kMaxForwardedHops;
           ++it, ++examined) {
        if (it->text.empty()) break;
        expected = text_of(ip(it->text));
        if (!is_trusted(trusted, ip(it->text))) break;
      }
    }
    const bool use_xff = pick(2) != 0;
    std::vector<std::string> lines;
    std::string current;
    for (const Hop& h : hops) {
      if (!current.empty()) current += pick(2) ? ", " : ",";
      current += use_xff ? h.xff : h.fwd;
      if (pick(6) == 0) {  // split into several fields
        lines.push_back((use_xff ? "X-Forwarded-For: " : "Forwarded: ") + current);
        current.clear();
      }
    }
    if (!current.empty() || lines.empty())
      lines.push_back((use_xff ? "X-Forwarded-For: " : "Forwarded: ") + current);
    const Fields fields(lines);
    const ForwardedClient got = derive_client(fields.get(), ip(peer), trusted);
    ASSERT_EQ(text_of(got.address), expected) << "peer " << peer << "\n" << lines.back();
  }
}

}  // namespace
}  // namespace veer::http
