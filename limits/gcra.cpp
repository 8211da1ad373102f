#include "limits/gcra.hpp"

#include <algorithm>

namespace veer::limits {
namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

// n x interval, or INT64_MAX when that does not fit: a burst too large to represent is
// as good as unlimited.
std::int64_t saturating_times(std::uint64_t n, std::int64_t interval) {
  const unsigned __int128 product = static_cast<unsigned __int128>(n) * interval;
  return product > static_cast<unsigned __int128>(kMax) ? kMax : static_cast<std::int64_t>(product);
}

}  // namespace

// T = per / rate rounded to the nearest nanosecond (half up), at least 1 ns: exact when
// the rate divides its period, else under 0.5 ns off, so the long-run rate is off by
// less than 0.5 / T (5e-8 relative at 100/s). rate 0 and per <= 0 are read as 1.
Gcra Gcra::of(std::uint64_t rate, std::int64_t per_ns, std::uint64_t burst, std::uint64_t delay) {
  const std::uint64_t r = std::max<std::uint64_t>(rate, 1);
  const std::uint64_t per = static_cast<std::uint64_t>(std::max<std::int64_t>(per_ns, 1));
  const unsigned __int128 rounded = (static_cast<unsigned __int128>(per) + r / 2) / r;
  Gcra gcra;
  gcra.interval = std::max<std::int64_t>(static_cast<std::int64_t>(rounded), 1);
  const std::uint64_t excess =
      burst > ~std::uint64_t{0} - delay ? ~std::uint64_t{0} : burst + delay;
  gcra.burst_tolerance = saturating_times(burst, gcra.interval);
  gcra.delay_tolerance = saturating_times(excess, gcra.interval);
  return gcra;
}

}  // namespace veer::limits
