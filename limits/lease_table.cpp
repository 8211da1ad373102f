#include "limits/lease_table.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <limits>
#include <new>

#include "core/hash.hpp"

namespace veer::limits {

namespace {
// Slots are 32-bit (RefillRequest): 2^32 / kWays sets at most, far above any max_keys.
constexpr std::uint64_t kMaxSets = (std::uint64_t{1} << 32) / LeaseTable::kWays - 1;
}  // namespace

LeaseTable::LeaseTable(std::uint64_t max_keys) {
  const std::uint64_t sets = std::clamp<std::uint64_t>((max_keys + kWays - 1) / kWays, 1, kMaxSets);
  sets_ = static_cast<std::uint32_t>(sets);
  bytes_ = static_cast<std::size_t>(sets) * kWays * sizeof(LeaseEntry);
  // Anonymous pages read as zeros (an empty table) and cost memory only once written.
  void* memory = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (memory == MAP_FAILED) throw std::bad_alloc();
  entries_ = static_cast<LeaseEntry*>(memory);
}

LeaseTable::~LeaseTable() {
  ::munmap(entries_, bytes_);
}

std::uint32_t LeaseTable::first_slot(std::uint64_t key) const {
  // Lemire's multiply-shift maps the (re-mixed) hash onto [0, sets) without a division.
  const std::uint64_t h = core::mix64(key);
  const auto set = static_cast<std::uint32_t>((static_cast<unsigned __int128>(h) * sets_) >> 64);
  return set * kWays;
}

std::uint32_t LeaseTable::find(std::uint64_t key) const {
  key = stored_key(key);
  const std::uint32_t base = first_slot(key);
  for (std::uint32_t w = 0; w < kWays; ++w) {
    if (field(entries_[base + w].key).load(std::memory_order_acquire) == key) return base + w;
  }
  return kNone;
}

std::uint32_t LeaseTable::find_or_claim(std::uint64_t key, std::int64_t now, std::int64_t balance,
                                        bool* created) {
  *created = false;
  key = stored_key(key);
  const std::uint32_t base = first_slot(key);
  // A few rounds: a claim lost to another worker is retried against the new contents.
  for (int round = 0; round < 4; ++round) {
    std::uint32_t victim = kNone;
    std::uint64_t victim_key = 0;
    std::int64_t oldest = std::numeric_limits<std::int64_t>::max();
    for (std::uint32_t w = 0; w < kWays; ++w) {
      LeaseEntry& e = entries_[base + w];
      const std::uint64_t k = field(e.key).load(std::memory_order_acquire);
      if (k == key) return base + w;
      if (k == kClaiming) continue;
      // An empty entry beats any victim; among used ones the least recently used.
      const std::int64_t used = k == 0 ? std::numeric_limits<std::int64_t>::min()
                                       : field(e.last_used).load(std::memory_order_relaxed);
      if (used < oldest) {
        oldest = used;
        victim = base + w;
        victim_key = k;
      }
    }
    if (victim == kNone) return kNone;
    if (claim(victim, victim_key, key, now, balance)) {
      *created = true;
      return victim;
    }
  }
  return kNone;
}

bool LeaseTable::claim(std::uint32_t slot, std::uint64_t seen, std::uint64_t key, std::int64_t now,
                       std::int64_t balance) {
  LeaseEntry& e = entries_[slot];
  if (!field(e.key).compare_exchange_strong(seen, kClaiming, std::memory_order_acq_rel)) {
    return false;
  }
  if (seen == 0) {
    in_use_.fetch_add(1, std::memory_order_relaxed);
  } else {
    evictions_.fetch_add(1, std::memory_order_relaxed);
  }
  const std::uint64_t generation = generation_of(field(e.flags).load()) + 1;
  field(e.flags).store((generation << 32) | kProvisional, std::memory_order_relaxed);
  field(e.balance).store(balance, std::memory_order_relaxed);
  field(e.retry_at).store(0, std::memory_order_relaxed);
  field(e.full_at).store(0, std::memory_order_relaxed);
  field(e.fallback_tat).store(0, std::memory_order_relaxed);
  field(e.last_used).store(now, std::memory_order_relaxed);
  field(e.key).store(key, std::memory_order_release);
  return true;
}

}  // namespace veer::limits
