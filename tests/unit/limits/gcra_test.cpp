// GCRA (limits/gcra.hpp) against an exact rational token bucket (token_bucket_model.hpp).
#include "limits/gcra.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "unit/limits/token_bucket_model.hpp"

namespace veer::limits {
namespace {

using test::Int;
using test::Rational;
using test::TokenBucketModel;

constexpr std::int64_t kSecond = 1'000'000'000;
constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

bool equals(const Rational& model, std::int64_t value) {
  return model == Rational(static_cast<Int>(value));
}

// One config's random sequence of (time advance, key): every decision of gcra_step must
// be the token bucket's, field by field.
void check_against_model(std::uint64_t rate, std::int64_t per, std::uint64_t burst,
                         std::uint64_t delay, std::mt19937_64& rng, int steps) {
  const Gcra gcra = Gcra::of(rate, per, burst, delay);
  const std::int64_t t = gcra.interval;
  constexpr int kKeys = 3;
  std::vector<std::int64_t> tats(kKeys, 0);
  std::vector<TokenBucketModel> models(kKeys, TokenBucketModel(Rational(t), burst, delay));
  std::int64_t now = kSecond;
  for (int step = 0; step < steps; ++step) {
    // Bursts at one instant, gaps shorter than T, about T, and long enough to refill.
    switch (rng() % 5) {
      case 0:
        break;
      case 1:
        now += static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(t));
        break;
      case 2:
        now += static_cast<std::int64_t>(rng() % static_cast<std::uint64_t>(3 * t));
        break;
      case 3:
        now += static_cast<std::int64_t>(rng() % 4) * t;
        break;
      default:
        now += static_cast<std::int64_t>(rng() %
                                         ((burst + delay + 3) * static_cast<std::uint64_t>(t)));
    }
    const std::size_t key = rng() % kKeys;
    const Decision got = gcra_step(tats[key], now, gcra);
    const test::ModelDecision want = models[key].request(now);
    ASSERT_EQ(got.verdict, want.verdict) << "step " << step << " rate " << rate << " per " << per
                                         << " burst " << burst << " delay " << delay;
    ASSERT_TRUE(equals(want.wait, got.wait)) << "step " << step << " wait " << got.wait;
    ASSERT_EQ(got.remaining, want.remaining) << "step " << step;
    ASSERT_TRUE(equals(want.reset, got.reset)) << "step " << step << " reset " << got.reset;
  }
}

TEST(Gcra, MatchesAnExactTokenBucketOverLongRandomSequences) {
  const std::uint64_t rates[] = {1, 2, 3, 7, 10, 60, 100, 333, 1000, 1'000'000};
  const std::int64_t pers[] = {kSecond, 60 * kSecond, 3600 * kSecond};
  const std::uint64_t bursts[] = {0, 1, 2, 5, 20, 100};
  const std::uint64_t delays[] = {0, 1, 3, 10};
  std::mt19937_64 rng(14);
  int configs = 0;
  for (std::uint64_t rate : rates)
    for (std::int64_t per : pers)
      for (std::uint64_t burst : bursts) {
        const std::uint64_t delay = delays[rng() % 4];
        check_against_model(rate, per, burst, delay, rng, 10'000);
        ++configs;
      }
  EXPECT_EQ(configs, 180);
}

TEST(Gcra, IntervalIsThePeriodOverTheRateRoundedToTheNearestNanosecond) {
  for (std::uint64_t rate : {1ULL, 3ULL, 7ULL, 100ULL, 333ULL, 1'000'000ULL, 999'999'937ULL})
    for (std::int64_t per : {kSecond, 60 * kSecond, 3600 * kSecond}) {
      const Gcra gcra = Gcra::of(rate, per, 4, 2);
      const Rational exact(per, static_cast<Int>(rate));
      const Rational off = Rational(gcra.interval) - exact;
      EXPECT_TRUE(!(Rational(1) < off * Rational(2)) && !(off * Rational(2) < Rational(-1)))
          << rate << "/" << per;
      if (per % static_cast<std::int64_t>(rate) == 0) {
        EXPECT_EQ(gcra.interval, per / static_cast<std::int64_t>(rate));
      }
      EXPECT_EQ(gcra.burst_tolerance, 4 * gcra.interval);
      EXPECT_EQ(gcra.delay_tolerance, 6 * gcra.interval);
    }
}

TEST(Gcra, ExtremeParametersSaturateInsteadOfOverflowing) {
  const Gcra huge = Gcra::of(1, 3600 * kSecond, ~0ULL, ~0ULL);
  EXPECT_EQ(huge.burst_tolerance, kMax);
  EXPECT_EQ(huge.delay_tolerance, kMax);
  std::int64_t tat = 0;
  for (int i = 0; i < 1000; ++i)
    EXPECT_EQ(gcra_step(tat, kSecond, huge).verdict, Verdict::allow);
  tat = kMax - 5;
  const Decision near_top = gcra_step(tat, kSecond, huge);
  EXPECT_EQ(near_top.verdict, Verdict::allow);
  EXPECT_EQ(tat, kMax);

  const Gcra fast = Gcra::of(10'000'000'000ULL, kSecond, 0, 0);  // above 1e9/s: T = 1 ns
  EXPECT_EQ(fast.interval, 1);
  const Gcra zero_rate = Gcra::of(0, kSecond, 0, 0);  // read as 1/s
  EXPECT_EQ(zero_rate.interval, kSecond);
  const Gcra no_period = Gcra::of(5, 0, 0, 0);  // read as 1 ns
  EXPECT_EQ(no_period.interval, 1);
  std::int64_t fresh = 0;
  EXPECT_EQ(gcra_step(fresh, kSecond, Gcra{}).verdict, Verdict::allow) << "no division by 0";
}

TEST(Gcra, FreshKeyAdmitsBurstPlusOneThenRefusesWithTheTimeUntilAllowed) {
  const Gcra gcra = Gcra::of(100, kSecond, 20, 0);
  std::int64_t tat = 0;
  const std::int64_t now = 5 * kSecond;
  const Decision first = gcra_step(tat, now, gcra);
  EXPECT_EQ(first.remaining, 20u);
  EXPECT_EQ(first.reset, gcra.interval);
  for (int i = 1; i <= 20; ++i) {
    const Decision d = gcra_step(tat, now, gcra);
    EXPECT_EQ(d.verdict, Verdict::allow);
    EXPECT_EQ(d.remaining, static_cast<std::uint64_t>(20 - i));
  }
  const std::int64_t before = tat;
  const Decision refused = gcra_step(tat, now, gcra);
  EXPECT_EQ(refused.verdict, Verdict::refuse);
  EXPECT_EQ(refused.remaining, 0u);
  EXPECT_EQ(refused.wait, gcra.interval);
  EXPECT_EQ(refused.reset, 21 * gcra.interval);
  EXPECT_EQ(tat, before) << "a refusal charges nothing";
  EXPECT_EQ(gcra_step(tat, now + refused.wait, gcra).verdict, Verdict::allow);
}

TEST(Gcra, DelayHoldsTheNextRequestsUntilTheyConform) {
  const Gcra gcra = Gcra::of(10, kSecond, 1, 2);  // T = 100 ms
  std::int64_t tat = 0;
  const std::int64_t now = kSecond;
  EXPECT_EQ(gcra_step(tat, now, gcra).verdict, Verdict::allow);
  EXPECT_EQ(gcra_step(tat, now, gcra).verdict, Verdict::allow);
  const Decision held = gcra_step(tat, now, gcra);
  EXPECT_EQ(held.verdict, Verdict::delay);
  EXPECT_EQ(held.wait, gcra.interval);
  const Decision held_longer = gcra_step(tat, now, gcra);
  EXPECT_EQ(held_longer.verdict, Verdict::delay);
  EXPECT_EQ(held_longer.wait, 2 * gcra.interval);
  const Decision refused = gcra_step(tat, now, gcra);
  EXPECT_EQ(refused.verdict, Verdict::refuse);
  EXPECT_EQ(refused.wait, 3 * gcra.interval) << "until allowed, not merely delayed";
}

// The acceptance scenario of issue 14: 100/s, burst 20, one client offering 500 req/s for
// 10 s. Requests at 0, 2 ms, ..., 10 s (both ends): 1,021 allowed, i.e. burst + 1 at once
// and then 100/s (without the request at exactly 10 s: 1,020).
TEST(Gcra, HundredPerSecondBurstTwentyAtFiveHundredPerSecondForTenSeconds) {
  const Gcra gcra = Gcra::of(100, kSecond, 20, 0);
  TokenBucketModel model(Rational(kSecond, 100), 20, 0);
  std::int64_t tat = 0;
  std::uint64_t allowed = 0;
  std::uint64_t model_allowed = 0;
  const std::int64_t start = 42 * kSecond;
  const std::int64_t spacing = kSecond / 500;
  for (std::int64_t i = 0; i * spacing <= 10 * kSecond; ++i) {
    const std::int64_t now = start + i * spacing;
    allowed += gcra_step(tat, now, gcra).verdict == Verdict::allow ? 1 : 0;
    model_allowed += model.request(now).verdict == Verdict::allow ? 1 : 0;
  }
  EXPECT_EQ(allowed, model_allowed);
  EXPECT_EQ(allowed, 20 + 1 + static_cast<std::uint64_t>(10 * kSecond / gcra.interval));
  RecordProperty("allowed", static_cast<int>(allowed));
}

}  // namespace
}  // namespace veer::limits
