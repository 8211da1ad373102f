// The workers' metrics series, without sockets (runtime/metrics.hpp).
#include "runtime/metrics.hpp"

#include <gtest/gtest.h>

#include <chrono>

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

}  // namespace
}  // namespace veer::runtime
