#include "limits/local_limiter.hpp"

namespace veer::limits {

Decision LocalLimiter::acquire(std::uint64_t key, std::int64_t now, const Gcra& gcra) {
  return table_.acquire(key, now, gcra);
}

KeyState LocalLimiter::inspect(std::uint64_t key, std::int64_t now, const Gcra& gcra) const {
  return table_.inspect(key, now, gcra);
}

LimiterStats LocalLimiter::stats(std::int64_t now) const {
  LimiterStats stats;
  stats.keys_in_use = table_.keys_in_use(now);
  stats.capacity = table_.capacity();
  stats.evictions = table_.evictions();
  stats.table_bytes = table_.table_bytes();
  stats.mode = "local";
  return stats;
}

}  // namespace veer::limits
