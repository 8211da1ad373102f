// The /metrics collector: the workers' series summed and exported (admin/metrics.hpp).
#include "admin/metrics.hpp"

#include <gtest/gtest.h>

#include <prometheus/metric_family.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "runtime/metrics.hpp"
#include "runtime/snapshot.hpp"
#include "unit/runtime/metrics_fixture.hpp"

namespace veer::admin {
namespace {

using runtime::unit::snapshot;

using namespace std::chrono_literals;

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
}  // namespace veer::admin
