// Rate limits in the file (conf/load_limits.cpp): [limits.NAME] policies beside the
// scalar keys of [limits], listener and route limits, the caps, [cluster], and the
// errors a file gets, each at the key's position.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "conf/load.hpp"
#include "conf/rate_limit.hpp"

namespace veer::conf {
namespace {

std::string errors_of(const LoadResult& r) {
  std::string all;
  for (const auto& e : r.errors)
    all += e.to_string() + "\n";
  return all;
}

// A listener whose route names `route_limits` and whose listener names
// `listener_limits`, one pool, then `tail` (policies, [cluster]).
std::string file(const std::string& tail, const std::string& listener_limits = "[]",
                 const std::string& route_limits = "[]") {
  return "[listeners.public]\naddress = \"127.0.0.1:8545\"\nlimits = " + listener_limits +
         "\n  [[listeners.public.routes]]\n  target = \"rpc\"\n  limits = " + route_limits +
         "\n[pools.rpc]\nbackends = [\"127.0.0.1:19001\"]\n" + tail;
}

TEST(LimitsConfig, PoliciesWithEveryKeyAndTheirDefaults) {
  const auto r = load_config_string(file(R"([limits]
max_connections = 5000
[limits.per_client]
rate = "100/s"
[limits.by_key]
rate = "6000/m"
burst = 20
delay = 5
key = ["client_ip", "header:X-Api-Key", "cookie:session", "route"]
ipv4_prefix = 24
ipv6_prefix = 48
scope = "cluster"
dry_run = true
max_keys = 5000
[cluster]
redis = "127.0.0.1:6379"
)",
                                         "[\"per_client\"]", "[\"by_key\"]"),
                                    "t.toml");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.limits.max_connections, 5000u);
  ASSERT_EQ(c.limits.policies.size(), 2u);
  EXPECT_EQ(c.limits.policies[0].name, "by_key") << "sorted by name";
  const RateLimitPolicyConfig& defaults = *c.limits.find_policy("per_client");
  EXPECT_EQ(defaults.rate, 100u);
  EXPECT_EQ(defaults.per, Duration{1000});
  EXPECT_EQ(defaults.burst, 0u);
  EXPECT_EQ(defaults.delay, 0u);
  EXPECT_EQ(defaults.key, std::vector<std::string>{"client_ip"});
  EXPECT_EQ(defaults.ipv4_prefix, 32u);
  EXPECT_EQ(defaults.ipv6_prefix, 64u);
  EXPECT_EQ(defaults.scope, RateLimitPolicyConfig::Scope::local);
  EXPECT_FALSE(defaults.dry_run);
  EXPECT_EQ(defaults.max_keys, 1'000'000u);
  EXPECT_EQ(defaults.pos.line, 11u);
  const RateLimitPolicyConfig& all = c.limits.policies[0];
  EXPECT_EQ(all.rate, 6000u);
  EXPECT_EQ(all.per, Duration{60'000});
  EXPECT_EQ(all.burst, 20u);
  EXPECT_EQ(all.delay, 5u);
  EXPECT_EQ(all.key.size(), 4u);
  EXPECT_EQ(all.key[1], "header:X-Api-Key");
  EXPECT_EQ(all.ipv4_prefix, 24u);
  EXPECT_EQ(all.ipv6_prefix, 48u);
  EXPECT_EQ(all.scope, RateLimitPolicyConfig::Scope::cluster);
  EXPECT_TRUE(all.dry_run);
  EXPECT_EQ(all.max_keys, 5000u);
  EXPECT_EQ(c.listeners[0].limits, std::vector<std::string>{"per_client"});
  EXPECT_EQ(c.listeners[0].limits_pos.line, 3u);
  EXPECT_EQ(c.listeners[0].routes[0].limits, std::vector<std::string>{"by_key"});
  EXPECT_TRUE(c.cluster.enabled);
  EXPECT_EQ(c.cluster.redis_host_port.port, 6379);
  EXPECT_TRUE(r.warnings.empty());
}

TEST(LimitsConfig, ListenerAndRouteCapsAndCluster) {
  const auto r = load_config_string(
      R"([listeners.public]
address = "127.0.0.1:8545"
max_connections_per_client = 16
  [[listeners.public.routes]]
  target = "rpc"
  max_in_flight = 200
[pools.rpc]
backends = ["127.0.0.1:19001"]
[cluster]
redis = "[::1]:6380"
instances = 3
lease = 10
timeout = "100ms"
key_prefix = "rpc:"
)",
      "t.toml");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const Config& c = *r.config;
  EXPECT_EQ(c.listeners[0].max_connections_per_client, 16u);
  EXPECT_TRUE(c.listeners[0].limits.empty());
  EXPECT_EQ(c.listeners[0].routes[0].max_in_flight, 200u);
  EXPECT_EQ(c.cluster.redis, "[::1]:6380");
  EXPECT_EQ(c.cluster.redis_host_port.host, "::1");
  EXPECT_EQ(c.cluster.instances, 3u);
  EXPECT_EQ(c.cluster.lease, 10u);
  EXPECT_EQ(c.cluster.timeout, Duration{100});
  EXPECT_EQ(c.cluster.key_prefix, "rpc:");
  const auto none = load_config_string(file(""), "t.toml");
  ASSERT_TRUE(none.ok()) << errors_of(none);
  EXPECT_FALSE(none.config->cluster.enabled);
  EXPECT_EQ(none.config->cluster.key_prefix, "veer:");
  EXPECT_EQ(none.config->listeners[0].routes[0].max_in_flight, 0u);
}

TEST(LimitsConfig, BadPolicyKeysAreReportedAtTheKey) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"burst = 1", ":9:1: limits.p: missing key \"rate\""},
      {"rate = 100", ":10:8: limits.p.rate: expected a string such as \"100/s\""},
      {"rate = \"100\"", "limits.p.rate: expected requests per unit"},
      {"rate = \"100/d\"", "limits.p.rate: the unit after '/' is s, m or h"},
      {"rate = \"0/s\"", "limits.p.rate: the count is out of range (1-1000000000)"},
      {"rate = \"1000000001/s\"", "out of range"},
      {"rate = \"-1/s\"", "expected requests per unit"},
      {"rate = \" 1/s\"", "expected requests per unit"},
      {"rate = \"18446744073709551617/s\"", "expected requests per unit"},
      {"rate = \"1/s\"\nburst = -1", "limits.p.burst: -1 is out of range (0-1000000)"},
      {"rate = \"1/s\"\ndelay = 1000001", "limits.p.delay: 1000001 is out of range"},
      {"rate = \"1/s\"\nkey = \"ip\"",
       ":11:7: limits.p.key: \"ip\" is not client_ip, header:NAME, cookie:NAME or route"},
      {"rate = \"1/s\"\nkey = \"header:X Api\"", "the name after header: must be a token"},
      {"rate = \"1/s\"\nkey = \"cookie:\"", "the name after cookie: must be a token"},
      {"rate = \"1/s\"\nkey = []", "limits.p.key: expected at least one part"},
      {"rate = \"1/s\"\nkey = [\"client_ip\", 3]", "limits.p.key: expected a string or an array"},
      {"rate = \"1/s\"\nkey = [\"header:X-Key\", \"header:x-key\"]",
       ":11:24: limits.p.key: \"header:x-key\" is named twice"},
      {"rate = \"1/s\"\nkey = [\"route\", \"route\"]", "\"route\" is named twice"},
      {"rate = \"1/s\"\nipv4_prefix = 0", "limits.p.ipv4_prefix: 0 is out of range (1-32)"},
      {"rate = \"1/s\"\nipv6_prefix = 129", "limits.p.ipv6_prefix: 129 is out of range (1-128)"},
      {"rate = \"1/s\"\nscope = \"global\"", "limits.p.scope: \"global\" is not one of local"},
      {"rate = \"1/s\"\nscope = \"cluster\"",
       ":11:9: limits.p.scope: \"cluster\" needs a [cluster] table"},
      {"rate = \"1/s\"\ndry_run = 1", "limits.p.dry_run: expected true or false"},
      {"rate = \"1/s\"\nmax_keys = 0", "limits.p.max_keys: 0 is out of range (1-100000000)"},
      {"rate = \"1/s\"\nmax_keys = 100000001", "out of range"},
      {"rate = \"1/s\"\nbrust = 3", "limits.p.brust: unknown key (did you mean \"burst\"?)"},
  };
  for (const auto& [keys, fragment] : bad) {
    const auto r = load_config_string(file("[limits.p]\n" + keys + "\n", "[\"p\"]"), "t.toml");
    EXPECT_NE(errors_of(r).find(fragment), std::string::npos)
        << keys << "\nexpected: " << fragment << "\ngot: " << errors_of(r);
  }
}

TEST(LimitsConfig, ReferencesNameKnownPoliciesOnce) {
  const std::string policies = "[limits.per_client]\nrate = \"10/s\"\n";
  const std::vector<std::tuple<std::string, std::string, std::string>> bad = {
      {"[\"per_clinet\"]", "[]",
       "t.toml:3:11: listeners.public.limits: no policy named \"per_clinet\" (did you mean "
       "\"per_client\"?)"},
      {"[]", "[\"nothing_like_it\"]",
       "t.toml:6:13: listeners.public.routes[0].limits: no policy named \"nothing_like_it\"\n"},
      {"[\"per_client\", \"per_client\"]", "[]",
       "listeners.public.limits: \"per_client\" is named twice"},
      {"\"per_client\"", "[]", "listeners.public.limits: expected an array of policy names"},
      {"[]", "[1]", "listeners.public.routes[0].limits: expected the name of a [limits.NAME]"},
  };
  for (const auto& [listener, route, fragment] : bad) {
    const auto r = load_config_string(file(policies, listener, route), "t.toml");
    EXPECT_NE(errors_of(r).find(fragment), std::string::npos)
        << listener << " " << route << "\nexpected: " << fragment << "\ngot: " << errors_of(r);
  }
  const auto undefined = load_config_string(file("", "[\"per_client\"]"), "t.toml");
  EXPECT_NE(errors_of(undefined).find("(define it as a [limits.per_client] table)"),
            std::string::npos)
      << errors_of(undefined);
  // On both the listener and its route: legal, and checked once at run time.
  const auto both =
      load_config_string(file(policies, "[\"per_client\"]", "[\"per_client\"]"), "t.toml");
  EXPECT_TRUE(both.ok()) << errors_of(both);
  // A policy with errors of its own is still known to references: one error, not two.
  const auto broken = load_config_string(
      file("[limits.per_client]\nrate = \"10/d\"\n", "[\"per_client\"]"), "t.toml");
  EXPECT_EQ(broken.errors.size(), 1u) << errors_of(broken);
}

TEST(LimitsConfig, ScalarsTablesAndCapsErrors) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"[limits]\nmax_conections = 5",
       "limits.max_conections: unknown key (did you mean "
       "\"max_connections\"?)"},
      {"[limits.max_connections]\nrate = \"1/s\"", "limits.max_connections: expected an integer"},
      {"[limits.\"bad name\"]\nrate = \"1/s\"", "limits.bad name: limit names use letters"},
      {"[cluster]\ninstances = 2", "cluster: missing key \"redis\""},
      {"[cluster]\nredis = \"localhost\"", "cluster.redis: "},
      {"[cluster]\nredis = \"127.0.0.1:0\"", "cluster.redis: port 0 is not a Redis port"},
      {"[cluster]\nredis = \"127.0.0.1:6379\"\ntimeout = \"0ms\"",
       "cluster.timeout: must be at "
       "least 1ms"},
      {"[cluster]\nredis = \"127.0.0.1:6379\"\nkey_prefix = \"a b\"",
       "cluster.key_prefix: at most"},
      {"[cluster]\nredis = \"127.0.0.1:6379\"\nlesae = 3",
       "cluster.lesae: unknown key (did you "
       "mean \"lease\"?)"},
  };
  for (const auto& [tail, fragment] : bad) {
    const auto r = load_config_string(file(tail + "\n"), "t.toml");
    EXPECT_NE(errors_of(r).find(fragment), std::string::npos)
        << tail << "\nexpected: " << fragment << "\ngot: " << errors_of(r);
  }
  const auto not_a_table = load_config_string("cluster = 3\n" + file(""), "t.toml");
  EXPECT_NE(
      errors_of(not_a_table)
          .find("t.toml:1:11: cluster: expected a table such as { redis = \"127.0.0.1:6379\" }"),
      std::string::npos)
      << errors_of(not_a_table);
  const std::string caps =
      "[listeners.public]\naddress = \"127.0.0.1:8545\"\nmax_connections_per_client = -1\n"
      "  [[listeners.public.routes]]\n  target = \"rpc\"\n  max_in_flight = 10000001\n"
      "[pools.rpc]\nbackends = [\"127.0.0.1:19001\"]\n";
  const std::string errors = errors_of(load_config_string(caps, "t.toml"));
  EXPECT_NE(errors.find("t.toml:3:30: listeners.public.max_connections_per_client: -1 is out of "
                        "range (0-10000000)"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("t.toml:6:19: listeners.public.routes[0].max_in_flight: 10000001"),
            std::string::npos)
      << errors;
}

TEST(LimitsConfig, AnUnusedPolicyIsAWarning) {
  const auto r = load_config_string(file("[limits.spare]\nrate = \"1/s\"\n"), "t.toml");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].to_string(),
            "t.toml:9:1: limits.spare: no listener or route uses this policy");
}

TEST(RateText, ParsesAndFormatsEveryUnit) {
  std::string why;
  for (const auto& [text, count, ms] :
       std::vector<std::tuple<std::string, std::uint64_t, std::int64_t>>{
           {"1/s", 1, 1000},
           {"6000/m", 6000, 60'000},
           {"5/h", 5, 3'600'000},
           {"1000000000/s", 1'000'000'000, 1000}}) {
    const auto rate = parse_rate(text, &why);
    ASSERT_TRUE(rate) << text << ": " << why;
    EXPECT_EQ(rate->count, count);
    EXPECT_EQ(rate->per.count(), ms);
    EXPECT_EQ(format_rate(*rate), text);
  }
  for (const char* text : {"", "/s", "1/", "1/S", "1/sec", "1 /s", "1/s ", "+1/s", "0x10/s"})
    EXPECT_FALSE(parse_rate(text, &why)) << text;
}

}  // namespace
}  // namespace veer::conf
