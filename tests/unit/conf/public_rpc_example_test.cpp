// docs/examples/public-rpc.toml, "protect a public RPC endpoint", loads as written (its
// certificate files are only named) and says what its comments say.
#include <gtest/gtest.h>

#include <string>

#include "conf/load.hpp"

namespace veer::conf {
namespace {

std::string errors_of(const LoadResult& r) {
  std::string text;
  for (const auto& e : r.errors)
    text += e.to_string() + "\n";
  return text;
}

TEST(PublicRpcExample, LoadsWithItsPoliciesCapsAndTrustedProxies) {
  const LoadResult r = load_config_file(VEER_SOURCE_DIR "/docs/examples/public-rpc.toml");
  ASSERT_TRUE(r.ok()) << errors_of(r);
  const Config& config = *r.config;
  ASSERT_EQ(config.limits.policies.size(), 4u);
  const RateLimitPolicyConfig* per_client = config.limits.find_policy("per_client");
  ASSERT_NE(per_client, nullptr);
  EXPECT_EQ(per_client->rate, 50u);
  EXPECT_EQ(per_client->burst, 100u);
  const RateLimitPolicyConfig* api = config.limits.find_policy("per_api_key");
  ASSERT_NE(api, nullptr);
  EXPECT_EQ(api->key, std::vector<std::string>{"header:X-Api-Key"});
  EXPECT_EQ(api->delay, 100u);
  EXPECT_TRUE(config.limits.find_policy("per_client_next")->dry_run);

  ASSERT_EQ(config.listeners.size(), 2u);
  const auto listener = [&](const std::string& name) -> const ListenerConfig& {
    for (const ListenerConfig& l : config.listeners) {
      if (l.name == name) return l;
    }
    ADD_FAILURE() << "no listener " << name;
    return config.listeners.front();
  };
  const ListenerConfig& public_listener = listener("public");
  EXPECT_TRUE(public_listener.proxy_protocol);
  EXPECT_EQ(public_listener.trusted_proxies.size(), 4u);
  EXPECT_EQ(public_listener.max_connections_per_client, 0u) << "its peers are CDN edges";
  ASSERT_EQ(public_listener.routes.size(), 3u);
  EXPECT_EQ(public_listener.routes[0].limits, std::vector<std::string>{"per_api_key"});
  EXPECT_EQ(public_listener.routes[1].max_in_flight, 200u);
  const ListenerConfig& direct = listener("direct");
  EXPECT_EQ(direct.max_connections_per_client, 32u);
  EXPECT_EQ(direct.limits, std::vector<std::string>{"per_client"});
  EXPECT_TRUE(direct.trusted_proxies.empty());
}

}  // namespace
}  // namespace veer::conf
