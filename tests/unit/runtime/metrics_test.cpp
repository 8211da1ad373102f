// The workers' metrics series, without sockets (runtime/metrics.hpp).
#include "runtime/metrics.hpp"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
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

// The rollout judge's evidence from one split target: every answer in `answered`, the
// errors apart, and its time in latency_bucket's bucket; add_to adds all of it. Checked
// against a model kept by hand over a long random sequence, on two workers' series.
TEST(SplitTargetSeries, CountAnswerAndAddToMatchAModel) {
  std::mt19937_64 random(17);
  SplitTargetSeries w0, w1;
  TargetEvidence model;
  // Times from 0 to ~100 s on a log scale, so every bucket range (µs, log-linear, the
  // last one past 67 s) is visited; some exactly on microsecond boundaries.
  std::uniform_real_distribution<double> log_ns(0, 11);
  for (int i = 0; i < 20000; ++i) {
    auto elapsed =
        std::chrono::nanoseconds(static_cast<std::int64_t>(std::pow(10.0, log_ns(random))));
    if (i % 7 == 0) elapsed = std::chrono::duration_cast<std::chrono::microseconds>(elapsed);
    const bool error = random() % 10 == 0;
    (i % 2 == 0 ? w0 : w1).count_answer(error, elapsed);
    ++model.requests;
    model.errors += error ? 1 : 0;
    ++model.latency[latency_bucket(elapsed)];
  }
  EXPECT_EQ(w0.assigned.value(), 0u) << "assigned is the split's count, not the answer's";
  EXPECT_EQ(w0.answered.value() + w1.answered.value(), 20000u);
  TargetEvidence summed;
  w0.add_to(summed);
  w1.add_to(summed);
  EXPECT_EQ(summed, model);
  EXPECT_GT(model.latency.front(), 0u) << "sub-microsecond answers";
  EXPECT_GT(model.latency.back(), 0u) << "answers slower than 67 s";
  // add_to adds: a second pass doubles every count.
  w0.add_to(summed);
  w1.add_to(summed);
  EXPECT_EQ(summed.requests, 2 * model.requests);
  EXPECT_EQ(summed.errors, 2 * model.errors);
  EXPECT_EQ(summed.latency[latency_bucket(std::chrono::milliseconds(1))],
            2 * model.latency[latency_bucket(std::chrono::milliseconds(1))]);
}

TEST(SplitTargetSeries, EachAnswerLandsInItsOwnBucket) {
  using std::chrono::microseconds;
  const std::array<std::chrono::nanoseconds, 6> times = {
      std::chrono::nanoseconds(0),   microseconds(1),          microseconds(15), microseconds(16),
      std::chrono::milliseconds(25), std::chrono::seconds(100)};
  for (const std::chrono::nanoseconds t : times) {
    SplitTargetSeries series;
    series.count_answer(false, t);
    TargetEvidence evidence;
    series.add_to(evidence);
    EXPECT_EQ(evidence.requests, 1u);
    EXPECT_EQ(evidence.errors, 0u);
    for (std::size_t b = 0; b < kLatencyBuckets; ++b)
      EXPECT_EQ(evidence.latency[b], b == latency_bucket(t) ? 1u : 0u) << t.count() << " ns";
  }
  SplitTargetSeries failed;
  failed.count_answer(true, std::chrono::milliseconds(3));
  EXPECT_EQ(failed.errors.value(), 1u);
  EXPECT_EQ(failed.answered.value(), 1u);
}

// Split targets by (split, pool) name: kept across snapshots, summed over workers by
// add_split_assignments (assigned) and add_split_evidence (answers), and forgotten with
// the last view that held them.
TEST(MetricsView, SplitTargetsByNameAcrossSnapshotsAndWorkers) {
  BackendRegistry registry;
  WorkerMetrics w0, w1;
  std::map<SplitTargetKey, std::uint64_t> assigned;
  std::map<SplitTargetKey, TargetEvidence> evidence;
  {
    const auto snap = snapshot(registry);
    const MetricsView v0(*snap, w0), v1(*snap, w1);
    const MetricsView again(*snapshot(registry), w0);
    EXPECT_EQ(&again.split_target(0, 1), &v0.split_target(0, 1)) << "a reload keeps counting";
    EXPECT_NE(&v0.split_target(0, 0), &v0.split_target(0, 1));
    EXPECT_NE(&v0.split_target(0, 0), &v1.split_target(0, 0)) << "one writer each";
    v0.split_target(0, 0).assigned.add(3);
    v1.split_target(0, 0).assigned.add(2);
    v1.split_target(0, 1).assigned.add(1);
    v0.split_target(0, 0).count_answer(false, 2ms);
    v0.split_target(0, 0).count_answer(true, 2ms);
    v1.split_target(0, 0).count_answer(false, 4ms);
    v1.split_target(0, 1).count_answer(true, 9ms);
    for (const WorkerMetrics* w : {&w0, &w1}) {
      w->add_split_assignments(assigned);
      w->add_split_evidence(evidence);
    }
  }
  const SplitTargetKey blue{"release", "blue"}, green{"release", "green"};
  EXPECT_EQ(assigned, (std::map<SplitTargetKey, std::uint64_t>{{blue, 5}, {green, 1}}));
  ASSERT_EQ(evidence.size(), 2u);
  EXPECT_EQ(evidence[blue].requests, 3u);
  EXPECT_EQ(evidence[blue].errors, 1u);
  EXPECT_EQ(evidence[blue].latency[latency_bucket(2ms)], 2u);
  EXPECT_EQ(evidence[blue].latency[latency_bucket(4ms)], 1u);
  EXPECT_EQ(evidence[green].requests, 1u);
  EXPECT_EQ(evidence[green].errors, 1u);
  w0.forget_unused();
  std::map<SplitTargetKey, TargetEvidence> after;
  w0.add_split_evidence(after);
  EXPECT_TRUE(after.empty()) << "no view holds them any more";
}

}  // namespace
}  // namespace veer::runtime
