// "host:port" as the file and the admin API give it, and its resolution
// (conf/address.hpp): syntax only in parse_host_port, getaddrinfo in resolve.
#include "conf/address.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>

#include <optional>
#include <string>

namespace veer::conf {
namespace {

// The parse of `text`; a failure names the text and the reason.
HostPort parsed(const std::string& text) {
  std::string why;
  std::optional<HostPort> hp = parse_host_port(text, &why);
  EXPECT_TRUE(hp) << text << ": " << why;
  return hp.value_or(HostPort{});
}

// Why `text` is refused ("" when it is not).
std::string refusal(const std::string& text) {
  std::string why;
  if (parse_host_port(text, &why)) return "";
  return why;
}

TEST(ParseHostPort, SplitsHostAndPort) {
  HostPort hp = parsed("127.0.0.1:8545");
  EXPECT_EQ(hp.host, "127.0.0.1");
  EXPECT_EQ(hp.port, 8545u);
  EXPECT_FALSE(hp.host_is_ipv6_literal);
  hp = parsed("rpc-1.internal:80");
  EXPECT_EQ(hp.host, "rpc-1.internal");
  EXPECT_EQ(hp.port, 80u);
  EXPECT_FALSE(hp.host_is_ipv6_literal);
  // The whole range 0..65535; the syntax allows 0 (a listener's "any port").
  EXPECT_EQ(parsed("localhost:0").port, 0u);
  EXPECT_EQ(parsed("localhost:65535").port, 65535u);
  EXPECT_EQ(parsed("localhost:08080").port, 8080u) << "decimal, leading zeros and all";
}

TEST(ParseHostPort, Ipv6LiteralsComeInBracketsAndLoseThem) {
  HostPort hp = parsed("[::1]:8080");
  EXPECT_EQ(hp.host, "::1");
  EXPECT_EQ(hp.port, 8080u);
  EXPECT_TRUE(hp.host_is_ipv6_literal);
  hp = parsed("[2001:db8::ff00:42:8329]:443");
  EXPECT_EQ(hp.host, "2001:db8::ff00:42:8329");
  EXPECT_TRUE(hp.host_is_ipv6_literal);
  EXPECT_EQ(parsed("[::ffff:192.0.2.1]:1").host, "::ffff:192.0.2.1");

  EXPECT_EQ(refusal("::1:8080"), "IPv6 addresses need brackets, as in \"[::1]:8080\"");
  EXPECT_EQ(refusal("2001:db8::1:80"), "IPv6 addresses need brackets, as in \"[::1]:8080\"");
  EXPECT_EQ(refusal("[::1]"), "expected \"[ipv6]:port\"");
  EXPECT_EQ(refusal("[::1]8080"), "expected \"[ipv6]:port\"");
  EXPECT_EQ(refusal("[::1"), "expected \"[ipv6]:port\"");
  EXPECT_EQ(refusal("[::1]:"), "the port is not a number");
  for (const char* text :
       {"[127.0.0.1]:80", "[]:80", "[rpc.internal]:80", "[fe80::1%eth0]:80", "[::g]:80"}) {
    EXPECT_EQ(refusal(text), "not an IPv6 address inside the brackets") << text;
  }
}

TEST(ParseHostPort, APortIsADecimalNumberUpTo65535) {
  for (const char* text : {"localhost", "127.0.0.1", ""}) {
    EXPECT_EQ(refusal(text), "expected \"host:port\"") << text;
  }
  for (const char* text : {"localhost:", "localhost:abc", "localhost:80x", "localhost:x80",
                           "localhost:+80", "localhost:-1", "localhost: 80", "localhost:80 ",
                           "localhost:0x50", "localhost:8.5", "[::1]:http"}) {
    EXPECT_EQ(refusal(text), "the port is not a number") << text;
  }
  EXPECT_EQ(refusal("localhost:65536"), "port 65536 is out of range (0-65535)");
  EXPECT_EQ(refusal("[::1]:100000"), "port 100000 is out of range (0-65535)");
  // Past what an unsigned holds it is still a number, only a larger one.
  EXPECT_EQ(refusal("localhost:99999999999999999999"),
            "port 99999999999999999999 is out of range (0-65535)");
}

// Host names: letters, digits, '-' and '_' in labels of 1..63, at most 253 in all.
TEST(ParseHostPort, HostNamesAreCheckedLabelByLabel) {
  const std::string label63(63, 'a');
  EXPECT_EQ(parsed(label63 + ".example:1").host, label63 + ".example");
  EXPECT_EQ(refusal(label63 + "a.example:1"), "invalid host") << "a label of 64";
  std::string name253;
  while (name253.size() < 253)
    name253 += name253.empty() ? "a" : ".a";
  ASSERT_EQ(name253.size(), 253u);
  EXPECT_EQ(parsed(name253 + ":1").host, name253);
  EXPECT_EQ(refusal(name253 + "a:1"), "invalid host") << "254 characters";
  EXPECT_EQ(parsed("Backend_2.Example-Net:1").host, "Backend_2.Example-Net");
  for (const char* text :
       {":80", "a..b:80", ".a:80", "exa mple:80", "h\xc3\xa9llo:80", "a/b:80", "a@b:80", "a]:80"}) {
    EXPECT_EQ(refusal(text), "invalid host") << text;
  }
}

TEST(Resolve, NumericHostsGiveTheirFamilyPortAndText) {
  std::string why;
  const std::optional<SocketAddress> v4 = resolve(HostPort{"127.0.0.1", 8080, false}, &why);
  ASSERT_TRUE(v4) << why;
  EXPECT_EQ(v4->family(), AF_INET);
  EXPECT_EQ(v4->length, sizeof(sockaddr_in));
  EXPECT_EQ(v4->port(), 8080u);
  EXPECT_EQ(v4->to_string(), "127.0.0.1:8080");

  const std::optional<SocketAddress> v6 = resolve(parsed("[::1]:9"), &why);
  ASSERT_TRUE(v6) << why;
  EXPECT_EQ(v6->family(), AF_INET6);
  EXPECT_EQ(v6->length, sizeof(sockaddr_in6));
  EXPECT_EQ(v6->port(), 9u);
  EXPECT_EQ(v6->to_string(), "[::1]:9");
  EXPECT_EQ(resolve(parsed("[::ffff:127.0.0.1]:1"), &why)->to_string(), "[::ffff:127.0.0.1]:1");
  EXPECT_EQ(resolve(parsed("[0:0:0:0:0:0:0:1]:9"), &why)->to_string(), "[::1]:9")
      << "printed in the shortest form";
}

TEST(Resolve, EqualityIsTheSameAddressAndPort) {
  std::string why;
  const auto a = resolve(parsed("127.0.0.1:80"), &why);
  const auto b = resolve(parsed("127.0.0.1:80"), &why);
  const auto other_port = resolve(parsed("127.0.0.1:81"), &why);
  const auto other_host = resolve(parsed("127.0.0.2:80"), &why);
  const auto v6 = resolve(parsed("[::ffff:127.0.0.1]:80"), &why);
  ASSERT_TRUE(a && b && other_port && other_host && v6) << why;
  EXPECT_EQ(*a, *b);
  EXPECT_FALSE(*a == *other_port);
  EXPECT_FALSE(*a == *other_host);
  EXPECT_FALSE(*a == *v6) << "a mapped address is another family";
  const SocketAddress none;
  EXPECT_EQ(none.port(), 0u);
  EXPECT_EQ(none.to_string(), "?");
}

TEST(Resolve, NamesGoThroughTheResolverAndFailuresNameTheHost) {
  std::string why;
  // "localhost" is in every hosts file; which family comes first is the resolver's.
  const std::optional<SocketAddress> local = resolve(parsed("localhost:7"), &why);
  ASSERT_TRUE(local) << why;
  EXPECT_TRUE(local->family() == AF_INET || local->family() == AF_INET6);
  EXPECT_EQ(local->port(), 7u);
  // .invalid never resolves (RFC 6761 section 6.4).
  EXPECT_FALSE(resolve(parsed("no-such-host.invalid:80"), &why));
  EXPECT_EQ(why.rfind("cannot resolve host \"no-such-host.invalid\": ", 0), 0u) << why;
}

}  // namespace
}  // namespace veer::conf
