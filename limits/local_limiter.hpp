#pragma once

#include <cstdint>

#include "limits/key_table.hpp"
#include "limits/limiter.hpp"

namespace veer::limits {

// A policy of scope = "local": its keys' state in one process-wide KeyTable.
class LocalLimiter final : public Limiter {
 public:
  explicit LocalLimiter(std::uint64_t max_keys) : table_(max_keys) {}

  Decision acquire(std::uint64_t key, std::int64_t now, const Gcra& gcra) override;
  KeyState inspect(std::uint64_t key, std::int64_t now, const Gcra& gcra) const override;
  LimiterStats stats(std::int64_t now) const override;

 private:
  KeyTable table_;
};

}  // namespace veer::limits
