// The workers' metrics series, without sockets (runtime/metrics.hpp).
#include "runtime/metrics.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>

#include "conf/load.hpp"

#include "runtime/snapshot.hpp"
#include "unit/runtime/metrics_fixture.hpp"

namespace veer::runtime {
namespace {

using unit::snapshot;

using namespace std::chrono_literals;

TEST(ExchangeSeries, ResponsesGoToTheirClassAndTimesToTheirBucket) {
  runtime::ExchangeSeries s;
  for (const std::uint16_t status : {101, 200, 204, 302, 404, 503, 599})
    s.count_response(status);
  EXPECT_EQ(s.responses[0].value(), 1u);
  EXPECT_EQ(s.responses[1].value(), 2u);
  EXPECT_EQ(s.responses[2].value(), 1u);
  EXPECT_EQ(s.responses[3].value(), 1u);
  EXPECT_EQ(s.responses[4].value(), 2u);
  s.time_response(400us);  // below the first bound
  s.time_response(500us);  // on a bound: "le" includes it
  s.time_response(3ms);    // (0.0025, 0.005]
  s.time_response(20s);    // +Inf
  EXPECT_EQ(s.response_time[0].value(), 2u);
  EXPECT_EQ(s.response_time[3].value(), 1u);
  EXPECT_EQ(s.response_time.back().value(), 1u);
  EXPECT_EQ(s.response_time_sum_ns.value(), 400'000u + 500'000u + 3'000'000u + 20'000'000'000u);
}

TEST(WorkerMetrics, SeriesAreSharedByLabelsAndForgottenWhenNoViewHoldsThem) {
  runtime::WorkerMetrics metrics;
  auto a = metrics.series({"rpc", "*/", "blue", "127.0.0.1:9001"});
  auto again = metrics.series({"rpc", "*/", "blue", "127.0.0.1:9001"});
  EXPECT_EQ(a, again) << "a reload keeps counting into the same series";
  metrics.series({"rpc", "*/", "blue", "127.0.0.1:9002"});  // nothing holds it
  metrics.forget_unused();
  int seen = 0;
  metrics.visit_series([&](const runtime::SeriesKey& key, const runtime::ExchangeSeries&) {
    ++seen;
    EXPECT_EQ(key.backend, "127.0.0.1:9001");
  });
  EXPECT_EQ(seen, 1);
}

TEST(MetricsView, EveryRouteReachesTheSeriesOfItsPoolsBackends) {
  runtime::BackendRegistry registry;
  const auto snap = snapshot(registry);
  runtime::WorkerMetrics metrics;
  const runtime::MetricsView view(*snap, metrics);
  // Route 0 goes through the split to both pools; route 1 to blue only.
  const runtime::RouteSeries& split_route = view.route(0, 0);
  const runtime::RouteSeries& blue_route = view.route(0, 1);
  EXPECT_EQ(split_route.pools[0].size(), 3u) << "two backends and the no-backend series";
  EXPECT_EQ(split_route.pools[1].size(), 2u);
  EXPECT_EQ(blue_route.pools[1].size(), 0u) << "green is unreachable from this route";
  EXPECT_NE(&split_route.backend(0, 0), &blue_route.backend(0, 0)) << "routes count apart";
  EXPECT_NE(&split_route.backend(0, 0), &split_route.no_backend(0));
  EXPECT_NE(&view.unrouted(0), &split_route.no_backend(0));
}

// Policy counters are kept by name across snapshots, summed over workers, and forgotten
// with the last view of a snapshot that had the policy.
TEST(MetricsView, PolicyCountersByNameAcrossSnapshots) {
  const auto load = [](const std::string& policies) {
    conf::LoadResult r = conf::load_config_string(
        "[listeners.rpc]\naddress = \"127.0.0.1:8545\"\n  [[listeners.rpc.routes]]\n"
        "  target = \"blue\"\n[pools.blue]\nbackends = [\"127.0.0.1:9001\"]\n" +
            policies,
        "m.toml");
    EXPECT_TRUE(r.ok());
    return *r.config;
  };
  BackendRegistry registry;
  const auto both =
      build_snapshot(load("[limits.a]\nrate = \"1/s\"\n[limits.b]\nrate = \"2/s\"\n"), 1, registry);
  WorkerMetrics w0, w1;
  std::map<std::string, PolicyCounters> totals;
  {
    const MetricsView v0(*both, w0), v1(*both, w1);
    v0.policy(0).allowed.add(3);
    v1.policy(0).allowed.add(2);
    v1.policy(0).limited.add(1);
    v1.policy(1).delayed.add(4);
    v0.policy(1).dry_run_limited.add(5);
    const auto only_b = build_snapshot(load("[limits.b]\nrate = \"9/s\"\n"), 2, registry);
    const MetricsView next(*only_b, w0);
    EXPECT_EQ(&next.policy(0), &v0.policy(1)) << "b keeps its counters";
    w0.add_policy_counters(totals);
    w1.add_policy_counters(totals);
  }
  EXPECT_EQ(totals["a"].allowed.value(), 5u);
  EXPECT_EQ(totals["a"].limited.value(), 1u);
  EXPECT_EQ(totals["b"].delayed.value(), 4u);
  EXPECT_EQ(totals["b"].dry_run_limited.value(), 5u);
  w0.forget_unused();
  std::map<std::string, PolicyCounters> after;
  w0.add_policy_counters(after);
  EXPECT_TRUE(after.empty()) << "no view holds them any more";
}

}  // namespace
}  // namespace veer::runtime
