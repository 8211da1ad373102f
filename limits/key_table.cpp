#include "limits/key_table.hpp"

#include "limits/gcra.hpp"
#include "limits/slot_atomics.hpp"

namespace veer::limits {

using detail::SlotValue;
using detail::Window;

KeyTable::KeyTable(std::uint64_t max_keys) : buckets_(detail::two_per(max_keys)) {}

int KeyTable::find(Window& window, std::uint64_t key) {
  while (window.read < detail::kWindowSlots)
    if (window.read_next().key == key) return static_cast<int>(window.read - 1);
  return -1;
}

Decision KeyTable::acquire(std::uint64_t key, std::int64_t now, const Gcra& gcra) {
  const std::uint64_t k = stored_key(key);
  Window window = detail::window_of(buckets_, k);
  // The key is most often in the first bucket; when it is not (or is new), the second
  // line's miss overlaps the first's (1,000,000 keys: 180 -> 120 ns per acquire).
  __builtin_prefetch(window.buckets[1]);
  for (;; window.read = 0) {
    const int at = find(window, k);
    if (at >= 0) {
      const SlotValue seen = window.seen[at];
      std::int64_t tat = seen.value;
      const Decision decision = gcra_step(tat, now, gcra);
      if (decision.verdict == Verdict::refuse) return decision;  // nothing to write
      if (detail::compare_and_swap(window.slot(at), seen, {k, tat})) return decision;
      continue;  // another worker charged it first: judge again on its value
    }
    std::int64_t tat = 0;  // fresh
    const Decision decision = gcra_step(tat, now, gcra);
    if (insert(window, k, tat, now)) {
      fold_duplicates(k, now);
      return decision;
    }
  }
}

namespace {

// The slot a new key takes: a free (empty or expired) slot of the bucket with fewer live
// keys, the first bucket on a tie (two-choice hashing: the less loaded of two random
// buckets keeps the fullest bucket near the average, so at the load of max_keys a pair
// of full buckets is rare: about 8 per million inserts, against 2,800 when always
// filling the first bucket first); -1 when all eight are live.
int free_slot(const Window& window, std::int64_t now) {
  int free[2] = {-1, -1};
  int live[2] = {0, 0};
  for (std::size_t i = 0; i < detail::kWindowSlots; ++i) {
    const std::size_t bucket = i / detail::kSlotsPerBucket;
    if (window.seen[i].key != 0 && window.seen[i].value > now) {
      ++live[bucket];
    } else if (free[bucket] < 0) {
      free[bucket] = static_cast<int>(i);
    }
  }
  if (free[0] < 0) return free[1];
  if (free[1] < 0) return free[0];
  return live[1] < live[0] ? free[1] : free[0];
}

// All eight live: the slot with the smallest TAT, the key whose allowance is back soonest.
int eviction_victim(const Window& window) {
  int victim = 0;
  for (std::size_t i = 1; i < detail::kWindowSlots; ++i)
    if (window.seen[i].value < window.seen[victim].value) victim = static_cast<int>(i);
  return victim;
}

}  // namespace

bool KeyTable::insert(Window& window, std::uint64_t key, std::int64_t tat, std::int64_t now) {
  int target = free_slot(window, now);
  const bool evicting = target < 0;
  if (evicting) target = eviction_victim(window);
  if (!detail::compare_and_swap(window.slot(target), window.seen[target], {key, tat})) return false;
  if (evicting) evictions_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// Rare: only when two inserts of one key raced on different views of the window. The
// later entries are taken out one at a time (a compare-and-swap to empty, so each is
// taken once) and what they were ahead of `now` is added to the first.
void KeyTable::fold_duplicates(std::uint64_t key, std::int64_t now) {
  for (;;) {
    Window window = detail::window_of(buckets_, key);
    window.read_all();
    const int first = window.find(key);
    const int other = first < 0 ? -1 : window.find(key, static_cast<std::size_t>(first) + 1);
    if (other < 0) return;
    const SlotValue taken = window.seen[other];
    if (!detail::compare_and_swap(window.slot(other), taken, {0, 0})) continue;
    folds_.fetch_add(1, std::memory_order_relaxed);
    if (taken.value > now) add_debt(key, taken.value - now, now);
  }
}

void KeyTable::add_debt(std::uint64_t key, std::int64_t debt, std::int64_t now) {
  for (;;) {
    Window window = detail::window_of(buckets_, key);
    const int at = find(window, key);
    if (at < 0) {
      if (insert(window, key, saturating_add(now, debt), now)) return;
      continue;
    }
    const SlotValue seen = window.seen[at];
    const std::int64_t tat = saturating_add(seen.value > now ? seen.value : now, debt);
    if (detail::compare_and_swap(window.slot(at), seen, {key, tat})) return;
  }
}

KeyState KeyTable::inspect(std::uint64_t key, std::int64_t now, const Gcra& gcra) const {
  const std::uint64_t k = stored_key(key);
  Window window = detail::window_of(buckets_, k);
  const int at = find(window, k);
  KeyState state;
  std::int64_t tat = 0;
  if (at >= 0 && window.seen[at].value > now) {
    state.known = true;
    tat = window.seen[at].value;
  }
  state.now = gcra_step(tat, now, gcra);
  return state;
}

std::uint64_t KeyTable::keys_in_use(std::int64_t now) const {
  std::uint64_t live = 0;
  for (const detail::Slot* slot = buckets_.begin(); slot != buckets_.end(); ++slot) {
    const SlotValue value = detail::load_slot(*slot);
    live += value.key != 0 && value.value > now ? 1 : 0;
  }
  return live;
}

}  // namespace veer::limits
