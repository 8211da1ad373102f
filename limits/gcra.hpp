#pragma once

// The GCRA step: one request of one key against its theoretical arrival time (TAT).
//
// Exact semantics (all integers, nanoseconds; T = gcra.interval, tau = burst_tolerance,
// delta = delay_tolerance, tau <= delta):
//   start = max(tat, now)            a TAT in the past is the same as a fresh key
//   ahead = start - now              how far the key has run ahead of its rate
//   ahead <= tau          -> allow,  tat = start + T
//   tau < ahead <= delta  -> delay,  tat = start + T,  wait = ahead - tau
//   ahead > delta         -> refuse, tat unchanged,    wait = ahead - tau
// wait is the time until this request would have been allowed (a delayed request is held
// that long; a refused one may retry after it). After the step, with a = tat - now:
//   remaining = a <= tau ? (tau - a) / T + 1 : 0   requests allowed at `now` after this one
//   reset     = a                                 until the whole allowance is back
// So a fresh key admits burst + 1 requests at once (remaining = burst after the first, 0
// when refused) and then one per T: over a span D of saturating traffic, starting full,
// it is allowed burst + 1 + floor(D / T) requests (100/s, burst 20, 10 s: 1,021 when the
// offered requests cover both ends of the 10 s). Additions saturate at INT64_MAX.
// Preconditions: now >= 0 (a steady-clock reading), tat >= 0 (0 = fresh).
//
// The equivalent token bucket (tests/unit/limits/gcra_test.cpp checks it with exact
// rational arithmetic): capacity burst + 1, one token per T, tokens = burst + 1 - ahead / T.

#include <cstdint>
#include <limits>

#include "limits/limiter.hpp"

namespace veer::limits {

constexpr std::int64_t saturating_add(std::int64_t a, std::int64_t b) {
  // Both non-negative here: only an overflow past the top can happen.
  return a > std::numeric_limits<std::int64_t>::max() - b ? std::numeric_limits<std::int64_t>::max()
                                                          : a + b;
}

// Charges (allow, delay) or judges (refuse) one request; updates `tat` as above.
inline Decision gcra_step(std::int64_t& tat, std::int64_t now, const Gcra& gcra) {
  const std::int64_t interval = gcra.interval > 0 ? gcra.interval : 1;  // Gcra{} is not 0/0
  const std::int64_t start = tat > now ? tat : now;
  const std::int64_t ahead = start - now;
  Decision decision;
  if (ahead <= gcra.delay_tolerance) {
    tat = saturating_add(start, interval);
    if (ahead > gcra.burst_tolerance) {
      decision.verdict = Verdict::delay;
      decision.wait = ahead - gcra.burst_tolerance;
    }
  } else {
    decision.verdict = Verdict::refuse;
    decision.wait = ahead - gcra.burst_tolerance;
  }
  const std::int64_t after = tat - now;
  decision.remaining =
      after <= gcra.burst_tolerance
          ? static_cast<std::uint64_t>((gcra.burst_tolerance - after) / interval) + 1
          : 0;
  decision.reset = after;
  return decision;
}

}  // namespace veer::limits
