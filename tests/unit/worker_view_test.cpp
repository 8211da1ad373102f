// Eligibility around every strategy: backups only when no primary is routable, weight
// 0 never, nothing routable gives no pick (the session answers 503). And routing.
#include "proxy/worker_view.hpp"

#include <gtest/gtest.h>

#include <set>

#include "conf/load.hpp"
#include "health/routing_epoch.hpp"

namespace veer::proxy {
namespace {

std::shared_ptr<const Snapshot> snapshot_with(const std::string& strategy,
                                              BackendRegistry& registry) {
  const std::string hash_key = strategy == "ip_hash" ? "hash_key = \"header:X-Key\"\n" : "";
  const conf::LoadResult loaded = conf::load_config_string(R"(
[listeners.public]
address = "127.0.0.1:0"
  [[listeners.public.routes]]
  path_prefix = "/ws"
  target = "ws"
  [[listeners.public.routes]]
  host = "api.example.com"
  target = "main"
  [[listeners.public.routes]]
  target = "main"
[pools.ws]
backends = ["127.0.0.1:9001"]
[pools.main]
strategy = ")" + strategy + "\"\n" + hash_key + R"(backends = [
  "127.0.0.1:8001",
  "127.0.0.1:8002",
  { address = "127.0.0.1:8003", weight = 0 },
  { address = "127.0.0.1:8009", backup = true },
]
)",
                                                           "view.toml");
  EXPECT_TRUE(loaded.ok());
  return build_snapshot(*loaded.config, 1, registry);
}

std::uint32_t pool_index(const Snapshot& snapshot, std::string_view name) {
  for (std::uint32_t i = 0; i < snapshot.pools.size(); ++i) {
    if (snapshot.pools[i].name == name) return i;
  }
  ADD_FAILURE() << "no pool " << name;
  return 0;
}

std::set<std::uint32_t> picks(WorkerView& view, std::uint32_t pool, int n) {
  std::set<std::uint32_t> seen;
  for (int i = 0; i < n; ++i) {
    const auto pick =
        view.pick(pool, strategies::PickContext{static_cast<std::uint64_t>(i) * 7919});
    if (pick) seen.insert(*pick);
  }
  return seen;
}

class EveryStrategy : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryStrategy, BackupsOnlyWhenNoPrimaryIsRoutable) {
  BackendRegistry registry;
  auto snapshot = snapshot_with(GetParam(), registry);
  WorkerView view(snapshot, 0, nullptr,
                  [](const conf::SocketAddress&) -> UpstreamSlot* { return nullptr; });
  const std::uint32_t main = pool_index(*snapshot, "main");
  const auto& backends = snapshot->pools[main].backends;
  EXPECT_EQ(picks(view, main, 200), (std::set<std::uint32_t>{0, 1}))
      << "weight 0 and backup unused";

  backends[0].stats->set(health::Reason::draining);
  health::bump_routing_epoch();
  EXPECT_EQ(picks(view, main, 200), (std::set<std::uint32_t>{1}));

  backends[1].stats->set(health::Reason::draining);
  health::bump_routing_epoch();
  EXPECT_EQ(picks(view, main, 200), (std::set<std::uint32_t>{3})) << "only the backup is left";

  backends[3].stats->set(health::Reason::draining);
  health::bump_routing_epoch();
  EXPECT_FALSE(view.pick(main, {}).has_value()) << "nothing routable: the session answers 503";

  for (int i : {0, 1, 3})
    backends[static_cast<std::size_t>(i)].stats->clear(health::Reason::draining);
  health::bump_routing_epoch();
  EXPECT_EQ(picks(view, main, 200), (std::set<std::uint32_t>{0, 1})) << "primaries back";
}

INSTANTIATE_TEST_SUITE_P(Strategies, EveryStrategy,
                         ::testing::Values("round_robin", "least_connections", "weighted",
                                           "ip_hash", "least_response_time"));

TEST(Routing, FirstMatchingRouteInFileOrder) {
  BackendRegistry registry;
  auto snapshot = snapshot_with("round_robin", registry);
  const ListenerRuntime& listener = *snapshot->find_listener("public");
  const std::uint32_t main = pool_index(*snapshot, "main");
  const std::uint32_t ws = pool_index(*snapshot, "ws");
  EXPECT_EQ(WorkerView::route(listener, "x", "/ws/subscribe")->pool, ws);
  EXPECT_EQ(WorkerView::route(listener, "API.example.com:8545", "/ws"), &listener.routes[0])
      << "the /ws route comes first in the file";
  EXPECT_EQ(WorkerView::route(listener, "API.example.com:8545", "/rpc"), &listener.routes[1]);
  EXPECT_EQ(WorkerView::route(listener, "other", "/rpc"), &listener.routes[2]);
  EXPECT_EQ(WorkerView::route(listener, "other", "/rpc")->pool, main);
}

TEST(Snapshots, KeepingABackendKeepsItsLiveCounters) {
  BackendRegistry registry;
  auto first = snapshot_with("least_connections", registry);
  const std::uint32_t main = pool_index(*first, "main");
  first->pools[main].backends[0].stats->active_connections = 42;
  auto second = snapshot_with("weighted", registry);  // a reload that changes the strategy
  EXPECT_EQ(second->pools[main].backends[0].stats.get(),
            first->pools[main].backends[0].stats.get());
  EXPECT_EQ(second->pools[main].backends[0].stats->active_connections.load(), 42);
}

}  // namespace
}  // namespace veer::proxy
