#include "limits/key_table.hpp"

#include "limits/gcra.hpp"
#include "limits/slot_atomics.hpp"

namespace veer::limits {

using detail::SlotValue;
using detail::Window;

KeyTable::KeyTable(std::uint64_t max_keys) : buckets_(2 * max_keys) {}

int KeyTable::find(Window& window, std::uint64_t key) {
  while (window.read < detail::kWindowSlots)
    if (window.read_next().key == key) return static_cast<int>(window.read - 1);
  return -1;
}

Decision KeyTable::acquire(std::uint64_t key, std::int64_t now, const Gcra& gcra) {
  const std::uint64_t k = stored_key(key);
  Window window = detail::window_of(buckets_, k);
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

bool KeyTable::insert(Window& window, std::uint64_t key, std::int64_t tat, std::int64_t now) {
  int target = -1;
  for (std::size_t i = 0; i < detail::kWindowSlots && target < 0; ++i)
    if (window.seen[i].key == 0 || window.seen[i].value <= now) target = static_cast<int>(i);
  const bool evicting = target < 0;
  if (evicting) {
    target = 0;
    for (std::size_t i = 1; i < detail::kWindowSlots; ++i)
      if (window.seen[i].value < window.seen[target].value) target = static_cast<int>(i);
  }
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
