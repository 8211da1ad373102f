#pragma once

// How many retries a worker may send for one pool: at most `percent` of the requests of
// the last ten seconds, plus a small reserve so that a quiet pool can still retry
// (Finagle's RetryBudget; Envoy's retry_budget). Retries therefore cannot multiply the
// load on a pool that is failing everywhere. Per worker, so it costs no shared
// writes; each worker holds its share of the reserve. Worker thread only.

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>

namespace veer::runtime {

class RetryBudget {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::int64_t kWindowSeconds = 10;

  // `reserve` retries per window on top of the percentage (this worker's share).
  void configure(std::uint32_t percent, std::uint64_t reserve) {
    percent_ = percent;
    reserve_ = reserve;
  }

  void record_request(Clock::time_point now) { ++bucket(now).requests; }

  // Counts a retry and returns true when the budget allows one now.
  bool try_spend(Clock::time_point now) {
    Bucket& current = bucket(now);
    std::uint64_t requests = 0;
    std::uint64_t retries = 0;
    for (const Bucket& b : buckets_) {
      requests += b.requests;
      retries += b.retries;
    }
    if ((retries + 1) * 100 > requests * percent_ + reserve_ * 100) return false;
    ++current.retries;
    return true;
  }

 private:
  struct Bucket {
    std::uint32_t requests = 0;
    std::uint32_t retries = 0;
  };

  // The bucket of `now`'s second, clearing the seconds that passed since the last use.
  Bucket& bucket(Clock::time_point now) {
    const std::int64_t second =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    if (second != second_) {
      const std::int64_t stale = std::min(second - second_, kWindowSeconds);
      for (std::int64_t s = second - stale + 1; s <= second; ++s) {
        buckets_[static_cast<std::size_t>(s % kWindowSeconds)] = Bucket{};
      }
      second_ = second;
    }
    return buckets_[static_cast<std::size_t>(second % kWindowSeconds)];
  }

  std::array<Bucket, kWindowSeconds> buckets_{};
  std::int64_t second_ = 0;
  std::uint32_t percent_ = 20;
  std::uint64_t reserve_ = 0;
};

}  // namespace veer::runtime
