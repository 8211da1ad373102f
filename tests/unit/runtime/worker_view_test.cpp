// Eligibility around every strategy: backups only when no primary is routable, weight
// 0 never, nothing routable gives no pick (the session answers 503), retries skip what
// was tried, panic mode, slow start. And routing.
#include "runtime/worker_view.hpp"

#include <gtest/gtest.h>

#include <set>

#include "conf/load.hpp"
#include "core/routing_epoch.hpp"

namespace veer::runtime {
namespace {

std::shared_ptr<const runtime::Snapshot> snapshot_with(const std::string& strategy,
                                                       runtime::BackendRegistry& registry,
                                                       const std::string& pool_extra = "") {
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
strategy = ")" + strategy + "\"\n" + hash_key + pool_extra + R"(backends = [
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

std::uint32_t pool_index(const runtime::Snapshot& snapshot, std::string_view name) {
  for (std::uint32_t i = 0; i < snapshot.pools.size(); ++i) {
    if (snapshot.pools[i].name == name) return i;
  }
  ADD_FAILURE() << "no pool " << name;
  return 0;
}

std::set<std::uint32_t> picks(runtime::WorkerView& view, std::uint32_t pool, int n) {
  std::set<std::uint32_t> seen;
  for (int i = 0; i < n; ++i) {
    const auto pick =
        view.pick(pool, strategies::PickContext{static_cast<std::uint64_t>(i) * 7919});
    if (pick) seen.insert(*pick);
  }
  return seen;
}

runtime::WorkerView view_of(std::shared_ptr<const runtime::Snapshot> snapshot) {
  return runtime::WorkerView(std::move(snapshot), 0, 1, nullptr,
                             [](const conf::SocketAddress&) { return std::uint32_t{0}; });
}

class EveryStrategy : public ::testing::TestWithParam<std::string> {};

TEST_P(EveryStrategy, BackupsOnlyWhenNoPrimaryIsRoutable) {
  runtime::BackendRegistry registry;
  auto snapshot = snapshot_with(GetParam(), registry);
  runtime::WorkerView view = view_of(snapshot);
  const std::uint32_t main = pool_index(*snapshot, "main");
  const auto& backends = snapshot->pools[main].backends;
  EXPECT_EQ(picks(view, main, 200), (std::set<std::uint32_t>{0, 1}))
      << "weight 0 and backup unused";

  backends[0].stats->set(core::Reason::draining);
  core::bump_routing_epoch();
  EXPECT_EQ(picks(view, main, 200), (std::set<std::uint32_t>{1}));

  backends[1].stats->set(core::Reason::draining);
  core::bump_routing_epoch();
  EXPECT_EQ(picks(view, main, 200), (std::set<std::uint32_t>{3})) << "only the backup is left";

  backends[3].stats->set(core::Reason::draining);
  core::bump_routing_epoch();
  EXPECT_FALSE(view.pick(main, {}).has_value()) << "nothing routable: the session answers 503";

  for (int i : {0, 1, 3})
    backends[static_cast<std::size_t>(i)].stats->clear(core::Reason::draining);
  core::bump_routing_epoch();
  EXPECT_EQ(picks(view, main, 200), (std::set<std::uint32_t>{0, 1})) << "primaries back";
}

TEST_P(EveryStrategy, RetriesNeverPickABackendAlreadyTried) {
  runtime::BackendRegistry registry;
  auto snapshot = snapshot_with(GetParam(), registry);
  runtime::WorkerView view = view_of(snapshot);
  const std::uint32_t main = pool_index(*snapshot, "main");
  for (std::uint64_t key = 0; key < 100; ++key) {
    const strategies::PickContext context{key * 0x9e3779b97f4a7c15ULL};
    const auto first = view.pick(main, context);
    ASSERT_TRUE(first.has_value());
    const auto second = view.pick(main, context, runtime::exclusion_bit(*first));
    ASSERT_TRUE(second.has_value());
    EXPECT_NE(*second, *first);
    EXPECT_FALSE(
        view.pick(main, context, runtime::exclusion_bit(*first) | runtime::exclusion_bit(*second)))
        << "both primaries tried: nothing left (the backup serves only when none is routable)";
  }
}

INSTANTIATE_TEST_SUITE_P(Strategies, EveryStrategy,
                         ::testing::Values("round_robin", "least_connections", "weighted",
                                           "ip_hash", "least_response_time"));

// One listener routing to pool "main" with these keys.
std::shared_ptr<const runtime::Snapshot> main_pool(runtime::BackendRegistry& registry,
                                                   const std::string& keys,
                                                   std::uint64_t version = 1) {
  const conf::LoadResult loaded = conf::load_config_string(
      "[listeners.public]\naddress = \"127.0.0.1:0\"\n[[listeners.public.routes]]\n"
      "target = \"main\"\n[pools.main]\n" +
          keys,
      "main.toml");
  EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].to_string());
  return build_snapshot(*loaded.config, version, registry);
}

// Four primaries; the threshold is 50%: panic when fewer than two are routable.
std::shared_ptr<const runtime::Snapshot> four_backends(runtime::BackendRegistry& registry,
                                                       const std::string& extra) {
  return main_pool(registry, extra + R"(
backends = ["127.0.0.1:8001", "127.0.0.1:8002", "127.0.0.1:8003", "127.0.0.1:8004"]
)");
}

void set_reason(const runtime::BackendRuntime& backend, core::Reason reason) {
  backend.stats->set(reason);
  core::bump_routing_epoch();
}

TEST(Panic, EjectionsBelowTheThresholdRouteAcrossEjectedBackendsToo) {
  runtime::BackendRegistry registry;
  auto snapshot = four_backends(registry, "panic_threshold = 50");
  runtime::WorkerView view = view_of(snapshot);
  const auto& backends = snapshot->pools[0].backends;
  set_reason(backends[0], core::Reason::ejected);
  set_reason(backends[1], core::Reason::ejected);
  EXPECT_EQ(picks(view, 0, 200), (std::set<std::uint32_t>{2, 3})) << "2 of 4 is not below 50%";
  EXPECT_FALSE(snapshot->pools[0].stats->panic.load());

  set_reason(backends[2], core::Reason::ejected);
  EXPECT_EQ(picks(view, 0, 200), (std::set<std::uint32_t>{0, 1, 2, 3}))
      << "1 of 4 routable: panic spreads the load over all";
  EXPECT_TRUE(snapshot->pools[0].stats->panic.load()) << "the pool shows it";

  set_reason(backends[3], core::Reason::down);
  EXPECT_EQ(picks(view, 0, 200), (std::set<std::uint32_t>{0, 1, 2}))
      << "a backend whose active checks fail is never used, even in panic";

  set_reason(backends[0], core::Reason::draining);
  EXPECT_EQ(picks(view, 0, 200), (std::set<std::uint32_t>{1, 2})) << "nor a draining one";

  for (std::size_t i = 0; i < 4; ++i)
    backends[i].stats->reasons = 0;
  core::bump_routing_epoch();
  EXPECT_EQ(picks(view, 0, 200), (std::set<std::uint32_t>{0, 1, 2, 3}));
  EXPECT_FALSE(snapshot->pools[0].stats->panic.load()) << "panic over";
}

TEST(Panic, ThresholdZeroNeverPanics) {
  runtime::BackendRegistry registry;
  auto snapshot = four_backends(registry, "panic_threshold = 0");
  runtime::WorkerView view = view_of(snapshot);
  const auto& backends = snapshot->pools[0].backends;
  for (std::size_t i = 0; i < 4; ++i)
    set_reason(backends[i], core::Reason::ejected);
  EXPECT_FALSE(view.pick(0, {}).has_value());
  EXPECT_FALSE(snapshot->pools[0].stats->panic.load());
}

TEST(SlowStart, AWarmingBackendGetsAShareGrowingWithTime) {
  runtime::BackendRegistry registry;
  auto snapshot = four_backends(registry, "slow_start = \"100s\"");
  runtime::WorkerView view = view_of(snapshot);
  const auto& backends = snapshot->pools[0].backends;
  using Clock = core::BackendStats::Clock;
  const auto count_picks_of_0 = [&] {
    int hits = 0;
    for (int i = 0; i < 40000; ++i)
      hits += view.pick(0, {}) == 0u ? 1 : 0;
    return hits;
  };
  EXPECT_NEAR(count_picks_of_0(), 10000, 300) << "routable since the start: not warming";

  // Routable again 25 s into a 100 s ramp: round robin gives it an effective weight
  // of 0.25 against 1 for each of the three others, a share of 0.25 / 3.25.
  backends[0].stats->routable_since =
      (Clock::now() - std::chrono::seconds(25)).time_since_epoch().count();
  EXPECT_NEAR(count_picks_of_0(), 40000 * 0.25 / 3.25, 300);

  // Just back: the floor of 5% keeps it measurable.
  backends[0].stats->routable_since = Clock::now().time_since_epoch().count();
  EXPECT_NEAR(count_picks_of_0(), 40000 * 0.05 / 3.05, 150);

  backends[0].stats->routable_since =
      (Clock::now() - std::chrono::seconds(101)).time_since_epoch().count();
  EXPECT_NEAR(count_picks_of_0(), 10000, 300) << "ramp over: full share";
}

TEST(SlowStart, ABackendJoiningByReloadWarmsUp) {
  runtime::BackendRegistry registry;
  auto first = four_backends(registry, "");
  EXPECT_EQ(first->pools[0].backends[0].stats->routable_since.load(), 0)
      << "the first configuration is not warming up";
  auto second = main_pool(registry, R"(backends = ["127.0.0.1:8001", "127.0.0.1:8005"])", 2);
  EXPECT_EQ(second->pools[0].backends[0].stats->routable_since.load(), 0);
  EXPECT_GT(second->pools[0].backends[1].stats->routable_since.load(), 0) << "8005 is new";
}

TEST(Routing, FirstMatchingRouteInFileOrder) {
  runtime::BackendRegistry registry;
  auto snapshot = snapshot_with("round_robin", registry);
  const runtime::ListenerRuntime& listener = *snapshot->find_listener("public");
  const std::uint32_t main = pool_index(*snapshot, "main");
  const std::uint32_t ws = pool_index(*snapshot, "ws");
  EXPECT_EQ(runtime::WorkerView::route(listener, "x", "/ws/subscribe")->pool, ws);
  EXPECT_EQ(runtime::WorkerView::route(listener, "API.example.com:8545", "/ws"),
            &listener.routes[0])
      << "the /ws route comes first in the file";
  EXPECT_EQ(runtime::WorkerView::route(listener, "API.example.com:8545", "/rpc"),
            &listener.routes[1]);
  EXPECT_EQ(runtime::WorkerView::route(listener, "other", "/rpc"), &listener.routes[2]);
  EXPECT_EQ(runtime::WorkerView::route(listener, "other", "/rpc")->pool, main);
}

TEST(Snapshots, KeepingABackendKeepsItsLiveCounters) {
  runtime::BackendRegistry registry;
  auto first = snapshot_with("least_connections", registry);
  const std::uint32_t main = pool_index(*first, "main");
  first->pools[main].backends[0].stats->active_connections = 42;
  auto second = snapshot_with("weighted", registry);  // a reload that changes the strategy
  EXPECT_EQ(second->pools[main].backends[0].stats.get(),
            first->pools[main].backends[0].stats.get());
  EXPECT_EQ(second->pools[main].backends[0].stats->active_connections.load(), 42);
}

}  // namespace
}  // namespace veer::runtime
