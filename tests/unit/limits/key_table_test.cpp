// The limiter's key table (limits/key_table.hpp) against a std::map of TATs run through
// the same gcra_step (itself checked against an exact token bucket in gcra_test.cpp).
#include "limits/key_table.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <new>
#include <random>
#include <vector>

#include "core/hash.hpp"
#include "limits/gcra.hpp"
#include "limits/local_limiter.hpp"

namespace veer::limits {

// What two racing inserts can leave (rarely; tests/unit/limits/key_table_threads_test.cpp
// races them for real): a second entry of one key, here planted by hand.
// (Outside the unnamed namespace: KeyTable names it as its friend.)
struct KeyTableProbe {
  static void plant(KeyTable& table, std::uint64_t key, std::int64_t first_tat,
                    std::int64_t second_tat) {
    const std::uint64_t mixed = core::mix64(key);
    table.buckets_.first_bucket(mixed)->slots[0] = {key, first_tat};
    table.buckets_.second_bucket(mixed)->slots[3] = {key, second_tat};
  }
  static void fold(KeyTable& table, std::uint64_t key, std::int64_t now) {
    table.fold_duplicates(key, now);
  }
};

namespace {

constexpr std::int64_t kMs = 1'000'000;
constexpr std::int64_t kSecond = 1000 * kMs;

void expect_same(const Decision& got, const Decision& want, std::uint64_t step) {
  ASSERT_EQ(got.verdict, want.verdict) << "step " << step;
  ASSERT_EQ(got.wait, want.wait) << "step " << step;
  ASSERT_EQ(got.remaining, want.remaining) << "step " << step;
  ASSERT_EQ(got.reset, want.reset) << "step " << step;
}

bool same(const Decision& a, const Decision& b) {
  return a.verdict == b.verdict && a.wait == b.wait && a.remaining == b.remaining &&
         a.reset == b.reset;
}

std::vector<std::uint64_t> random_keys(std::mt19937_64& rng, std::size_t n) {
  std::vector<std::uint64_t> keys;
  while (keys.size() < n) {
    const std::uint64_t key = rng();
    if (key > 1) keys.push_back(key);  // 0 and 1 share a slot (KeyTable::stored_key)
  }
  return keys;
}

// Mostly gaps shorter than T (keys stay busy), sometimes a pause long enough for most
// keys to expire, so slots are freed and taken again.
std::int64_t next_time(std::int64_t now, std::mt19937_64& rng) {
  const std::uint64_t roll = rng() % 1000;
  if (roll == 0) return now + 2 * kSecond;
  if (roll < 10) return now + static_cast<std::int64_t>(rng() % (200 * kMs));
  return now + static_cast<std::int64_t>(rng() % (kMs / 4));
}

// Half the requests come from ten hot keys (well over their rate: refusals and delays),
// the rest from all keys (mostly under it).
std::uint64_t pick_key(const std::vector<std::uint64_t>& keys, std::mt19937_64& rng) {
  return rng() % 2 == 0 ? keys[rng() % 10] : keys[rng() % keys.size()];
}

// A policy changed at runtime (admin PUT) keeps the keys' TATs.
Gcra policy_for(std::uint64_t step) {
  return step % 1'000'000 < 500'000 ? Gcra::of(100, kSecond, 5, 2) : Gcra::of(30, kSecond, 12, 0);
}

TEST(KeyTable, MatchesTheModelExactlyWhenBigEnough) {
  std::mt19937_64 rng(1);
  const std::vector<std::uint64_t> keys = random_keys(rng, 300);
  KeyTable table(keys.size());
  std::map<std::uint64_t, std::int64_t> model;
  std::int64_t now = 10 * kSecond;
  constexpr std::uint64_t kSteps = 2'000'000;
  for (std::uint64_t step = 0; step < kSteps; ++step) {
    now = next_time(now, rng);
    const Gcra gcra = policy_for(step);
    const std::uint64_t key = pick_key(keys, rng);
    expect_same(table.acquire(key, now, gcra), gcra_step(model[key], now, gcra), step);
    if (step % 1000 == 0) {
      const std::uint64_t probe = keys[rng() % keys.size()];
      std::int64_t tat = model[probe];
      const KeyState state = table.inspect(probe, now, gcra);
      EXPECT_EQ(state.known, tat > now) << "step " << step;
      expect_same(state.now, gcra_step(tat, now, gcra), step);
    }
    if (step % 50'000 == 0) {
      std::uint64_t live = 0;
      for (const auto& [k, tat] : model)
        live += tat > now ? 1 : 0;
      ASSERT_EQ(table.keys_in_use(now), live) << "step " << step;
    }
  }
  EXPECT_EQ(table.evictions(), 0u);
}

// Too small for its keys: a key whose entry was evicted is judged as fresh again, so
// every decision is the one its own tracked state gives or a fresh key's, and a key is
// never admitted less, in total, than the model admits it (forgetting only ever adds
// allowance: a token bucket that starts fuller admits at least as many of any sequence).
TEST(KeyTable, TooSmallTableOnlyEverForgetsAndNeverAdmitsLess) {
  std::mt19937_64 rng(2);
  const std::vector<std::uint64_t> keys = random_keys(rng, 300);
  KeyTable table(16);
  ASSERT_EQ(table.capacity(), 32u);
  const Gcra gcra = policy_for(0);
  std::map<std::uint64_t, std::int64_t> model;   // every request of the key counted
  std::map<std::uint64_t, std::int64_t> shadow;  // the table's state as it should be
  std::map<std::uint64_t, std::int64_t> ahead;   // admitted by the table minus by the model
  std::uint64_t forgotten = 0;
  std::int64_t now = 10 * kSecond;
  constexpr std::uint64_t kSteps = 1'000'000;
  for (std::uint64_t step = 0; step < kSteps; ++step) {
    now = next_time(now, rng);
    const std::uint64_t key = pick_key(keys, rng);
    const Decision got = table.acquire(key, now, gcra);
    const Decision want = gcra_step(model[key], now, gcra);
    std::int64_t tracked = shadow[key];
    const Decision from_shadow = gcra_step(tracked, now, gcra);
    if (same(got, from_shadow)) {
      shadow[key] = tracked;
    } else {
      std::int64_t fresh = 0;
      const Decision from_fresh = gcra_step(fresh, now, gcra);
      ASSERT_TRUE(same(got, from_fresh)) << "step " << step << ": neither its state nor fresh";
      shadow[key] = fresh;
      ++forgotten;
    }
    ahead[key] +=
        (got.verdict != Verdict::refuse ? 1 : 0) - (want.verdict != Verdict::refuse ? 1 : 0);
    ASSERT_GE(ahead[key], 0) << "step " << step;
  }
  EXPECT_GT(forgotten, 1000u) << "the table was meant to be too small";
  EXPECT_LE(forgotten, table.evictions()) << "only an eviction forgets a live key";
}

// max_keys 4: two buckets, so every key shares the same eight slots.
TEST(KeyTable, EvictsTheSmallestTatOnlyWhenAllSlotsAreLive) {
  KeyTable table(4);
  ASSERT_EQ(table.capacity(), 8u);
  const Gcra gcra = Gcra::of(10, kSecond, 5, 0);
  const std::int64_t now = 100 * kSecond;
  for (std::uint64_t key = 11; key <= 18; ++key) {
    table.acquire(key, now, gcra);
    if (key != 15) table.acquire(key, now, gcra);  // 15 is charged least
  }
  EXPECT_EQ(table.keys_in_use(now), 8u);
  EXPECT_EQ(table.evictions(), 0u);

  const Decision newcomer = table.acquire(19, now, gcra);
  EXPECT_EQ(newcomer.verdict, Verdict::allow);
  EXPECT_EQ(newcomer.remaining, 5u);
  EXPECT_EQ(table.evictions(), 1u);
  EXPECT_FALSE(table.inspect(15, now, gcra).known) << "the least charged key went";
  for (std::uint64_t key : {11, 12, 13, 14, 16, 17, 18, 19})
    EXPECT_TRUE(table.inspect(key, now, gcra).known) << key;

  // Once every TAT is past, the slots are free again: eight new keys, no eviction.
  const std::int64_t later = now + 10 * kSecond;
  EXPECT_EQ(table.keys_in_use(later), 0u);
  for (std::uint64_t key = 21; key <= 28; ++key)
    table.acquire(key, later, gcra);
  EXPECT_EQ(table.evictions(), 1u);
  EXPECT_EQ(table.keys_in_use(later), 8u);
  EXPECT_FALSE(table.inspect(11, later, gcra).known);
}

TEST(KeyTable, ARefusalLeavesTheStateAsItWas) {
  KeyTable table(8);
  const Gcra gcra = Gcra::of(1, kSecond, 0, 0);
  const std::int64_t now = kSecond;
  EXPECT_EQ(table.acquire(7, now, gcra).verdict, Verdict::allow);
  const Decision refused = table.acquire(7, now, gcra);
  EXPECT_EQ(refused.verdict, Verdict::refuse);
  EXPECT_EQ(refused.wait, kSecond);
  for (int i = 0; i < 100; ++i)
    table.acquire(7, now + i, gcra);
  EXPECT_EQ(table.acquire(7, now + kSecond, gcra).verdict, Verdict::allow);
}

TEST(KeyTable, KeyZeroIsStoredAsOne) {
  KeyTable table(8);
  const Gcra gcra = Gcra::of(1, kSecond, 0, 0);
  EXPECT_EQ(table.acquire(0, kSecond, gcra).verdict, Verdict::allow);
  EXPECT_TRUE(table.inspect(0, kSecond, gcra).known);
  EXPECT_EQ(table.acquire(1, kSecond, gcra).verdict, Verdict::refuse) << "same entry";
}

// Two-choice placement: a million live keys in the table sized for them, nearly all kept
// (about 8 evictions; filling the first bucket first would evict some 2,800).
TEST(KeyTable, MillionKeysFitInThirtyTwoMebibytes) {
  constexpr std::uint64_t kKeys = 1'000'000;
  KeyTable table(kKeys);
  EXPECT_EQ(table.table_bytes(), 32u << 20);
  EXPECT_GE(table.capacity(), 2 * kKeys);
  const Gcra gcra = Gcra::of(1, kSecond, 0, 0);
  for (std::uint64_t i = 0; i < kKeys; ++i)
    table.acquire(core::mix64(i + 1), kSecond, gcra);
  EXPECT_LE(table.evictions(), 20u);
  EXPECT_EQ(table.keys_in_use(kSecond), kKeys - table.evictions());
}

TEST(KeyTable, ASecondEntryOfAKeyIsFoldedIntoTheFirstWithItsDebt) {
  const Gcra gcra = Gcra::of(10, kSecond, 5, 0);  // T = 100 ms
  const std::int64_t now = 100 * kSecond;
  const std::int64_t t = gcra.interval;
  struct Case {
    std::int64_t first;
    std::int64_t second;
    std::int64_t reset;  // a request's reset after the fold
  };
  const Case cases[] = {
      {now + 2 * t, now + 3 * t, 6 * t},  // 2 + 3 charges, + this one
      {now - kSecond, now + t, 2 * t},    // the first expired: the second's one charge
      {now + t, now - kSecond, 2 * t},    // the second expired: no debt to carry
  };
  for (const Case& c : cases) {
    KeyTable table(64);
    KeyTableProbe::plant(table, 77, c.first, c.second);
    KeyTableProbe::fold(table, 77, now);
    EXPECT_EQ(table.folds(), 1u);
    EXPECT_EQ(table.keys_in_use(0), 1u) << "one entry left";
    EXPECT_EQ(table.inspect(77, now, gcra).now.reset, c.reset);
  }
}

TEST(KeyTable, AnAbsurdSizeIsRefusedNotWrappedRound) {
  EXPECT_THROW(KeyTable(~std::uint64_t{0} / 2 + 7), std::bad_alloc);
  EXPECT_THROW(KeyTable(std::uint64_t{1} << 45), std::bad_alloc);
  EXPECT_EQ(KeyTable(0).capacity(), 8u);
}

TEST(LocalLimiter, ReportsTheTablesFigures) {
  LocalLimiter limiter(1000);
  Limiter& as_limiter = limiter;
  const Gcra gcra = Gcra::of(10, kSecond, 2, 0);
  for (std::uint64_t key = 2; key < 12; ++key)
    as_limiter.acquire(key, kSecond, gcra);
  const LimiterStats stats = as_limiter.stats(kSecond);
  EXPECT_EQ(stats.keys_in_use, 10u);
  EXPECT_EQ(stats.capacity, 2048u);
  EXPECT_EQ(stats.evictions, 0u);
  EXPECT_EQ(stats.table_bytes, 2048u * 16);
  EXPECT_EQ(stats.mode, "local");
  EXPECT_TRUE(as_limiter.inspect(5, kSecond, gcra).known);
  EXPECT_EQ(as_limiter.stats(2 * kSecond).keys_in_use, 0u);
}

}  // namespace
}  // namespace veer::limits
