// The reload plan: what replacing one snapshot with the next drains, which admin holds
// apply and which split weight moves are announced, from the two snapshots alone.
#include "runtime/reload_plan.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "conf/load.hpp"
#include "conf/overrides.hpp"

namespace veer {
namespace {

using namespace std::chrono_literals;

// One listener routing to split "rpc" and to pool main; pools blue, green and main.
constexpr const char* kHead = R"(
[listeners.public]
address = "127.0.0.1:0"
  [[listeners.public.routes]]
  path_prefix = "/rpc"
  target = "rpc"
  [[listeners.public.routes]]
  target = "main"
[timeouts]
drain = "7s"
[pools.blue]
backends = ["127.0.0.1:19001"]
)";

constexpr const char* kGreen = R"(backends = ["127.0.0.1:19002"])";

class ReloadPlanTest : public testing::Test {
 protected:
  // The snapshot of kHead with these keys for pools main and green and split rpc, built
  // with this test's registry, as the server builds every snapshot with its own.
  std::shared_ptr<const runtime::Snapshot> build(const std::string& main, const std::string& split,
                                                 const std::string& green = kGreen) {
    const std::string toml = std::string(kHead) + "[pools.main]\n" + main + "\n[pools.green]\n" +
                             green + "\n[splits.rpc]\n" + split + "\n";
    conf::LoadResult loaded = conf::load_config_string(toml, "reload.toml");
    EXPECT_TRUE(loaded.ok()) << (loaded.errors.empty() ? "" : loaded.errors[0].to_string());
    if (!loaded.ok()) return nullptr;
    return runtime::build_snapshot(std::move(*loaded.config), ++version_, registry_);
  }

  static const runtime::BackendRuntime& backend(const runtime::Snapshot& snapshot,
                                                const std::string& pool,
                                                const std::string& address) {
    for (const runtime::PoolRuntime& p : snapshot.pools) {
      for (const runtime::BackendRuntime& b : p.backends) {
        if (p.name == pool && b.address == address) return b;
      }
    }
    ADD_FAILURE() << "no backend " << address << " in pool " << pool;
    return snapshot.pools.at(0).backends.at(0);
  }

  runtime::BackendRegistry registry_;
  std::uint64_t version_ = 0;
};

constexpr const char* kTwoBackends = R"(backends = ["127.0.0.1:8001", "127.0.0.1:8002"])";
constexpr const char* kEvenSplit = "targets = { blue = 50, green = 50 }";

TEST_F(ReloadPlanTest, EqualSnapshotsChangeNothing) {
  const auto previous = build(kTwoBackends, kEvenSplit);
  const auto next = build(kTwoBackends, kEvenSplit);
  ASSERT_TRUE(previous && next);
  const runtime::ReloadPlan plan = runtime::plan_reload(*previous, *next, {}, std::nullopt);
  EXPECT_TRUE(plan.removed.empty());
  EXPECT_TRUE(plan.splits.empty());
  // Every backend gets its hold, and with no runtime change none is held.
  ASSERT_EQ(plan.holds.size(), 4u);
  for (const runtime::AdminHold& hold : plan.holds) {
    EXPECT_FALSE(hold.drained) << hold.backend->address;
    EXPECT_FALSE(hold.down) << hold.backend->address;
  }
  EXPECT_EQ(plan.drain, 7s) << "timeouts.drain of the next snapshot";
}

TEST_F(ReloadPlanTest, ABackendRemovedFromAPoolIsDrained) {
  const auto previous = build(kTwoBackends, kEvenSplit);
  const auto next = build(R"(backends = ["127.0.0.1:8001"])", kEvenSplit);
  ASSERT_TRUE(previous && next);
  const runtime::ReloadPlan plan = runtime::plan_reload(*previous, *next, {}, std::nullopt);
  ASSERT_EQ(plan.removed.size(), 1u);
  EXPECT_EQ(plan.removed[0].pool->name, "main");
  EXPECT_EQ(plan.removed[0].backend->address, "127.0.0.1:8002");
  EXPECT_EQ(plan.removed[0].backend, &backend(*previous, "main", "127.0.0.1:8002"))
      << "the backend as the snapshot in force has it";
  EXPECT_EQ(plan.drain, 7s);
  EXPECT_EQ(runtime::plan_reload(*previous, *next, {}, 2s).drain, 2s)
      << "an admin call's own drain time wins";
  EXPECT_EQ(plan.holds.size(), 3u) << "holds are for the next snapshot's backends";
}

TEST_F(ReloadPlanTest, ABackendWhoseAddressStaysKeepsItsStats) {
  const auto previous = build(kTwoBackends, kEvenSplit);
  // Its weight and backup flag change, its pool and address do not.
  const auto next = build(R"(backends = [{ address = "127.0.0.1:8001", weight = 5 },
                                         { address = "127.0.0.1:8002", backup = true }])",
                          kEvenSplit);
  ASSERT_TRUE(previous && next);
  for (const char* address : {"127.0.0.1:8001", "127.0.0.1:8002"}) {
    EXPECT_EQ(backend(*previous, "main", address).stats, backend(*next, "main", address).stats)
        << address;
  }
  EXPECT_TRUE(runtime::removed_backends(*previous, *next).empty());
}

TEST_F(ReloadPlanTest, AnAddressMovedToAnotherPoolIsRemovedFromItsOldPool) {
  // Stats are per (pool, address): main's 8002 drains, green's is a new backend.
  const auto previous = build(kTwoBackends, kEvenSplit);
  const auto next = build(R"(backends = ["127.0.0.1:8001"])", kEvenSplit,
                          R"(backends = ["127.0.0.1:19002", "127.0.0.1:8002"])");
  ASSERT_TRUE(previous && next);
  const std::vector<runtime::RemovedBackend> removed = runtime::removed_backends(*previous, *next);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0].pool->name, "main");
  EXPECT_EQ(removed[0].backend->address, "127.0.0.1:8002");
  EXPECT_NE(removed[0].backend->stats, backend(*next, "green", "127.0.0.1:8002").stats);
}

TEST_F(ReloadPlanTest, SplitWeightMovesAreAnnouncedWithOldAndNewWeights) {
  const auto previous = build(kTwoBackends, "targets = { blue = 100, green = 0 }");
  const auto next = build(kTwoBackends, "targets = { blue = 0, green = 100 }");
  ASSERT_TRUE(previous && next);
  const std::vector<runtime::SplitWeightChange> changes =
      runtime::split_weight_changes(*previous, *next);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(changes[0].split, &next->splits[0]);
  ASSERT_EQ(changes[0].moves.size(), 2u);
  EXPECT_EQ(changes[0].moves[0].pool, "blue");
  EXPECT_EQ(changes[0].moves[0].from, 100u);
  EXPECT_EQ(changes[0].moves[0].to, 0u);
  EXPECT_EQ(runtime::describe(changes[0].moves), "blue 100 -> 0, green 0 -> 100");
  ASSERT_EQ(changes[0].emptied.size(), 1u) << "blue went to 0; green did not";
  EXPECT_EQ(changes[0].emptied[0]->pool, "blue");
  EXPECT_EQ(changes[0].emptied[0], previous->splits[0].tags[0])
      << "the same tag the tunnels of the snapshot in force carry";
}

TEST_F(ReloadPlanTest, OnlyTheTargetsThatMovedAreAnnounced) {
  const auto previous = build(kTwoBackends, "targets = { blue = 90, green = 10 }");
  const auto same_blue = build(kTwoBackends, "targets = { blue = 90, green = 20 }");
  ASSERT_TRUE(previous && same_blue);
  const auto changes = runtime::split_weight_changes(*previous, *same_blue);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(runtime::describe(changes[0].moves), "green 10 -> 20");
  EXPECT_TRUE(changes[0].emptied.empty());
}

TEST_F(ReloadPlanTest, ATargetNewToTheSplitMovesFromZero) {
  const auto previous = build(kTwoBackends, "targets = { blue = 100 }");
  const auto next = build(kTwoBackends, "targets = { blue = 100, green = 0, main = 5 }");
  ASSERT_TRUE(previous && next);
  const auto changes = runtime::split_weight_changes(*previous, *next);
  ASSERT_EQ(changes.size(), 1u);
  EXPECT_EQ(runtime::describe(changes[0].moves), "main 0 -> 5")
      << "green joins at 0: nothing moved";
  EXPECT_TRUE(changes[0].emptied.empty());
}

TEST_F(ReloadPlanTest, ASplitNewToTheConfigurationIsNotAChange) {
  const auto next = build(kTwoBackends, kEvenSplit);
  ASSERT_TRUE(next);
  const runtime::Snapshot without_splits;
  EXPECT_TRUE(runtime::split_weight_changes(without_splits, *next).empty());
}

TEST_F(ReloadPlanTest, AdminHoldsComeFromTheRuntimeChanges) {
  const auto previous = build(kTwoBackends, kEvenSplit);
  const auto next = build(kTwoBackends, kEvenSplit);
  ASSERT_TRUE(previous && next);
  conf::Overrides changes;
  conf::set_admin_state(changes, "main", "127.0.0.1:8001", conf::AdminState::drain);
  conf::set_admin_state(changes, "blue", "127.0.0.1:19001", conf::AdminState::down);
  const runtime::ReloadPlan plan = runtime::plan_reload(*previous, *next, changes, std::nullopt);
  ASSERT_EQ(plan.holds.size(), 4u);
  int held = 0;
  for (const runtime::AdminHold& hold : plan.holds) {
    const std::string who = hold.pool->name + "/" + hold.backend->address;
    EXPECT_EQ(hold.drained, who == "main/127.0.0.1:8001") << who;
    EXPECT_EQ(hold.down, who == "blue/127.0.0.1:19001") << who;
    EXPECT_EQ(hold.backend, &backend(*next, hold.pool->name, hold.backend->address))
        << "holds are on the next snapshot";
    held += (hold.drained || hold.down) ? 1 : 0;
  }
  EXPECT_EQ(held, 2);
  EXPECT_TRUE(plan.removed.empty());
  EXPECT_TRUE(plan.splits.empty());
}

}  // namespace
}  // namespace veer
