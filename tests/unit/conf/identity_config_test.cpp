// Loading the client identity keys of a listener (trusted_proxies, proxy_protocol) and
// timeouts.proxy_protocol (conf/load_listeners.cpp, conf/load.cpp): values, defaults and
// each refusal with its position and message.
#include <gtest/gtest.h>

#include <string>

#include "conf/load.hpp"

namespace veer::conf {
namespace {

using namespace std::chrono_literals;

// A complete file whose listener gets `keys` from line 3 on.
std::string file_with(const std::string& keys, const std::string& more = "") {
  return "[listeners.public]\n"
         "address = \"127.0.0.1:8080\"\n" +
         keys +
         "\nroutes = [ { target = \"rpc\" } ]\n"
         "[pools.rpc]\n"
         "backends = [\"127.0.0.1:19001\"]\n" +
         more;
}

std::string errors_of(const LoadResult& r) {
  std::string all;
  for (const auto& e : r.errors)
    all += e.to_string() + "\n";
  return all;
}

std::string only_error(const std::string& text) {
  const LoadResult r = load_config_string(text, "test.toml");
  if (r.errors.size() != 1) return "expected one error, got:\n" + errors_of(r);
  return r.errors[0].to_string();
}

std::string prefix_text(const core::IpPrefix& p) {
  char out[core::IpAddress::kMaxText];
  return std::string(out, p.address.format(out)) + "/" + std::to_string(p.bits);
}

TEST(IdentityConfig, DefaultsTrustNobody) {
  const LoadResult r = load_config_string(file_with(""), "test.toml");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  EXPECT_TRUE(r.config->listeners[0].trusted_proxies.empty());
  EXPECT_FALSE(r.config->listeners[0].proxy_protocol);
  EXPECT_EQ(r.config->timeouts.proxy_protocol, 5s);
}

TEST(IdentityConfig, ReadsPrefixesAndAddresses) {
  const LoadResult r = load_config_string(
      file_with("trusted_proxies = [\"10.0.0.0/8\", \"::1\", \"192.0.2.7\", \"2001:db8::/32\"]\n"
                "proxy_protocol = true",
                "[timeouts]\nproxy_protocol = \"250ms\"\n"),
      "test.toml");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const ListenerConfig& l = r.config->listeners[0];
  ASSERT_EQ(l.trusted_proxies.size(), 4u);
  EXPECT_EQ(prefix_text(l.trusted_proxies[0]), "10.0.0.0/8");
  EXPECT_EQ(prefix_text(l.trusted_proxies[1]), "::1/128");
  EXPECT_EQ(prefix_text(l.trusted_proxies[2]), "192.0.2.7/32");
  EXPECT_EQ(prefix_text(l.trusted_proxies[3]), "2001:db8::/32");
  EXPECT_TRUE(l.proxy_protocol);
  EXPECT_EQ(r.config->timeouts.proxy_protocol, 250ms);
}

TEST(IdentityConfig, BadEntriesNameTheKeyAndPosition) {
  EXPECT_EQ(only_error(file_with("trusted_proxies = [\"10.0.0.0/8\", \"10.0.0.1/8\"]")),
            "test.toml:3:34: listeners.public.trusted_proxies[1]: \"10.0.0.1/8\": address has "
            "bits set after the prefix length");
  EXPECT_EQ(only_error(file_with("trusted_proxies = [\"10.0.0.0/33\"]")),
            "test.toml:3:20: listeners.public.trusted_proxies[0]: \"10.0.0.0/33\": prefix "
            "length must be 0 to 32");
  EXPECT_EQ(only_error(file_with("trusted_proxies = [\"cdn.example\"]")),
            "test.toml:3:20: listeners.public.trusted_proxies[0]: \"cdn.example\": not an IPv4 "
            "or IPv6 address");
  EXPECT_EQ(only_error(file_with("trusted_proxies = [10]")),
            "test.toml:3:20: listeners.public.trusted_proxies[0]: expected a string such as "
            "\"10.0.0.0/8\"");
  EXPECT_EQ(only_error(file_with("trusted_proxies = \"10.0.0.0/8\"")),
            "test.toml:3:19: listeners.public.trusted_proxies: expected an array of addresses "
            "or prefixes, [\"10.0.0.0/8\", \"::1\"]");
  EXPECT_EQ(only_error(file_with("proxy_protocol = \"yes\"")),
            "test.toml:3:18: listeners.public.proxy_protocol: expected true or false");
  EXPECT_EQ(only_error(file_with("", "[timeouts]\nproxy_protocol = \"soon\"\n")).substr(0, 41),
            "test.toml:8:18: timeouts.proxy_protocol: ");
}

TEST(IdentityConfig, ProxyProtocolNeedsTrustedProxies) {
  EXPECT_EQ(only_error(file_with("proxy_protocol = true")),
            "test.toml:3:18: listeners.public.proxy_protocol: needs trusted_proxies (the load "
            "balancers that send the header); with none every connection would be refused");
  const LoadResult off = load_config_string(file_with("proxy_protocol = false"), "test.toml");
  EXPECT_TRUE(off.ok()) << errors_of(off);
}

}  // namespace
}  // namespace veer::conf
