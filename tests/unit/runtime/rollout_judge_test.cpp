// The rollout judge (runtime/rollout_judge.hpp): latency buckets, the evidence, the
// confidence sequence's coverage under looks after every trial, and the issue's
// scenarios simulated request by request (seeded), with the detection times, pass sample
// sizes and false-fail rates printed for docs/RELEASES.md.
#include "runtime/rollout_judge.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace veer::runtime {
namespace {

using std::chrono::microseconds;
using std::chrono::nanoseconds;

constexpr double kInfinity = std::numeric_limits<double>::infinity();

void report(const std::string& name, double value) {
  std::cout << "[judge figure] " << name << " = " << value << "\n";
  ::testing::Test::RecordProperty(name, std::to_string(value));
}

// ---- latency buckets -------------------------------------------------------------------

TEST(LatencyBucket, LinearBelowSixteenMicrosThenSixteenPerOctave) {
  EXPECT_EQ(latency_bucket(nanoseconds(-5)), 0u);
  EXPECT_EQ(latency_bucket(nanoseconds(0)), 0u);
  EXPECT_EQ(latency_bucket(nanoseconds(999)), 0u);
  EXPECT_EQ(latency_bucket(microseconds(1)), 1u);
  EXPECT_EQ(latency_bucket(microseconds(15)), 15u);
  EXPECT_EQ(latency_bucket(microseconds(16)), 16u);
  EXPECT_EQ(latency_bucket(microseconds(31)), 31u);
  EXPECT_EQ(latency_bucket(microseconds(32)), 32u);
  EXPECT_EQ(latency_bucket(microseconds(33)), 32u) << "two microseconds wide from 32";
  EXPECT_EQ(latency_bucket(microseconds(34)), 33u);
  EXPECT_EQ(latency_bucket(microseconds((1 << 26) - 1)), kLatencyBuckets - 2);
  EXPECT_EQ(latency_bucket(microseconds(1 << 26)), kLatencyBuckets - 1);
  EXPECT_EQ(latency_bucket(std::chrono::hours(24 * 365)), kLatencyBuckets - 1);
  EXPECT_EQ(latency_bucket_upper_ms(0), 0.001);
  EXPECT_EQ(latency_bucket_upper_ms(16), 0.017);
  EXPECT_EQ(latency_bucket_upper_ms(kLatencyBuckets - 2), (1 << 26) / 1000.0);
  EXPECT_EQ(latency_bucket_upper_ms(kLatencyBuckets - 1), kInfinity);
}

TEST(LatencyBucket, EveryTimeLiesInItsBucketAndBucketsAreNarrow) {
  std::mt19937_64 random(17);
  std::int64_t previous_ns = 0;
  for (int i = 0; i < 200000; ++i) {
    // Log-uniform over 1 ns .. 2^37 ns (137 s): every octave and the overflow bucket.
    const auto ns =
        static_cast<std::int64_t>(std::exp2(std::uniform_real_distribution(0.0, 37.0)(random)));
    const std::size_t bucket = latency_bucket(nanoseconds(ns));
    ASSERT_LT(bucket, kLatencyBuckets);
    const double ms = static_cast<double>(ns / 1000) / 1000;  // whole microseconds
    ASSERT_LT(ms, latency_bucket_upper_ms(bucket)) << ns;
    if (bucket > 0) {
      ASSERT_GE(ms, latency_bucket_upper_ms(bucket - 1)) << ns;
    }
    if (bucket >= 16 && bucket + 1 < kLatencyBuckets) {
      const double lower = latency_bucket_upper_ms(bucket - 1);
      ASSERT_LE(latency_bucket_upper_ms(bucket) / lower, 1.0 + 1.0 / 16 + 1e-12) << bucket;
    }
    if (ns > previous_ns) {
      ASSERT_GE(bucket, latency_bucket(nanoseconds(previous_ns))) << "monotone";
    }
    previous_ns = ns;
  }
  for (std::size_t b = 1; b < kLatencyBuckets; ++b) {
    ASSERT_LT(latency_bucket_upper_ms(b - 1), latency_bucket_upper_ms(b));
  }
}

// ---- evidence ---------------------------------------------------------------------------

TEST(TargetEvidence, RatiosQuantilesAndSlowerAnswers) {
  TargetEvidence evidence;
  EXPECT_EQ(evidence.error_ratio(), 0);
  EXPECT_TRUE(std::isnan(evidence.quantile_ms(0.99)));
  EXPECT_EQ(evidence.slower_than(1), 0u);
  for (int ms = 1; ms <= 100; ++ms)
    ++evidence.latency[latency_bucket(std::chrono::milliseconds(ms))];
  evidence.requests = 100;
  evidence.errors = 3;
  EXPECT_DOUBLE_EQ(evidence.error_ratio(), 0.03);
  // 90 answers are at most 90 ms; the bucket holding 90 ms ends within 1/16 above it.
  EXPECT_GT(evidence.quantile_ms(0.9), 90);
  EXPECT_LE(evidence.quantile_ms(0.9), 90 * (1 + 1.0 / 16));
  EXPECT_LT(evidence.quantile_ms(0.9), 91) << "91 ms sits in a later bucket";
  EXPECT_EQ(evidence.quantile_ms(1),
            latency_bucket_upper_ms(latency_bucket(std::chrono::milliseconds(100))));
  EXPECT_EQ(evidence.slower_than(50.5), 50u - 1) << "51 ms shares 50.5 ms's bucket";
  EXPECT_EQ(evidence.slower_than(1000), 0u);
  EXPECT_EQ(evidence.slower_than(0), 100u);
  EXPECT_EQ(evidence.slower_than(kInfinity), 0u);

  TargetEvidence sum = evidence;
  sum.add(evidence);
  EXPECT_EQ(sum.requests, 200u);
  EXPECT_EQ(sum.errors, 6u);
  EXPECT_EQ(sum.quantile_ms(0.9), evidence.quantile_ms(0.9));
  EXPECT_EQ(sum.slower_than(50.5), 98u);
  EXPECT_NE(sum, evidence);
  EXPECT_STREQ(to_string(Verdict::pending), "pending");
  EXPECT_STREQ(to_string(Verdict::pass), "pass");
  EXPECT_STREQ(to_string(Verdict::fail), "fail");
}

// ---- the confidence sequence ------------------------------------------------------------

TEST(RateConfidence, HoldsTheObservedRateAndNarrows) {
  EXPECT_EQ(rate_confidence(0, 0, 0.05).low, 0);
  EXPECT_EQ(rate_confidence(0, 0, 0.05).high, 1);
  EXPECT_EQ(rate_confidence(50, 0, 0.05).low, 0);
  EXPECT_EQ(rate_confidence(50, 50, 0.05).high, 1);
  double previous_width = 1;
  for (std::uint64_t n = 10; n <= 1000000; n *= 10) {
    for (const double rate : {0.0, 0.001, 0.05, 0.5, 0.99}) {
      const auto k = static_cast<std::uint64_t>(rate * static_cast<double>(n));
      const Interval interval = rate_confidence(n, k, 0.05);
      const double observed = static_cast<double>(k) / static_cast<double>(n);
      EXPECT_LE(interval.low, observed);
      EXPECT_GE(interval.high, observed);
      EXPECT_GE(interval.low, 0);
      EXPECT_LE(interval.high, 1);
      const Interval wider = rate_confidence(n, k, 0.01);
      EXPECT_LE(wider.low, interval.low);
      EXPECT_GE(wider.high, interval.high);
    }
    const Interval half = rate_confidence(n, n / 2, 0.05);
    EXPECT_LT(half.high - half.low, previous_width);
    previous_width = half.high - half.low;
  }
  EXPECT_LT(previous_width, 0.01);
}

// The sequence is checked after EVERY trial (the first 200, then every 10th), and a run
// counts as a miss if the true rate ever left it: the share of such runs must stay
// within alpha plus three standard errors.
TEST(RateConfidence, CoversTheRateAtEveryLook) {
  constexpr double kAlpha = 0.1;
  constexpr int kRuns = 100;
  constexpr std::uint64_t kTrials = 3000;
  for (const double rate : {0.002, 0.02, 0.3}) {
    std::mt19937_64 random(static_cast<std::uint64_t>(rate * 1e6));
    std::bernoulli_distribution draw(rate);
    int misses = 0;
    for (int run = 0; run < kRuns; ++run) {
      std::uint64_t k = 0;
      for (std::uint64_t n = 1; n <= kTrials; ++n) {
        k += draw(random) ? 1 : 0;
        if (n > 200 && n % 10 != 0) continue;
        const Interval interval = rate_confidence(n, k, kAlpha);
        if (rate < interval.low || rate > interval.high) {
          ++misses;
          break;
        }
      }
    }
    const double miss_rate = static_cast<double>(misses) / kRuns;
    report("coverage_miss_rate_p" + std::to_string(rate), miss_rate);
    EXPECT_LE(miss_rate, kAlpha + 3 * std::sqrt(kAlpha * (1 - kAlpha) / kRuns)) << rate;
  }
}

// ---- simulated traffic --------------------------------------------------------------------

// One target's behaviour: its error ratio and response time (base + exponential tail,
// mean 1 ms: a p90 near base + 2.3 ms, a p99 near base + 4.6 ms).
struct Behaviour {
  double error_ratio = 0.001;
  double base_ms = 1;
};

struct Traffic {
  double requests_per_second = 200;
  double canary_share = 0.01;  // the step's percent / 100
  Behaviour stable;
  Behaviour canary;
};

struct Guards {
  std::optional<conf::ErrorGuardConfig> error_ratio;
  std::optional<conf::LatencyGuardConfig> latency;
};

Verdict overall(const TargetEvidence& stable, const TargetEvidence& canary, const Guards& guards) {
  bool all_pass = true;
  if (guards.error_ratio) {
    const Verdict v = judge_error_ratio(stable, canary, *guards.error_ratio).verdict;
    if (v == Verdict::fail) return Verdict::fail;
    all_pass = all_pass && v == Verdict::pass;
  }
  if (guards.latency) {
    const Verdict v = judge_latency(stable, canary, *guards.latency).verdict;
    if (v == Verdict::fail) return Verdict::fail;
    all_pass = all_pass && v == Verdict::pass;
  }
  return all_pass ? Verdict::pass : Verdict::pending;
}

class StepSimulation {
 public:
  StepSimulation(const Traffic& traffic, std::uint64_t seed) : traffic_(traffic), random_(seed) {}

  // One request of a distinct key: to the canary with the step's share.
  void request() {
    const bool to_canary = std::bernoulli_distribution(traffic_.canary_share)(random_);
    const Behaviour& behaviour = to_canary ? traffic_.canary : traffic_.stable;
    TargetEvidence& evidence = to_canary ? canary : stable;
    ++evidence.requests;
    if (std::bernoulli_distribution(behaviour.error_ratio)(random_)) ++evidence.errors;
    const double ms = behaviour.base_ms + std::exponential_distribution(1.0)(random_);
    ++evidence.latency[latency_bucket(nanoseconds(static_cast<std::int64_t>(ms * 1e6)))];
  }

  // Requests at a steady rate, judged every 100 ms of simulated time, until a decision
  // or `max_seconds`. Returns the decision and its simulated time.
  std::pair<Verdict, double> run(const Guards& guards, double max_seconds) {
    const double per_tick = traffic_.requests_per_second / 10;
    double owed = 0;
    for (int tick = 1; tick <= static_cast<int>(max_seconds * 10); ++tick) {
      owed += per_tick;
      for (; owed >= 1; owed -= 1)
        request();
      const Verdict verdict = overall(stable, canary, guards);
      if (verdict != Verdict::pending) return {verdict, tick / 10.0};
    }
    return {Verdict::pending, kInfinity};
  }

  TargetEvidence stable;
  TargetEvidence canary;

 private:
  Traffic traffic_;
  std::mt19937_64 random_;
};

struct Outcomes {
  std::vector<double> seconds;  // of the runs that reached `wanted`, sorted
  int wanted = 0;
  int opposite = 0;
  int runs = 0;
  double median() const { return seconds.empty() ? kInfinity : seconds[seconds.size() / 2]; }
  double max() const { return seconds.empty() ? kInfinity : seconds.back(); }
  double within(double limit) const {
    return static_cast<double>(std::upper_bound(seconds.begin(), seconds.end(), limit) -
                               seconds.begin()) /
           runs;
  }
};

Outcomes simulate(const Traffic& traffic, const Guards& guards, Verdict wanted, int runs,
                  double max_seconds, std::uint64_t seed) {
  Outcomes outcomes;
  outcomes.runs = runs;
  for (int run = 0; run < runs; ++run) {
    StepSimulation step(traffic, seed * 1000003 + static_cast<std::uint64_t>(run));
    const auto [verdict, seconds] = step.run(guards, max_seconds);
    if (verdict == wanted) {
      ++outcomes.wanted;
      outcomes.seconds.push_back(seconds);
    } else if (verdict != Verdict::pending) {
      ++outcomes.opposite;
    }
  }
  std::sort(outcomes.seconds.begin(), outcomes.seconds.end());
  return outcomes;
}

void report_times(const std::string& name, const Outcomes& outcomes) {
  report(name + "_median_s", outcomes.median());
  report(name + "_max_s", outcomes.max());
}

const Guards kHealthyGuards{conf::ErrorGuardConfig{0.10, 0.05},
                            conf::LatencyGuardConfig{0.90, 50, 0.05}};

// ---- the scenarios ------------------------------------------------------------------

// How many canary answers without an error or a slow answer a pass needs, against a
// stable with plenty of answers: small, because the first step gives the canary 2 req/s.
TEST(RolloutJudge, APassNeedsFewCanaryAnswersAtTheHealthyTolerances) {
  TargetEvidence stable;
  stable.requests = 20000;
  stable.errors = 20;
  stable.latency[latency_bucket(std::chrono::milliseconds(2))] = 20000;
  TargetEvidence canary;
  std::uint64_t error_pass_at = 0, latency_pass_at = 0;
  for (std::uint64_t n = 1; n <= 1000 && (error_pass_at == 0 || latency_pass_at == 0); ++n) {
    canary.requests = n;
    ++canary.latency[latency_bucket(std::chrono::milliseconds(2))];
    if (error_pass_at == 0 &&
        judge_error_ratio(stable, canary, *kHealthyGuards.error_ratio).verdict == Verdict::pass) {
      error_pass_at = n;
    }
    if (latency_pass_at == 0 &&
        judge_latency(stable, canary, *kHealthyGuards.latency).verdict == Verdict::pass) {
      latency_pass_at = n;
    }
  }
  report("pass_answers_error_tolerance_0.10", static_cast<double>(error_pass_at));
  report("pass_answers_latency_p90", static_cast<double>(latency_pass_at));
  EXPECT_GT(error_pass_at, 0u);
  EXPECT_LE(error_pass_at, 50u);
  EXPECT_GT(latency_pass_at, 0u);
  EXPECT_LE(latency_pass_at, 50u);
}

// Healthy: both 0.1 % errors and the same latency; steps 1, 5, 25, 50 at 200 req/s (the
// last step, 100 %, leaves the stable no traffic to compare: promoting is the
// controller's). Every step passes, none fails, and the judged time sums well under 120 s.
TEST(RolloutJudge, HealthyCanaryPassesEveryStepQuickly) {
  constexpr int kRuns = 40;
  double median_total = 0;
  for (const double percent : {1.0, 5.0, 25.0, 50.0}) {
    const Traffic traffic{200, percent / 100, {0.001, 1}, {0.001, 1}};
    const Outcomes outcomes = simulate(traffic, kHealthyGuards, Verdict::pass, kRuns, 90, 11);
    report_times("healthy_step_" + std::to_string(static_cast<int>(percent)) + "_pass", outcomes);
    EXPECT_EQ(outcomes.opposite, 0) << percent;
    EXPECT_EQ(outcomes.wanted, kRuns) << percent;
    median_total += outcomes.median();
  }
  report("healthy_total_median_s", median_total);
  EXPECT_LE(median_total, 60);
}

// A canary at 5 % errors against 0.1 %, tolerance 0.001, step 10: fails within 10 s.
TEST(RolloutJudge, FivePercentErrorsFailWithinSeconds) {
  constexpr int kRuns = 100;
  const Traffic traffic{200, 0.10, {0.001, 1}, {0.05, 1}};
  const Outcomes outcomes = simulate(traffic, Guards{conf::ErrorGuardConfig{0.001, 0.05}, {}},
                                     Verdict::fail, kRuns, 30, 2);
  report_times("errors_5pct_fail", outcomes);
  report("errors_5pct_fail_within_10s", outcomes.within(10));
  EXPECT_EQ(outcomes.opposite, 0);
  EXPECT_LE(outcomes.median(), 6);
  EXPECT_GE(outcomes.within(10), 0.9);
}

// 1 % against 0.1 %, tolerance 0.001, step 25: fails within 60 s.
TEST(RolloutJudge, OnePercentErrorsFailWithinAMinute) {
  constexpr int kRuns = 40;
  const Traffic traffic{200, 0.25, {0.001, 1}, {0.01, 1}};
  const Outcomes outcomes = simulate(traffic, Guards{conf::ErrorGuardConfig{0.001, 0.05}, {}},
                                     Verdict::fail, kRuns, 120, 3);
  report_times("errors_1pct_fail", outcomes);
  report("errors_1pct_fail_within_60s", outcomes.within(60));
  EXPECT_EQ(outcomes.opposite, 0);
  EXPECT_LE(outcomes.median(), 45);
  EXPECT_GE(outcomes.within(60), 0.85);
}

// A canary 100 ms slower, p99 guard +25 ms, no errors, step 10: fails on latency.
TEST(RolloutJudge, ASlowerCanaryFailsOnLatency) {
  constexpr int kRuns = 40;
  const Traffic traffic{200, 0.10, {0, 1}, {0, 101}};
  const Guards guards{conf::ErrorGuardConfig{0.01, 0.05}, conf::LatencyGuardConfig{0.99, 25, 0.05}};
  const Outcomes outcomes = simulate(traffic, guards, Verdict::fail, kRuns, 30, 4);
  report_times("latency_100ms_fail", outcomes);
  EXPECT_EQ(outcomes.wanted, kRuns);
  EXPECT_LE(outcomes.max(), 5);
  // And the guard says why: the stable's p99 near 5.6 ms, the canary's near 105 ms.
  StepSimulation step(traffic, 99);
  step.run(guards, 5);
  const GuardJudgement judgement = judge_latency(step.stable, step.canary, *guards.latency);
  EXPECT_EQ(judgement.verdict, Verdict::fail);
  EXPECT_GT(judgement.canary_value, 100);
  EXPECT_LT(judgement.stable_value, 20);
  EXPECT_NEAR(judgement.threshold_ms, judgement.stable_value + 25, 1e-9);
  EXPECT_GT(judgement.bound.low, judgement.limit);
}

// 1 req/s in all, step 10, 20 s: neither pass nor fail, whatever the guards (a healthy
// canary and one with 5 % errors alike: too little traffic holds).
TEST(RolloutJudge, LowTrafficStaysPending) {
  constexpr int kRuns = 30;
  for (const double canary_errors : {0.001, 0.05}) {
    const Traffic traffic{1, 0.10, {0.001, 1}, {canary_errors, 1}};
    for (const Guards& guards : {kHealthyGuards, Guards{conf::ErrorGuardConfig{}, {}},
                                 Guards{conf::ErrorGuardConfig{0.001, 0.05}, {}}}) {
      const Outcomes passes = simulate(traffic, guards, Verdict::pass, kRuns, 20, 5);
      EXPECT_EQ(passes.wanted, 0) << canary_errors;
      EXPECT_EQ(passes.opposite, 0) << canary_errors;
    }
  }
}

// False alarms: canary and stable alike (0.5 % errors, same latency), tolerance 0 so a
// pass never ends the run: over 400 runs of 20,000 requests at 50 %, judged every 100
// requests, the share of runs any guard ever fails must be at most alpha + 3 standard
// errors. A second round judges after every single request (fewer, shorter runs).
double false_fail_rate(int runs, int requests, int judge_every, const Guards& guards,
                       std::uint64_t seed) {
  const Traffic traffic{200, 0.5, {0.005, 1}, {0.005, 1}};
  int fails = 0;
  for (int run = 0; run < runs; ++run) {
    StepSimulation step(traffic, seed * 7919 + static_cast<std::uint64_t>(run));
    for (int i = 1; i <= requests; ++i) {
      step.request();
      if (i % judge_every != 0) continue;
      if (overall(step.stable, step.canary, guards) == Verdict::fail) {
        ++fails;
        break;
      }
    }
  }
  return static_cast<double>(fails) / runs;
}

TEST(RolloutJudge, IdenticalCanaryFailsAtMostAlphaOfTheTime) {
  constexpr double kAlpha = 0.05;
  const Guards errors_only{conf::ErrorGuardConfig{0, kAlpha}, {}};
  const Guards latency_only{{}, conf::LatencyGuardConfig{0.99, 0, kAlpha}};
  const auto bound = [&](int runs) { return kAlpha + 3 * std::sqrt(kAlpha * (1 - kAlpha) / runs); };

  const double error_rate = false_fail_rate(400, 20000, 100, errors_only, 6);
  report("false_fail_rate_error_ratio_400x20000", error_rate);
  EXPECT_LE(error_rate, bound(400));

  const double each_request = false_fail_rate(100, 1000, 1, errors_only, 7);
  report("false_fail_rate_error_ratio_every_request_100x1000", each_request);
  EXPECT_LE(each_request, bound(100));

  const double latency_rate = false_fail_rate(200, 5000, 25, latency_only, 8);
  report("false_fail_rate_latency_p99_200x5000", latency_rate);
  EXPECT_LE(latency_rate, bound(200));
}

// The decisions' edges: no requests on a side is pending, and the reported values.
TEST(RolloutJudge, WithoutAnswersOnASideItIsPending) {
  TargetEvidence some;
  some.requests = 1000;
  some.errors = 500;
  some.latency[latency_bucket(std::chrono::milliseconds(200))] = 1000;
  const TargetEvidence none;
  const conf::ErrorGuardConfig errors{0.001, 0.05};
  const conf::LatencyGuardConfig latency{0.99, 0, 0.05};
  EXPECT_EQ(judge_error_ratio(none, some, errors).verdict, Verdict::pending);
  EXPECT_EQ(judge_error_ratio(some, none, errors).verdict, Verdict::pending);
  EXPECT_EQ(judge_latency(none, some, latency).verdict, Verdict::pending);
  EXPECT_EQ(judge_latency(some, none, latency).verdict, Verdict::pending);
  const GuardJudgement judged = judge_error_ratio(none, some, errors);
  EXPECT_DOUBLE_EQ(judged.canary_value, 0.5);
  EXPECT_EQ(judged.stable_value, 0);
  EXPECT_EQ(judged.limit, 0.001);
  EXPECT_TRUE(std::isnan(judge_latency(none, some, latency).stable_value));
}

}  // namespace
}  // namespace veer::runtime
