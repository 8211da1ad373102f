// Rate-limit policies in snapshots (runtime/limits_runtime.hpp): Limiters carried over
// reloads by name, scope and max_keys; keys from requests and from an operator's text;
// each route's policies, id and in-flight count.
#include "runtime/limits_runtime.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

#include "conf/load.hpp"
#include "http/http_parser.hpp"
#include "runtime/snapshot.hpp"

namespace veer::runtime {
namespace {

// Listener `public` with policies `listener_limits`, a route /api with `route_limits`,
// then `policies` ([limits.NAME] tables and anything else).
conf::Config load(const std::string& policies, const std::string& listener_limits = "[]",
                  const std::string& route_limits = "[]") {
  const conf::LoadResult r = conf::load_config_string(
      "[listeners.public]\naddress = \"127.0.0.1:8545\"\nlimits = " + listener_limits +
          "\n  [[listeners.public.routes]]\n  host = \"rpc.example\"\n  path_prefix = \"/api\"\n"
          "  target = \"rpc\"\n  max_in_flight = 7\n  limits = " +
          route_limits +
          "\n  [[listeners.public.routes]]\n  target = \"rpc\"\n[pools.rpc]\nbackends = "
          "[\"127.0.0.1:19001\"]\n" +
          policies,
      "t.toml");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors.front().to_string());
  return r.ok() ? *r.config : conf::Config{};
}

struct Parsed {
  std::string text;
  std::unique_ptr<http::RequestHead> head = std::make_unique<http::RequestHead>();
  explicit Parsed(std::string t) : text(std::move(t)) {
    std::size_t scan = 0;
    const std::size_t end = http::find_head_end(text, scan);
    EXPECT_FALSE(http::parse_request_head(std::string_view(text).substr(0, end), *head));
  }
};

core::IpAddress ip(const char* text) {
  return *core::IpAddress::parse(text);
}

const std::string kTwo = R"([limits.a]
rate = "10/s"
[limits.b]
rate = "5/m"
burst = 3
max_keys = 100
)";

TEST(LimiterSet, KeepsALimiterWhileNameScopeAndMaxKeysStay) {
  const conf::Config first = load(kTwo, "[\"a\", \"b\"]");
  const LimiterSet one = LimiterSet::build(first, nullptr, {});
  ASSERT_NE(one.find("a"), nullptr);
  ASSERT_NE(one.find("b"), nullptr);
  EXPECT_EQ(one.find("c"), nullptr);
  EXPECT_NE(one.find("a"), one.find("b"));
  EXPECT_EQ(one.find("b")->stats(0).capacity >= 100, true);

  // Rate and burst changed, max_keys of b changed, a new policy c.
  const conf::Config second = load(R"([limits.a]
rate = "99/s"
burst = 9
[limits.b]
rate = "5/m"
max_keys = 200
[limits.c]
rate = "1/s"
)",
                                   "[\"a\", \"b\", \"c\"]");
  const LimiterSet two = LimiterSet::build(second, &one, {});
  EXPECT_EQ(two.find("a"), one.find("a")) << "rate and burst changes keep the keys' state";
  EXPECT_NE(two.find("b"), one.find("b")) << "a new table size is a new table";
  EXPECT_NE(two.find("c"), nullptr);
  const LimiterSet three = LimiterSet::build(first, &two, {});
  EXPECT_EQ(three.find("a"), one.find("a"));
  EXPECT_EQ(three.find("c"), nullptr);
}

TEST(LimiterSet, ClusterScopeComesFromTheFactoryOnly) {
  const std::string cluster =
      "[cluster]\nredis = \"127.0.0.1:6379\"\n[limits.shared]\nrate = "
      "\"100/s\"\nscope = \"cluster\"\n";
  const conf::Config config = load(cluster, "[\"shared\"]");
  EXPECT_THROW(LimiterSet::build(config, nullptr, {}), std::logic_error);
  int made = 0;
  const auto local =
      LimiterSet::build(load("[limits.shared]\nrate = \"100/s\"\n", "[\"shared\"]"), nullptr, {});
  const ClusterLimiterFactory factory = [&](const conf::RateLimitPolicyConfig& policy,
                                            const conf::ClusterConfig& c) {
    ++made;
    EXPECT_EQ(policy.name, "shared");
    EXPECT_TRUE(c.enabled);
    return local.find("shared");
  };
  const LimiterSet one = LimiterSet::build(config, nullptr, factory);
  EXPECT_EQ(one.find("shared"), local.find("shared"));
  const LimiterSet again = LimiterSet::build(config, &one, factory);
  EXPECT_EQ(made, 1) << "an unchanged cluster policy keeps its Limiter";
  conf::Config moved = config;
  moved.cluster.redis = "127.0.0.1:6380";
  LimiterSet::build(moved, &again, factory);
  EXPECT_EQ(made, 2) << "another Redis is another engine";
  EXPECT_THROW(LimiterSet::build(config, nullptr,
                                 [](const auto&, const auto&) -> std::shared_ptr<limits::Limiter> {
                                   return nullptr;
                                 }),
               std::logic_error);
}

// A policy of `key` parts over `config`, as a snapshot holds it.
PolicyRuntime policy_of(const conf::RateLimitPolicyConfig& config) {
  PolicyRuntime p;
  p.name = config.name;
  p.config = &config;
  p.key = parse_limit_key(config.key);
  return p;
}

conf::RateLimitPolicyConfig keyed(std::vector<std::string> key) {
  conf::RateLimitPolicyConfig c;
  c.name = "p";
  c.key = std::move(key);
  c.ipv4_prefix = 24;
  c.ipv6_prefix = 48;
  return c;
}

TEST(LimitKey, ClientAddressesAreGroupedByThePolicysPrefix) {
  const conf::RateLimitPolicyConfig config = keyed({"client_ip"});
  const PolicyRuntime p = policy_of(config);
  const Parsed get("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  EXPECT_EQ(limit_key(p, *get.head, ip("203.0.113.7"), 1),
            limit_key(p, *get.head, ip("203.0.113.200"), 2))
      << "same /24; the route is not part of this key";
  EXPECT_NE(limit_key(p, *get.head, ip("203.0.113.7"), 1),
            limit_key(p, *get.head, ip("203.0.114.7"), 1));
  EXPECT_EQ(limit_key(p, *get.head, ip("2001:db8:1::1"), 1),
            limit_key(p, *get.head, ip("2001:db8:1:ffff::2"), 1));
  EXPECT_NE(limit_key(p, *get.head, ip("2001:db8:1::1"), 1),
            limit_key(p, *get.head, ip("2001:db8:2::1"), 1));
  EXPECT_NE(limit_key(p, *get.head, ip("203.0.113.7"), 1),
            limit_key(p, *get.head, ip("::ffff:203.0.112.7"), 1));
}

TEST(LimitKey, HeadersCookiesAndRoutesAndWhatStandsInForAMissingOne) {
  const conf::RateLimitPolicyConfig config = keyed({"header:X-Api-Key", "cookie:session"});
  const PolicyRuntime p = policy_of(config);
  const Parsed both("GET / HTTP/1.1\r\nHost: a\r\nx-api-key: k1\r\nCookie: a=1; session=s9\r\n\r\n");
  const Parsed other("GET / HTTP/1.1\r\nHost: a\r\nX-API-KEY: k2\r\nCookie: session=s9\r\n\r\n");
  const Parsed none("GET / HTTP/1.1\r\nHost: a\r\nX-Api-Key:\r\n\r\n");
  const Parsed spoof("GET / HTTP/1.1\r\nHost: a\r\nX-Api-Key: 203.0.113.7\r\nCookie: session=s9\r\n\r\n");
  const Parsed address_cookie("GET / HTTP/1.1\r\nHost: a\r\nCookie: session=s9\r\n\r\n");
  const auto key = [&](const Parsed& r, const char* client) {
    return limit_key(p, *r.head, ip(client), 0);
  };
  EXPECT_EQ(key(both, "10.0.0.1"), key(both, "10.9.9.9")) << "the address is not a part";
  EXPECT_NE(key(both, "10.0.0.1"), key(other, "10.0.0.1"));
  EXPECT_EQ(key(none, "10.0.0.1"), key(none, "10.0.0.200")) << "the same /24 stands in";
  EXPECT_NE(key(none, "10.0.0.1"), key(none, "10.0.1.1"));
  EXPECT_NE(key(spoof, "10.0.0.1"), key(address_cookie, "203.0.113.7"))
      << "a header value never stands for an address";

  const conf::RateLimitPolicyConfig by_route = keyed({"route", "client_ip"});
  const PolicyRuntime r = policy_of(by_route);
  EXPECT_NE(limit_key(r, *both.head, ip("10.0.0.1"), route_id("public", "", "/")),
            limit_key(r, *both.head, ip("10.0.0.1"), route_id("public", "", "/api")));
  EXPECT_EQ(route_id("public", "", ""), route_id("public", "", "/")) << "both mean any path";
  EXPECT_NE(route_id("public", "a", "/"), route_id("public", "", "/"));
  EXPECT_NE(route_id("public", "", "/"), route_id("admin", "", "/"));
}

TEST(LimitKeyFromText, NamesTheKeysOfRequests) {
  const conf::RateLimitPolicyConfig config =
      keyed({"client_ip", "header:X-Api-Key", "cookie:session", "route"});
  const PolicyRuntime p = policy_of(config);
  const Parsed full("GET / HTTP/1.1\r\nHost: a\r\nX-Api-Key: k1|x\r\nCookie: session=s9\r\n\r\n");
  const Parsed bare("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  const std::uint64_t route = route_id("public", "rpc.example", "/api");
  std::string why;
  // The last part takes the rest of the text, '|' included.
  EXPECT_EQ(limit_key_from_text(policy_of(keyed({"client_ip", "header:X-Api-Key"})),
                                "203.0.113.9|k1|x", &why),
            limit_key(policy_of(keyed({"client_ip", "header:X-Api-Key"})), *full.head,
                      ip("203.0.113.1"), route));
  EXPECT_EQ(limit_key_from_text(p, "203.0.113.9|[203.0.113.1]|[203.0.113.5]|public:rpc.example/api",
                                &why),
            limit_key(p, *bare.head, ip("203.0.113.77"), route))
      << why;
  const conf::RateLimitPolicyConfig cookie_then_ip = keyed({"cookie:session", "client_ip"});
  EXPECT_EQ(limit_key_from_text(policy_of(cookie_then_ip), "s9|[::ffff:203.0.113.3]", &why),
            limit_key(policy_of(cookie_then_ip), *full.head, ip("203.0.113.4"), 0))
      << why;
  const conf::RateLimitPolicyConfig by_route = keyed({"route"});
  EXPECT_EQ(limit_key_from_text(policy_of(by_route), "public:*/", &why),
            limit_key(policy_of(by_route), *bare.head, ip("10.0.0.1"), route_id("public", "", "")));

  for (const auto& [text, fragment] : std::vector<std::pair<std::string, std::string>>{
           {"203.0.113.9", "has 4 parts (client_ip|header:X-Api-Key|cookie:session|route)"},
           {"nope|k|s|public:*/", "part 1 (client_ip): \"nope\" is not an IPv4 or IPv6 address"},
           {"203.0.113.9||s|public:*/", "part 2 (header:X-Api-Key): empty"},
           {"203.0.113.9|[nope]|s|public:*/", "part 2 (header:X-Api-Key): \"[nope]\" is not"},
           {"203.0.113.9|k|s|public", "part 4 (route): a route is LISTENER:ROUTE"},
           {"203.0.113.9|k|s|:*/", "part 4 (route): a route is LISTENER:ROUTE"},
           {"203.0.113.9|k|s|public:nowhere", "part 4 (route): the route is HOST/PATH_PREFIX"}}) {
    EXPECT_FALSE(limit_key_from_text(p, text, &why)) << text;
    EXPECT_NE(why.find(fragment), std::string::npos) << text << ": " << why;
  }
}

TEST(PolicyRuntimeInSnapshot, PoliciesRoutesAndInFlightAcrossSnapshots) {
  BackendRegistry registry;
  const conf::Config config = load(kTwo, "[\"b\"]", "[\"a\", \"b\"]");
  const auto first = build_snapshot(config, 1, registry);
  ASSERT_EQ(first->policies.size(), 2u);
  const PolicyRuntime& b = first->policies[1];
  EXPECT_EQ(b.name, "b");
  EXPECT_EQ(b.policy_field, "\"b\";q=5;w=60");
  EXPECT_EQ(first->policies[0].policy_field, "\"a\";q=10;w=1");
  EXPECT_EQ(b.gcra, limits::Gcra::of(5, 60'000'000'000, 3, 0));
  EXPECT_EQ(b.limiter, first->limiters.find("b"));
  ASSERT_NE(b.limiter, nullptr);
  const RouteRuntime& api = first->listeners[0].routes[0];
  EXPECT_EQ(api.policies, (std::vector<std::uint32_t>{1, 0})) << "listener's first, b once";
  EXPECT_EQ(first->listeners[0].routes[1].policies, std::vector<std::uint32_t>{1});
  EXPECT_EQ(api.max_in_flight, 7u);
  EXPECT_EQ(api.id, route_id("public", "rpc.example", "/api"));
  EXPECT_NE(api.id, first->listeners[0].routes[1].id);
  ASSERT_NE(api.in_flight, nullptr);
  api.in_flight->count.fetch_add(3);

  // The next snapshot, from the first's Limiters: same counts, same Limiters.
  const auto second = build_snapshot(config, 2, registry, {}, first->limiters);
  EXPECT_EQ(second->listeners[0].routes[0].in_flight, api.in_flight);
  EXPECT_EQ(second->policies[1].limiter, b.limiter);
  EXPECT_EQ(second->listeners[0].routes[0].in_flight->count.load(), 3u);
  // A snapshot without the route: once nothing holds its count, it is forgotten.
  const conf::Config without = load(kTwo, "[\"a\", \"b\"]");
  std::weak_ptr<RouteInFlight> count = api.in_flight;
  {
    auto third = build_snapshot(without, 3, registry, {}, second->limiters);
    EXPECT_EQ(third->listeners[0].routes[0].in_flight, api.in_flight)
        << "host and prefix are the same";
  }
  EXPECT_FALSE(count.expired());
}

TEST(PolicyRuntimeInSnapshot, AForgottenRouteLosesItsCount) {
  BackendRegistry registry;
  std::weak_ptr<RouteInFlight> count;
  {
    const auto snap = build_snapshot(load(""), 1, registry);
    count = snap->listeners[0].routes[0].in_flight;
    snap->listeners[0].routes[0].in_flight->count.store(5);
  }
  registry.collect();
  EXPECT_TRUE(count.expired());
  const auto again = build_snapshot(load(""), 2, registry);
  EXPECT_EQ(again->listeners[0].routes[0].in_flight->count.load(), 0u);
}

}  // namespace
}  // namespace veer::runtime
