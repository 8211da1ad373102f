// The /metrics collector: the workers' series summed and exported (admin/metrics.hpp).
#include "admin/metrics.hpp"

#include <gtest/gtest.h>

#include <prometheus/metric_family.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "conf/load.hpp"
#include "runtime/limits_runtime.hpp"
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
  v0.split_target(0, 0).assigned.add(2);
  v1.split_target(0, 1).assigned.add(1);
  v0.split_target(0, 0).count_answer(false, 2ms);
  v1.split_target(0, 0).count_answer(true, 3ms);
  v1.split_target(0, 1).count_answer(false, 1ms);
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
  // Summed over the workers, ok and error per target.
  const auto& answers = family(families, "veer_split_target_answers_total");
  std::map<std::string, double> answer_counts;
  for (const auto& m : answers.metric)
    answer_counts[label(m, "pool") + "/" + label(m, "outcome")] = m.counter.value;
  EXPECT_EQ(answer_counts,
            (std::map<std::string, double>{
                {"blue/ok", 1}, {"blue/error", 1}, {"green/ok", 1}, {"green/error", 0}}));
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

// Policies: requests by outcome from the workers, the tables from their Limiters, one
// refusal family with a reason label.
TEST(MetricsCollector, RateLimitPoliciesAndRefusals) {
  conf::LoadResult loaded = conf::load_config_string(R"(
[listeners.rpc]
address = "127.0.0.1:8545"
limits = ["per_client"]
  [[listeners.rpc.routes]]
  target = "blue"
[pools.blue]
backends = ["127.0.0.1:9001"]
[limits.per_client]
rate = "1/m"
max_keys = 1000
)",
                                                     "m.toml");
  ASSERT_TRUE(loaded.ok());
  runtime::BackendRegistry registry;
  const auto snap = runtime::build_snapshot(*loaded.config, 1, registry);
  runtime::WorkerMetrics w0, w1;
  const runtime::MetricsView v0(*snap, w0), v1(*snap, w1);
  // A key's state lives until its next token is due: at 1/m, far longer than this test
  // takes on a loaded machine (at 100/s a sanitizer build saw the five keys expire).
  v0.policy(0).allowed.add(7);
  v1.policy(0).allowed.add(3);
  v1.policy(0).limited.add(2);
  w0.refusals.max_in_flight.add(4);
  w1.refusals.max_in_flight.add(1);
  w1.refusals.proxy_protocol.add(6);
  const limits::Gcra gcra = snap->policies[0].gcra;
  const std::int64_t now = runtime::limiter_now();
  for (std::uint64_t key = 1; key <= 5; ++key)
    snap->policies[0].limiter->acquire(key, now, gcra);

  admin::MetricsSources sources;
  sources.snapshot = snap;
  sources.workers = {&w0, &w1};
  const auto families = admin::MetricsCollector(sources).Collect();
  std::map<std::string, double> outcomes;
  for (const auto& m : family(families, "veer_rate_limit_requests_total").metric) {
    EXPECT_EQ(label(m, "policy"), "per_client");
    outcomes[label(m, "outcome")] = m.counter.value;
  }
  EXPECT_EQ(outcomes,
            (std::map<std::string, double>{
                {"allowed", 10}, {"delayed", 0}, {"dry_run_limited", 0}, {"limited", 2}}));
  EXPECT_EQ(family(families, "veer_rate_limit_keys").metric.at(0).gauge.value, 5);
  EXPECT_GE(family(families, "veer_rate_limit_capacity_keys").metric.at(0).gauge.value, 1000);
  EXPECT_EQ(family(families, "veer_rate_limit_evictions_total").metric.at(0).counter.value, 0);
  EXPECT_GT(family(families, "veer_rate_limit_table_bytes").metric.at(0).gauge.value, 0);
  std::map<std::string, double> reasons;
  for (const auto& m : family(families, "veer_refusals_total").metric)
    reasons[label(m, "reason")] = m.counter.value;
  EXPECT_EQ(reasons, (std::map<std::string, double>{{"max_connections", 0},
                                                    {"max_connections_per_client", 0},
                                                    {"max_in_flight", 5},
                                                    {"proxy_protocol", 6}}));
  for (const auto& f : families)
    EXPECT_EQ(f.name.find("veer_rate_limit_cluster"), std::string::npos) << "local scope only";
}

// A cluster-scope Limiter as the Redis engine reports itself, in fallback.
class FallbackLimiter final : public limits::Limiter {
 public:
  limits::Decision acquire(std::uint64_t, std::int64_t, const limits::Gcra&) override { return {}; }
  limits::KeyState inspect(std::uint64_t, std::int64_t, const limits::Gcra&) const override {
    return {};
  }
  limits::LimiterStats stats(std::int64_t) const override {
    limits::LimiterStats s;
    s.mode = "local fallback";
    s.fallback_rate_divisor = 3;
    s.lease_block = 5;
    s.instances = 3;
    s.fallback_transitions = 2;
    s.fallback_allowed = 41;
    return s;
  }
};

TEST(MetricsCollector, ClusterPoliciesShowModeInstancesLeaseAndOvershoot) {
  conf::LoadResult loaded = conf::load_config_string(R"(
[listeners.rpc]
address = "127.0.0.1:8545"
limits = ["shared"]
  [[listeners.rpc.routes]]
  target = "blue"
[pools.blue]
backends = ["127.0.0.1:9001"]
[limits.shared]
rate = "100/s"
scope = "cluster"
[cluster]
redis = "127.0.0.1:6379"
)",
                                                     "m.toml");
  ASSERT_TRUE(loaded.ok());
  const runtime::LimiterSet limiters = runtime::LimiterSet::build(
      *loaded.config, nullptr,
      [](const auto&, const auto&) { return std::make_shared<FallbackLimiter>(); });
  runtime::BackendRegistry registry;
  admin::MetricsSources sources;
  sources.snapshot = runtime::build_snapshot(*loaded.config, 1, registry, {}, limiters);
  const auto families = admin::MetricsCollector(sources).Collect();
  std::map<std::string, double> modes;
  for (const auto& m : family(families, "veer_rate_limit_cluster_mode").metric)
    modes[label(m, "mode")] = m.gauge.value;
  EXPECT_EQ(modes, (std::map<std::string, double>{{"local fallback", 1}, {"shared", 0}}));
  EXPECT_EQ(family(families, "veer_rate_limit_cluster_instances").metric.at(0).gauge.value, 3);
  EXPECT_EQ(family(families, "veer_rate_limit_cluster_fallback_divisor").metric.at(0).gauge.value,
            3);
  EXPECT_EQ(family(families, "veer_rate_limit_cluster_lease_requests").metric.at(0).gauge.value, 5);
  EXPECT_EQ(
      family(families, "veer_rate_limit_cluster_max_overshoot_requests").metric.at(0).gauge.value,
      15);
  EXPECT_EQ(family(families, "veer_rate_limit_cluster_fallbacks_total").metric.at(0).counter.value,
            2);
  EXPECT_EQ(
      family(families, "veer_rate_limit_cluster_fallback_allowed_total").metric.at(0).counter.value,
      41);
  const std::string text = admin::prometheus_text(admin::MetricsCollector(sources));
  EXPECT_NE(text.find("veer_rate_limit_cluster_mode{policy=\"shared\",mode=\"local fallback\"} 1"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace veer::admin
