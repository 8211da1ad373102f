#pragma once

// The reference for limits/gcra.hpp: a token bucket written the obvious way, in exact
// rational arithmetic (no rounding anywhere). Capacity burst + 1 tokens, refilled at one
// token per `interval` nanoseconds (a rational); a request takes one token when at least
// one is there (allow), may take one down to 1 - delay tokens (delay: wait until the
// bucket is back at one), else is refused and takes nothing.

#include <cstdint>
#include <numeric>

#include "limits/limiter.hpp"

namespace veer::limits::test {

using Int = __int128;

inline Int gcd(Int a, Int b) {
  if (a < 0) a = -a;
  if (b < 0) b = -b;
  while (b != 0) {
    const Int r = a % b;
    a = b;
    b = r;
  }
  return a;
}

struct Rational {
  Int num = 0;
  Int den = 1;

  Rational() = default;
  Rational(Int n, Int d = 1) : num(n), den(d) {  // NOLINT: an integer is a rational
    if (den < 0) {
      num = -num;
      den = -den;
    }
    const Int g = gcd(num, den);
    if (g > 1) {
      num /= g;
      den /= g;
    }
  }
  friend Rational operator+(Rational a, Rational b) {
    return {a.num * b.den + b.num * a.den, a.den * b.den};
  }
  friend Rational operator-(Rational a, Rational b) {
    return {a.num * b.den - b.num * a.den, a.den * b.den};
  }
  friend Rational operator*(Rational a, Rational b) { return {a.num * b.num, a.den * b.den}; }
  friend Rational operator/(Rational a, Rational b) { return {a.num * b.den, a.den * b.num}; }
  friend bool operator<(Rational a, Rational b) { return a.num * b.den < b.num * a.den; }
  friend bool operator>=(Rational a, Rational b) { return !(a < b); }
  friend bool operator==(Rational a, Rational b) { return a.num == b.num && a.den == b.den; }
  Int floor() const { return num >= 0 ? num / den : -((-num + den - 1) / den); }
};

struct ModelDecision {
  Verdict verdict = Verdict::allow;
  Rational wait;
  std::uint64_t remaining = 0;
  Rational reset;
};

class TokenBucketModel {
 public:
  TokenBucketModel(Rational interval, std::uint64_t burst, std::uint64_t delay)
      : interval_(interval),
        capacity_(static_cast<Int>(burst) + 1),
        floor_(Rational(1) - Rational(static_cast<Int>(delay))),
        tokens_(capacity_) {}

  // One request at `now` (never earlier than the previous one).
  ModelDecision request(std::int64_t now) {
    if (started_) {
      const Rational refilled = tokens_ + Rational(now - last_) / interval_;
      tokens_ = refilled < capacity_ ? refilled : capacity_;
    }
    started_ = true;
    last_ = now;
    ModelDecision decision;
    if (tokens_ >= Rational(1)) {
      tokens_ = tokens_ - Rational(1);
    } else if (tokens_ >= floor_) {
      decision.verdict = Verdict::delay;
      decision.wait = (Rational(1) - tokens_) * interval_;
      tokens_ = tokens_ - Rational(1);
    } else {
      decision.verdict = Verdict::refuse;
      decision.wait = (Rational(1) - tokens_) * interval_;
    }
    decision.remaining = tokens_ >= Rational(0) ? static_cast<std::uint64_t>(tokens_.floor()) : 0;
    decision.reset = (capacity_ - tokens_) * interval_;
    return decision;
  }

 private:
  Rational interval_;
  Rational capacity_;
  Rational floor_;
  Rational tokens_;
  bool started_ = false;
  std::int64_t last_ = 0;
};

}  // namespace veer::limits::test
