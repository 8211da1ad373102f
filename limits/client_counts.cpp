#include "limits/client_counts.hpp"

#include "limits/slot_atomics.hpp"

namespace veer::limits {

using detail::SlotValue;
using detail::Window;

namespace {

std::int64_t sum_of(const Window& window, std::uint64_t key, int* first) {
  std::int64_t sum = 0;
  *first = -1;
  for (std::size_t i = 0; i < detail::kWindowSlots; ++i) {
    if (window.seen[i].key != key) continue;
    sum += window.seen[i].value;
    if (*first < 0) *first = static_cast<int>(i);
  }
  return sum;
}

int first_free(const Window& window) {
  for (std::size_t i = 0; i < detail::kWindowSlots; ++i)
    if (window.seen[i].key == 0 || window.seen[i].value == 0) return static_cast<int>(i);
  return -1;
}

}  // namespace

ClientCounts::ClientCounts(std::uint64_t max_clients) : buckets_(detail::two_per(max_clients)) {}

bool ClientCounts::try_acquire(std::uint64_t key, std::uint32_t max) {
  const std::uint64_t k = stored_key(key);
  Window window = detail::window_of(buckets_, k);
  for (;;) {
    window.read_all();
    int at = -1;
    const std::int64_t open = sum_of(window, k, &at);
    if (open >= static_cast<std::int64_t>(max)) return false;
    const bool inserting = at < 0;
    if (inserting) at = first_free(window);
    if (at < 0) {
      overflows_.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    const SlotValue seen = window.seen[at];
    const std::int64_t count = inserting ? 1 : seen.value + 1;
    if (!detail::compare_and_swap(window.slot(at), seen, {k, count})) continue;
    // Adding to the key's first slot serialises with every other addition there; a new
    // slot does not, so an insert checks the sum again.
    if (!inserting) return true;
    window.read_all();
    if (sum_of(window, k, &at) <= static_cast<std::int64_t>(max)) return true;
    take_one(k);
  }
}

void ClientCounts::release(std::uint64_t key) {
  if (!take_one(stored_key(key))) unmatched_releases_.fetch_add(1, std::memory_order_relaxed);
}

bool ClientCounts::take_one(std::uint64_t key) {
  Window window = detail::window_of(buckets_, key);
  for (;;) {
    window.read_all();
    int at = -1;
    for (std::size_t i = 0; i < detail::kWindowSlots && at < 0; ++i)
      if (window.seen[i].key == key && window.seen[i].value > 0) at = static_cast<int>(i);
    if (at < 0) return false;
    const SlotValue seen = window.seen[at];
    if (detail::compare_and_swap(window.slot(at), seen, {key, seen.value - 1})) return true;
  }
}

std::uint64_t ClientCounts::open(std::uint64_t key) const {
  const std::uint64_t k = stored_key(key);
  Window window = detail::window_of(buckets_, k);
  window.read_all();
  int first = -1;
  return static_cast<std::uint64_t>(sum_of(window, k, &first));
}

std::uint64_t ClientCounts::clients() const {
  std::uint64_t clients = 0;
  for (const detail::Slot* slot = buckets_.begin(); slot != buckets_.end(); ++slot) {
    const SlotValue value = detail::load_slot(*slot);
    clients += value.key != 0 && value.value > 0 ? 1 : 0;
  }
  return clients;
}

}  // namespace veer::limits
