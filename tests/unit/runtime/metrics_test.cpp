// The workers' metrics series and the /metrics collector, without sockets.
#include <gtest/gtest.h>

#include <prometheus/metric_family.h>

#include "admin/metrics.hpp"
#include "conf/load.hpp"
#include "runtime/metrics.hpp"
#include "runtime/snapshot.hpp"

namespace veer::runtime {
namespace {

using namespace std::chrono_literals;

std::shared_ptr<const runtime::Snapshot> snapshot(runtime::BackendRegistry& registry) {
  const conf::LoadResult loaded = conf::load_config_string(R"(
[listeners.rpc]
address = "127.0.0.1:8545"
  [[listeners.rpc.routes]]
  host = "api.example"
  path_prefix = "/v1"
  target = "release"
  [[listeners.rpc.routes]]
  target = "blue"
[pools.blue]
backends = ["127.0.0.1:9001", "127.0.0.1:9002"]
[pools.green]
backends = ["127.0.0.1:9003"]
[splits.release]
targets = { blue = 90, green = 10 }
[admin]
)",
                                                           "metrics.toml");
  EXPECT_TRUE(loaded.ok());
  return build_snapshot(*loaded.config, 1, registry);
}

const prometheus::MetricFamily& family(const std::vector<prometheus::MetricFamily>& all,
                                       const std::string& name) {
  for (const auto& f : all) {
    if (f.name == name) return f;
  }
  ADD_FAILURE() << "no family " << name;
  static const prometheus::MetricFamily none;
  return none;
}

std::string label(const prometheus::ClientMetric& m, const std::string& name) {
  for (const auto& l : m.label) {
    if (l.name == name) return l.value;
  }
  return "<none>";
}

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

TEST(MetricsCollector, SumsTheWorkersAndExportsEveryFamily) {
  runtime::BackendRegistry registry;
  const auto snap = snapshot(registry);
  runtime::WorkerMetrics w0, w1;
  const runtime::MetricsView v0(*snap, w0), v1(*snap, w1);
  v0.route(0, 0).backend(0, 1).count_response(200);
  v0.route(0, 0).backend(0, 1).time_response(2ms);
  v1.route(0, 0).backend(0, 1).count_response(200);
  v1.route(0, 0).backend(0, 1).time_response(7ms);
  v1.route(0, 1).backend(0, 1).count_response(502);  // same backend, other route
  v1.route(0, 1).backend(0, 1).time_response(7ms);
  v1.unrouted(0).count_response(400);
  v0.split_assignments(0, 0).add(2);
  v1.split_assignments(0, 1).add(1);
  w0.tunnels_opened.add(3);
  w1.tunnels_closed.add(1);

  admin::MetricsSources sources;
  sources.snapshot = snap;
  sources.workers = {&w0, &w1};
  sources.config.reloads_failed = 1;
  sources.config.last_reload_ok = false;
  sources.version = "1.2.3";
  sources.engine = "epoll";
  const auto families = admin::MetricsCollector(sources).Collect();

  const auto& requests = family(families, "veer_requests_total");
  ASSERT_EQ(requests.metric.size(), 3u) << "zero classes are left out";
  std::map<std::string, double> by_route;
  for (const auto& m : requests.metric)
    by_route[label(m, "route") + " " + label(m, "code")] = m.counter.value;
  EXPECT_EQ(by_route["api.example/v1 2xx"], 2) << "summed over both workers";
  EXPECT_EQ(by_route["*/ 5xx"], 1);
  EXPECT_EQ(by_route[" 4xx"], 1);

  const auto& times = family(families, "veer_backend_response_seconds");
  ASSERT_EQ(times.metric.size(), 3u) << "every backend of every reachable pool";
  for (const auto& m : times.metric) {
    if (label(m, "backend") != "127.0.0.1:9002") continue;
    EXPECT_EQ(m.histogram.sample_count, 3u) << "summed over routes and workers";
    EXPECT_NEAR(m.histogram.sample_sum, 0.016, 1e-9);
    EXPECT_EQ(m.histogram.bucket[3].cumulative_count, 1u);  // le 0.005
    EXPECT_EQ(m.histogram.bucket[4].cumulative_count, 3u);  // le 0.01
  }
  const auto& assignments = family(families, "veer_split_assignments_total");
  ASSERT_EQ(assignments.metric.size(), 2u);
  EXPECT_EQ(assignments.metric[0].counter.value, 2);  // blue
  EXPECT_EQ(assignments.metric[1].counter.value, 1);  // green
  EXPECT_EQ(family(families, "veer_websocket_tunnels").metric[0].gauge.value, 2);
  EXPECT_EQ(family(families, "veer_config_last_reload_successful").metric[0].gauge.value, 0);
  EXPECT_EQ(label(family(families, "veer_info").metric[0], "engine"), "epoll");
  EXPECT_EQ(family(families, "veer_backend_state").metric.size(), 3u * 5u);

  const std::string text = admin::prometheus_text(admin::MetricsCollector(sources));
  EXPECT_NE(text.find("veer_backend_response_seconds_bucket{pool=\"blue\",backend=\"127.0.0.1:"
                      "9002\",le=\"+Inf\"} 3"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace veer::runtime
