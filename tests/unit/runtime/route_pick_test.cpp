// Which backend gets a request: the route, the split's target with its sticky bucket
// and failover, the hash key, the retry's next backend or target, and the 503 text.
#include "runtime/route_pick.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "conf/load.hpp"
#include "core/hash.hpp"
#include "core/routing_epoch.hpp"
#include "http/http_parser.hpp"
#include "strategies/split_buckets.hpp"

namespace veer::runtime {
namespace {

// /api goes to pool main (ip_hash on X-Key), /rpc to split rpc over blue (two
// backends) and green (one), sticky on X-User.
std::string config_with(const std::string& split_extra) {
  return R"(
[listeners.public]
address = "127.0.0.1:0"
  [[listeners.public.routes]]
  path_prefix = "/api"
  target = "main"
  [[listeners.public.routes]]
  path_prefix = "/rpc"
  target = "rpc"
[pools.main]
strategy = "ip_hash"
hash_key = "header:X-Key"
backends = ["127.0.0.1:8001", "127.0.0.1:8002"]
[pools.blue]
backends = ["127.0.0.1:9001", "127.0.0.1:9002"]
[pools.green]
backends = ["127.0.0.1:9101"]
[splits.rpc]
targets = { blue = 50, green = 50 }
sticky = "header:X-User"
)" + split_extra;
}

// Records each hop of a split's failover as (from pool, to pool).
struct Hops final : FailoverObserver {
  const Snapshot* snapshot = nullptr;
  std::vector<std::pair<std::string, std::string>> seen;
  void passed_on(const SplitRuntime& split, std::uint32_t from, std::uint32_t to) override {
    seen.emplace_back(snapshot->pools[split.pools[from]].name,
                      snapshot->pools[split.pools[to]].name);
  }
};

struct Fixture {
  BackendRegistry registry;
  std::shared_ptr<const Snapshot> snapshot;
  std::unique_ptr<WorkerView> view;
  std::string bytes;
  http::RequestHead head;
  Hops hops;

  explicit Fixture(const std::string& split_extra = "") {
    const conf::LoadResult loaded = conf::load_config_string(config_with(split_extra), "pick.toml");
    EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].to_string());
    snapshot = build_snapshot(*loaded.config, 1, registry);
    view = std::make_unique<WorkerView>(snapshot, 0, 1, nullptr,
                                        [](const conf::SocketAddress&) { return 0u; });
    hops.snapshot = snapshot.get();
  }

  const ListenerRuntime* listener() const { return snapshot->find_listener("public"); }
  const SplitRuntime& split() const { return snapshot->splits.at(0); }
  const PoolRuntime& pool(const Assignment& a) const { return snapshot->pools[a.pool]; }

  Assignment assign_for(const std::string& path, const std::string& headers = "") {
    bytes = "GET " + path + " HTTP/1.1\r\nHost: x\r\n" + headers + "\r\n";
    head.reset();
    EXPECT_FALSE(http::parse_request_head(bytes, head));
    return assign(*view, listener(), head, "192.0.2.1", &hops);
  }

  // A user whose sticky bucket belongs to `pool_name`.
  std::string user_in(std::string_view pool_name) const {
    for (int k = 0; k < 1000; ++k) {
      std::string user = "u";
      user += std::to_string(k);  // appends: GCC 12 warns falsely on "u" + string
      const std::uint32_t target =
          strategies::split_target_of_hash(split().hash_ends, strategies::split_hash(user));
      if (snapshot->pools[split().pools[target]].name == pool_name) return user;
    }
    ADD_FAILURE() << "no user lands in " << pool_name;
    return "";
  }

  void take_down(std::string_view pool_name) {
    for (const PoolRuntime& p : snapshot->pools) {
      if (p.name != pool_name) continue;
      for (const BackendRuntime& backend : p.backends)
        backend.stats->set(core::Reason::down);
    }
    core::bump_routing_epoch();
  }
};

TEST(RoutePick, APoolRouteHashesItsKeyAndPicksTheSameBackendForIt) {
  Fixture f;
  const Assignment a = f.assign_for("/api/x", "X-Key: k1\r\n");
  ASSERT_NE(a.route, nullptr);
  EXPECT_EQ(a.route->path_prefix, "/api");
  EXPECT_EQ(a.split, nullptr);
  EXPECT_EQ(f.pool(a).name, "main");
  EXPECT_EQ(a.key_hash, core::hash_bytes("k1"));
  ASSERT_TRUE(a.backend.has_value());
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(f.assign_for("/api/y", "X-Key: k1\r\n").backend, a.backend) << "same key";
  }
  EXPECT_EQ(f.assign_for("/api/x").key_hash, core::hash_bytes("192.0.2.1"))
      << "without the header the client address is the key";
}

TEST(RoutePick, NoMatchingRouteOrListenerGivesNoRoute) {
  Fixture f;
  EXPECT_EQ(f.assign_for("/other").route, nullptr);
  http::RequestHead& head = f.head;
  EXPECT_EQ(assign(*f.view, nullptr, head, "192.0.2.1").route, nullptr)
      << "a listener removed by a reload";
}

TEST(RoutePick, ASplitSendsAStickyKeyToItsBucketsTarget) {
  Fixture f;
  for (const char* pool : {"blue", "green"}) {
    const std::string user = f.user_in(pool);
    const Assignment a = f.assign_for("/rpc", "X-User: " + user + "\r\n");
    ASSERT_NE(a.split, nullptr);
    EXPECT_EQ(a.bucket, strategies::split_bucket(user));
    EXPECT_EQ(f.pool(a).name, pool);
    EXPECT_EQ(a.pool, f.split().pools[a.target]);
    EXPECT_TRUE(a.backend.has_value());
    EXPECT_EQ(a.split_tried, 0u);
  }
  EXPECT_TRUE(f.hops.seen.empty());
}

TEST(RoutePick, ATargetWithoutARoutableBackendPassesItsShareOn) {
  Fixture f;
  f.take_down("blue");
  const Assignment a = f.assign_for("/rpc", "X-User: " + f.user_in("blue") + "\r\n");
  EXPECT_EQ(f.pool(a).name, "green");
  ASSERT_TRUE(a.backend.has_value());
  EXPECT_EQ(f.hops.seen, (std::vector<std::pair<std::string, std::string>>{{"blue", "green"}}));
}

TEST(RoutePick, ARetryTriesTheOtherBackendsThenTheNextTarget) {
  Fixture f;
  const Assignment first = f.assign_for("/rpc", "X-User: " + f.user_in("blue") + "\r\n");
  ASSERT_EQ(f.pool(first).name, "blue");
  const auto second = reassign(*f.view, first, false, &f.hops);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->pool, first.pool);
  EXPECT_NE(second->backend, first.backend) << "the tried backend is left out";
  EXPECT_EQ(second->tried, exclusion_bit(*first.backend));

  const auto third = reassign(*f.view, *second, false, &f.hops);
  ASSERT_TRUE(third.has_value()) << "blue is used up: the split fails over";
  EXPECT_EQ(f.pool(*third).name, "green");
  EXPECT_EQ(third->tried, 0u) << "the exclusion bits were blue's";
  EXPECT_EQ(third->bucket, first.bucket);

  EXPECT_FALSE(reassign(*f.view, *third, false, &f.hops).has_value()) << "every target tried";
  const auto again = reassign(*f.view, *third, true, &f.hops);
  ASSERT_TRUE(again.has_value()) << "a stale pooled connection: the same backend may serve";
  EXPECT_EQ(again->backend, third->backend);
}

TEST(RoutePick, ARetryInAPlainPoolStaysInItAndReusesTheKeyHash) {
  Fixture f;
  const Assignment first = f.assign_for("/api", "X-Key: k2\r\n");
  const auto second = reassign(*f.view, first, false);
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->pool, first.pool);
  EXPECT_NE(second->backend, first.backend);
  EXPECT_EQ(second->key_hash, first.key_hash);
  EXPECT_FALSE(reassign(*f.view, *second, false).has_value());
}

TEST(RoutePick, TheNoBackendDetailNamesThePoolOrTheSplit) {
  {
    Fixture f;
    f.take_down("main");
    const Assignment a = f.assign_for("/api");
    ASSERT_NE(a.route, nullptr);
    EXPECT_FALSE(a.backend.has_value());
    EXPECT_EQ(no_backend_detail(*f.snapshot, a), "no backend available in pool main");
  }
  {
    Fixture f;
    f.take_down("blue");
    f.take_down("green");
    const Assignment a = f.assign_for("/rpc", "X-User: " + f.user_in("green") + "\r\n");
    EXPECT_FALSE(a.backend.has_value());
    EXPECT_EQ(f.pool(a).name, "green") << "the bucket's own target is reported";
    EXPECT_EQ(no_backend_detail(*f.snapshot, a), "no backend available in any pool of split rpc");
  }
  {
    Fixture f("failover = false\n");
    f.take_down("blue");
    const Assignment a = f.assign_for("/rpc", "X-User: " + f.user_in("blue") + "\r\n");
    EXPECT_FALSE(a.backend.has_value());
    EXPECT_TRUE(f.hops.seen.empty());
    EXPECT_EQ(no_backend_detail(*f.snapshot, a),
              "no backend available in pool blue (split rpc has failover off)");
  }
}

}  // namespace
}  // namespace veer::runtime
