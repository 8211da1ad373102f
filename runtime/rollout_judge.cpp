#include "runtime/rollout_judge.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>
#include <numeric>

namespace veer::runtime {

namespace {

// Buckets below 16 µs are one microsecond wide; above, 16 per power of two.
constexpr std::uint64_t kLinearMicros = 16;
constexpr int kSubBits = 4;        // 16 sub-buckets per power of two
constexpr int kLastExponent = 25;  // 2^25..2^26 µs is the last finite octave
constexpr std::size_t kLastBucket = kLatencyBuckets - 1;

// The beta-binomial mixture's prior Beta(a, b) (docs/ARCHITECTURE.md, "Rollout judge").
// Error ratios and the latency guard's tail shares are small (0.1 % .. 5 %), so the
// prior puts most of its mass there: Beta(0.5, 20) has mean 2.4 % and a density that
// rises towards 0. That is what the first step needs: with no errors a canary passes a
// 10-point tolerance after 41 answers (Beta(1, 1), the uniform prior: 77), and with two
// separate sequences a 5 % canary against a 0.1 % stable at 20 answers/s failed after
// 5.2 s (median of simulated runs; uniform prior: 7.7 s; Beta(0.5, 1): 6.1 s). A
// rate far from the prior's mass (50 %) costs about 12 extra nats, which such a rate
// earns back in some ten answers. Any fixed prior keeps the guarantee; only power moves.
constexpr double kPriorA = 0.5;
constexpr double kPriorB = 20;
// Bisection steps: each halves the bracket; 2^-60 of the observed rate is far below
// anything a guard compares. The difference's sequence bisects twice, nested, over
// ranges of width at most 2: 2^-40 (1e-12) is still far below any tolerance.
constexpr int kBisectionSteps = 60;
constexpr int kNestedBisectionSteps = 40;

double log_beta(double a, double b) {
  return std::lgamma(a) + std::lgamma(b) - std::lgamma(a + b);
}

// log M_n(p) = log [B(a+k, b+n-k) / B(a,b)] - k log p - (n-k) log(1-p): the mixture
// martingale's log against the rate p. `log_marginal` is the first term (independent of p).
double log_martingale(double log_marginal, double trials, double successes, double p) {
  double value = log_marginal;
  if (successes > 0) value -= successes * std::log(p);
  if (trials > successes) value -= (trials - successes) * std::log1p(-p);
  return value;
}

double total(const std::array<std::uint64_t, kLatencyBuckets>& buckets) {
  return static_cast<double>(std::accumulate(buckets.begin(), buckets.end(), std::uint64_t{0}));
}

// Answers in buckets strictly above `bucket`: those at least latency_bucket_upper_ms(bucket).
std::uint64_t count_above(const TargetEvidence& evidence, std::size_t bucket) {
  std::uint64_t count = 0;
  for (std::size_t i = bucket + 1; i < kLatencyBuckets; ++i)
    count += evidence.latency[i];
  return count;
}

// The bucket holding `ms` (the threshold's bucket of slower_than).
std::size_t bucket_of_ms(double ms) {
  if (!(ms > 0)) return 0;
  const double ns = ms * 1e6;
  if (ns >= 9e18) return kLastBucket;
  // Rounded: a bucket's upper bound in ms maps back to the next bucket, as in latency_bucket.
  return latency_bucket(std::chrono::nanoseconds(std::llround(ns)));
}

// The confidence sequence's end on one side as a direct test: is `p` outside the
// sequence above (`above` = true: p > k/n) or below the observed rate?
bool excluded(std::uint64_t trials, std::uint64_t successes, double alpha, double p, bool above) {
  const double n = static_cast<double>(trials);
  const double k = static_cast<double>(successes);
  if (above ? !(k < n * p) : !(k > n * p)) return false;
  if (p <= 0 || p >= 1) return true;
  const double log_marginal = log_beta(kPriorA + k, kPriorB + n - k) - log_beta(kPriorA, kPriorB);
  return log_martingale(log_marginal, n, k, p) >= std::log(1 / alpha);
}

// Stable answers needed to bound its quantile: the largest count `k` of answers above a
// bucket for which the sequence still excludes `limit` from above (P(slower) <= limit),
// or -1 when even 0 does not. Binary search: high(n, k) grows with k.
std::int64_t most_slow_for_upper(std::uint64_t n, double alpha, double limit) {
  if (!excluded(n, 0, alpha, limit, true)) return -1;
  std::uint64_t good = 0, bad = n + 1;
  while (bad - good > 1) {
    const std::uint64_t mid = good + (bad - good) / 2;
    (excluded(n, mid, alpha, limit, true) ? good : bad) = mid;
  }
  return static_cast<std::int64_t>(good);
}

// The fewest answers above a bucket for which the sequence excludes `limit` from below
// (P(slower) > limit), or n + 1 when even n does not.
std::uint64_t fewest_slow_for_lower(std::uint64_t n, double alpha, double limit) {
  if (!excluded(n, n, alpha, limit, false)) return n + 1;
  std::uint64_t bad = 0, good = n;
  if (excluded(n, 0, alpha, limit, false)) return 0;
  while (good - bad > 1) {
    const std::uint64_t mid = bad + (good - bad) / 2;
    (excluded(n, mid, alpha, limit, false) ? good : bad) = mid;
  }
  return good;
}

}  // namespace

std::size_t latency_bucket(std::chrono::nanoseconds elapsed) {
  const std::int64_t ns = elapsed.count();
  if (ns <= 0) return 0;
  const std::uint64_t micros = static_cast<std::uint64_t>(ns) / 1000;
  if (micros < kLinearMicros) return static_cast<std::size_t>(micros);
  const int exponent = std::bit_width(micros) - 1;  // 4 or more
  if (exponent > kLastExponent) return kLastBucket;
  const std::uint64_t sub = (micros >> (exponent - kSubBits)) & (kLinearMicros - 1);
  return static_cast<std::size_t>(kLinearMicros + (exponent - kSubBits) * kLinearMicros + sub);
}

double latency_bucket_upper_ms(std::size_t bucket) {
  if (bucket >= kLastBucket) return std::numeric_limits<double>::infinity();
  if (bucket < kLinearMicros) return static_cast<double>(bucket + 1) / 1000;
  const std::size_t octave = (bucket - kLinearMicros) / kLinearMicros;  // exponent - 4
  const std::size_t sub = (bucket - kLinearMicros) % kLinearMicros;
  return static_cast<double>((kLinearMicros + 1 + sub) << octave) / 1000;
}

double TargetEvidence::error_ratio() const {
  if (requests == 0) return 0;
  return static_cast<double>(std::min(errors, requests)) / static_cast<double>(requests);
}

double TargetEvidence::quantile_ms(double q) const {
  const double answers = total(latency);
  if (answers == 0) return std::numeric_limits<double>::quiet_NaN();
  const double rank = std::clamp(std::ceil(std::clamp(q, 0.0, 1.0) * answers), 1.0, answers);
  double seen = 0;
  for (std::size_t i = 0; i < kLatencyBuckets; ++i) {
    seen += static_cast<double>(latency[i]);
    if (seen >= rank) return latency_bucket_upper_ms(i);
  }
  return latency_bucket_upper_ms(kLastBucket);
}

std::uint64_t TargetEvidence::slower_than(double threshold_ms) const {
  if (std::isnan(threshold_ms)) return 0;
  return count_above(*this, bucket_of_ms(threshold_ms));
}

void TargetEvidence::add(const TargetEvidence& more) {
  requests += more.requests;
  errors += more.errors;
  for (std::size_t i = 0; i < kLatencyBuckets; ++i)
    latency[i] += more.latency[i];
}

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::pending:
      return "pending";
    case Verdict::pass:
      return "pass";
    case Verdict::fail:
      return "fail";
  }
  return "pending";
}

// The set {p : M_n(p) < 1/alpha} is an interval around k/n (log M is convex in p and
// at most 0 at k/n, because a mixture of likelihoods never beats the best one); its ends
// are found by bisection, each rounded outwards.
Interval rate_confidence(std::uint64_t trials, std::uint64_t successes, double alpha) {
  Interval interval;
  if (trials == 0 || !(alpha > 0) || !(alpha < 1)) return interval;
  successes = std::min(successes, trials);
  const double n = static_cast<double>(trials);
  const double k = static_cast<double>(successes);
  const double observed = k / n;
  const double threshold = std::log(1 / alpha);
  const double log_marginal = log_beta(kPriorA + k, kPriorB + n - k) - log_beta(kPriorA, kPriorB);
  const auto outside = [&](double p) { return log_martingale(log_marginal, n, k, p) >= threshold; };
  if (successes > 0) {
    double out = 0, in = observed;  // log M at 0 is +infinity when k > 0
    for (int i = 0; i < kBisectionSteps; ++i) {
      const double mid = (out + in) / 2;
      (outside(mid) ? out : in) = mid;
    }
    interval.low = out;
  }
  if (successes < trials) {
    double in = observed, out = 1;
    for (int i = 0; i < kBisectionSteps; ++i) {
      const double mid = (out + in) / 2;
      (outside(mid) ? out : in) = mid;
    }
    interval.high = out;
  }
  return interval;
}

// The error guard decides each way with its own test, each wrong at most alpha of the time:
// - fail: the low end of a confidence sequence for the difference d = canary - stable by
//   sequential universal inference (Wasserman, Ramdas, Balakrishnan 2020): d is excluded
//   when E(d) = [mixture likelihood of the canary's answers x the stable's] / [the most
//   likely pair of rates with canary - stable = d] reaches 1/alpha. For the true pair the
//   denominator is at least their likelihood, so E is at most the product of the two
//   targets' mixture martingales: a martingale (each answer belongs to one target), and
//   Ville's inequality bounds the chance that it ever reaches 1/alpha. It weighs both
//   targets' evidence jointly with one alpha, which halves the time to fail a 5 % canary
//   against a 0.1 % stable compared with two separate sequences.
// - pass: the high end of two separate sequences at alpha/2 each (canary's high minus
//   stable's low; union bound). The joint test would charge the stable's mixture cost
//   (growing with its answers) to every pass: 65 clean canary answers instead of 41.
// low <= observed difference <= high, so the interval is never empty.
namespace {

// The log-likelihood of k successes in n trials at rate p (0 log 0 = 0).
double log_likelihood(double n, double k, double p) {
  double value = 0;
  if (k > 0) value += k * std::log(p);
  if (n > k) value += (n - k) * std::log1p(-p);
  return value;
}

struct Counts {
  double n_canary, k_canary, n_stable, k_stable;
};

// max over the stable's rate p (canary's p + d) of the joint log-likelihood. Concave in
// p, so its derivative is decreasing: bisect for its zero inside the feasible range.
double profile_log_likelihood(const Counts& c, double d) {
  double lo = std::max(0.0, -d), hi = std::min(1.0, 1 - d);
  const auto slope = [&](double p) {
    double value = 0;
    if (c.k_canary > 0) value += c.k_canary / (p + d);
    if (c.n_canary > c.k_canary) value -= (c.n_canary - c.k_canary) / (1 - p - d);
    if (c.k_stable > 0) value += c.k_stable / p;
    if (c.n_stable > c.k_stable) value -= (c.n_stable - c.k_stable) / (1 - p);
    return value;
  };
  for (int i = 0; i < kNestedBisectionSteps; ++i) {
    const double mid = (lo + hi) / 2;
    (slope(mid) > 0 ? lo : hi) = mid;
  }
  const double p = (lo + hi) / 2;
  return log_likelihood(c.n_canary, c.k_canary, p + d) + log_likelihood(c.n_stable, c.k_stable, p);
}

// The universal-inference sequence's low end for canary - stable (see above).
double difference_low(const Counts& c, double alpha) {
  const double observed = c.k_canary / c.n_canary - c.k_stable / c.n_stable;
  const double log_marginals = log_beta(kPriorA + c.k_canary, kPriorB + c.n_canary - c.k_canary) +
                               log_beta(kPriorA + c.k_stable, kPriorB + c.n_stable - c.k_stable) -
                               2 * log_beta(kPriorA, kPriorB);
  const double threshold = std::log(1 / alpha);
  double out = -1, in = observed;
  for (int i = 0; i < kNestedBisectionSteps; ++i) {
    const double mid = (out + in) / 2;
    (log_marginals - profile_log_likelihood(c, mid) >= threshold ? out : in) = mid;
  }
  return out;
}

}  // namespace

GuardJudgement judge_error_ratio(const TargetEvidence& stable, const TargetEvidence& canary,
                                 const conf::ErrorGuardConfig& guard) {
  GuardJudgement judgement;
  judgement.limit = guard.tolerance;
  judgement.stable_value = stable.error_ratio();
  judgement.canary_value = canary.error_ratio();
  judgement.bound = {-1, 1};
  if (stable.requests == 0 || canary.requests == 0 || !(guard.alpha > 0)) return judgement;
  const Counts counts{static_cast<double>(canary.requests),
                      static_cast<double>(std::min(canary.errors, canary.requests)),
                      static_cast<double>(stable.requests),
                      static_cast<double>(std::min(stable.errors, stable.requests))};
  const Interval s = rate_confidence(stable.requests, stable.errors, guard.alpha / 2);
  const Interval c = rate_confidence(canary.requests, canary.errors, guard.alpha / 2);
  judgement.bound = {difference_low(counts, guard.alpha), c.high - s.low};
  if (judgement.bound.low > guard.tolerance) {
    judgement.verdict = Verdict::fail;
  } else if (judgement.bound.high <= guard.tolerance) {
    judgement.verdict = Verdict::pass;
  }
  return judgement;
}

// With limit = 1 - quantile, and half of alpha for each side:
// - the stable's quantile is at most U: U the lowest bucket bound with the stable's share
//   at or above it excluded from above `limit` by its sequence (infinity while the stable
//   has too few answers), and at least L: the highest bucket bound with that share
//   excluded from below `limit` (0 when none).
// - fail: the canary's share slower than U + tolerance has its low end above `limit`, so
//   the canary's quantile exceeds U + tolerance >= the stable's + tolerance.
// - pass: the canary's share at or above L + tolerance's bucket has its high end at most
//   `limit`, so its quantile is at most L + tolerance <= the stable's + tolerance.
// bound = [low of the first share, high of the second]: the first counts no more answers
// than the second, so low <= high and both decisions read off the one interval. The
// stable bounds hold for all buckets at once (the share is monotone in the bucket), so a
// wrong decision needs one of two sequences to miss: probability at most alpha.
GuardJudgement judge_latency(const TargetEvidence& stable, const TargetEvidence& canary,
                             const conf::LatencyGuardConfig& guard) {
  GuardJudgement judgement;
  judgement.limit = 1 - guard.quantile;
  judgement.stable_value = stable.quantile_ms(guard.quantile);
  judgement.canary_value = canary.quantile_ms(guard.quantile);
  judgement.threshold_ms = judgement.stable_value + guard.tolerance_ms;
  const double stable_answers = total(stable.latency);
  const double canary_answers = total(canary.latency);
  if (stable_answers == 0 || canary_answers == 0) {
    judgement.threshold_ms = std::numeric_limits<double>::quiet_NaN();
    return judgement;
  }
  const auto n_stable = static_cast<std::uint64_t>(stable_answers);
  const auto n_canary = static_cast<std::uint64_t>(canary_answers);
  const double alpha = guard.alpha / 2;
  const double limit = judgement.limit;

  // above[b]: stable answers in buckets above b.
  std::array<std::uint64_t, kLatencyBuckets> above{};
  for (std::size_t b = kLastBucket; b-- > 0;)
    above[b] = above[b + 1] + stable.latency[b + 1];
  // U: the first bucket whose count above it is at most `most`.
  double fail_threshold = std::numeric_limits<double>::infinity();
  if (const std::int64_t most = most_slow_for_upper(n_stable, alpha, limit); most >= 0) {
    for (std::size_t b = 0; b < kLastBucket; ++b) {
      if (above[b] <= static_cast<std::uint64_t>(most)) {
        fail_threshold = latency_bucket_upper_ms(b) + guard.tolerance_ms;
        break;
      }
    }
  }
  // L: the last bucket whose count above it is at least `fewest`.
  double pass_threshold = guard.tolerance_ms;
  if (const std::uint64_t fewest = fewest_slow_for_lower(n_stable, alpha, limit);
      fewest > 0 && fewest <= n_stable) {
    for (std::size_t b = kLastBucket; b-- > 0;) {
      if (above[b] >= fewest) {
        pass_threshold = latency_bucket_upper_ms(b) + guard.tolerance_ms;
        break;
      }
    }
  }
  const std::uint64_t slow_for_fail = canary.slower_than(fail_threshold);
  const std::size_t pass_bucket = bucket_of_ms(pass_threshold);
  const std::uint64_t slow_for_pass =
      canary.latency[pass_bucket] + count_above(canary, pass_bucket);
  judgement.bound = {rate_confidence(n_canary, slow_for_fail, alpha).low,
                     rate_confidence(n_canary, slow_for_pass, alpha).high};
  if (judgement.bound.low > limit) {
    judgement.verdict = Verdict::fail;
  } else if (judgement.bound.high <= limit) {
    judgement.verdict = Verdict::pass;
  }
  return judgement;
}

}  // namespace veer::runtime
