#include "limits/cluster_limiter.hpp"

#include <algorithm>
#include <chrono>

#include "limits/gcra.hpp"

namespace veer::limits {

namespace {

std::int64_t nanoseconds(conf::Duration d) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
}

// Takes one unit if the balance has one; *left is what remains (or the balance seen).
bool take_one(LeaseEntry& entry, std::int64_t* left) {
  auto balance = field(entry.balance);
  std::int64_t seen = balance.load(std::memory_order_relaxed);
  while (seen > 0) {
    if (balance.compare_exchange_weak(seen, seen - 1, std::memory_order_acq_rel)) {
      *left = seen - 1;
      return true;
    }
  }
  *left = seen;
  return false;
}

std::int64_t until(std::int64_t when, std::int64_t now) {
  return when > now ? when - now : 0;
}

}  // namespace

std::shared_ptr<ClusterLimiter> ClusterLimiter::create(std::shared_ptr<ClusterChannel> channel,
                                                       const conf::RateLimitPolicyConfig& policy) {
  auto limiter = std::make_shared<ClusterLimiter>(channel, policy, policy.max_keys);
  limiter->id_ = channel->add(limiter);
  return limiter;
}

ClusterLimiter::ClusterLimiter(std::shared_ptr<ClusterChannel> channel,
                               const conf::RateLimitPolicyConfig& policy, std::uint64_t max_keys)
    : channel_(std::move(channel)),
      policy_(policy.name),
      per_ns_(nanoseconds(policy.per)),
      table_(max_keys) {
  const std::int64_t interval =
      per_ns_ / static_cast<std::int64_t>(std::max<std::uint64_t>(policy.rate, 1));
  interval_.store(interval, std::memory_order_relaxed);
  tolerance_.store(interval * static_cast<std::int64_t>(policy.burst), std::memory_order_relaxed);
}

ClusterLimiter::~ClusterLimiter() {
  if (id_ != 0) channel_->remove(id_);
}

std::uint64_t ClusterLimiter::block_for(const Gcra& gcra) const {
  return lease_block(channel_->lease_config(), gcra.interval, per_ns_);
}

std::uint64_t ClusterLimiter::block() const {
  return lease_block(channel_->lease_config(), interval_.load(std::memory_order_relaxed), per_ns_);
}

void ClusterLimiter::remember(const Gcra& gcra) {
  // Written only when an admin change moved them: a read per request, no shared write.
  if (interval_.load(std::memory_order_relaxed) != gcra.interval) {
    interval_.store(gcra.interval, std::memory_order_relaxed);
  }
  if (tolerance_.load(std::memory_order_relaxed) != gcra.burst_tolerance) {
    tolerance_.store(gcra.burst_tolerance, std::memory_order_relaxed);
  }
}

Decision ClusterLimiter::acquire(std::uint64_t key, std::int64_t now, const Gcra& gcra) {
  remember(gcra);
  const std::uint64_t block = block_for(gcra);
  bool created = false;
  const std::uint32_t slot =
      table_.find_or_claim(key, now, static_cast<std::int64_t>(block), &created);
  // Every entry of the key's set is being claimed this instant: let it through rather
  // than refuse on no evidence (a limiter never fails a request for its own reasons).
  if (slot == LeaseTable::kNone) return Decision{};
  LeaseEntry& entry = table_.at(slot);
  if (!created) field(entry.last_used).store(now, std::memory_order_relaxed);
  if (!channel_->shared()) return fallback(entry, now, gcra);

  std::int64_t left = 0;
  const bool taken = take_one(entry, &left);
  maybe_refill(slot, now, left, block);
  const std::int64_t full_at = field(entry.full_at).load(std::memory_order_relaxed);
  if (taken) {
    return Decision{Verdict::allow, 0, static_cast<std::uint64_t>(left), until(full_at, now)};
  }
  // Nothing leased: Redis said when a unit is next free, or a refill is on its way.
  const std::int64_t retry = until(field(entry.retry_at).load(std::memory_order_relaxed), now);
  const std::int64_t wait = retry > 0 ? retry : gcra.interval;
  return Decision{Verdict::refuse, wait, 0, std::max(wait, until(full_at, now))};
}

void ClusterLimiter::maybe_refill(std::uint32_t slot, std::int64_t now, std::int64_t left,
                                  std::uint64_t block) {
  LeaseEntry& entry = table_.at(slot);
  auto flags = field(entry.flags);
  const std::uint64_t seen = flags.load(std::memory_order_acquire);
  if (seen & kPending) return;
  // Ahead of need: when the lease falls below half a block (or backs a provisional one).
  if (!(seen & kProvisional) && left * 2 >= static_cast<std::int64_t>(block)) return;
  if (now < field(entry.retry_at).load(std::memory_order_relaxed)) return;
  const std::uint64_t before = flags.fetch_or(kPending, std::memory_order_acq_rel);
  if (before & kPending) return;  // another worker asked first
  const RefillRequest request{id_, slot, generation_of(before)};
  if (!channel_->post(request)) clear_flags(entry, generation_of(before), kPending);
}

Gcra ClusterLimiter::fallback_gcra(const Gcra& gcra) const {
  // rate / N and burst / N: T x N per request, and the tolerance of burst / N of those.
  const auto n = static_cast<std::int64_t>(channel_->instances());
  Gcra local;
  local.interval = gcra.interval * n;
  const std::int64_t burst = gcra.interval > 0 ? gcra.burst_tolerance / gcra.interval : 0;
  local.burst_tolerance = (burst / n) * local.interval;
  local.delay_tolerance = local.burst_tolerance;
  return local;
}

Decision ClusterLimiter::fallback(LeaseEntry& entry, std::int64_t now, const Gcra& gcra) {
  const Gcra local = fallback_gcra(gcra);
  auto tat_word = field(entry.fallback_tat);
  std::int64_t stored = tat_word.load(std::memory_order_relaxed);
  for (;;) {
    std::int64_t tat = stored;
    const Decision decision = gcra_step(tat, now, local);
    if (decision.verdict == Verdict::refuse) return decision;  // a refusal writes nothing
    if (tat_word.compare_exchange_weak(stored, tat, std::memory_order_acq_rel)) {
      fallback_allowed_.fetch_add(1, std::memory_order_relaxed);
      return decision;
    }
  }
}

KeyState ClusterLimiter::inspect(std::uint64_t key, std::int64_t now, const Gcra& gcra) const {
  const std::uint32_t slot = table_.find(key);
  if (slot == LeaseTable::kNone) return KeyState{};
  LeaseEntry& entry = table_.at(slot);
  KeyState state;
  state.known = true;
  if (!channel_->shared()) {
    std::int64_t tat = field(entry.fallback_tat).load();
    state.now = gcra_step(tat, now, fallback_gcra(gcra));  // on a copy: nothing charged
    return state;
  }
  const std::int64_t balance = field(entry.balance).load();
  const std::int64_t reset = until(field(entry.full_at).load(), now);
  if (balance > 0) {
    state.now = Decision{Verdict::allow, 0, static_cast<std::uint64_t>(balance - 1), reset};
  } else {
    const std::int64_t retry = until(field(entry.retry_at).load(), now);
    const std::int64_t wait = retry > 0 ? retry : gcra.interval;
    state.now = Decision{Verdict::refuse, wait, 0, std::max(wait, reset)};
  }
  return state;
}

LimiterStats ClusterLimiter::stats(std::int64_t) const {
  LimiterStats s;
  s.keys_in_use = table_.keys_in_use();
  s.capacity = table_.capacity();
  s.evictions = table_.evictions();
  s.table_bytes = table_.bytes();
  s.mode = channel_->shared() ? "shared" : "local fallback";
  s.instances = channel_->instances();
  s.fallback_rate_divisor = s.instances;
  s.lease_block = block();
  s.fallback_transitions = channel_->fallback_transitions();
  s.fallback_allowed = fallback_allowed_.load(std::memory_order_relaxed);
  s.overshoot_bound = s.lease_block * s.instances;
  return s;
}

std::optional<LeaseAsk> ClusterLimiter::lease_ask(const RefillRequest& request) {
  if (request.slot >= table_.capacity()) return std::nullopt;
  LeaseEntry& entry = table_.at(request.slot);
  const std::uint64_t flags = field(entry.flags).load(std::memory_order_acquire);
  if (generation_of(flags) != request.generation) return std::nullopt;  // slot reused
  const std::uint64_t key = field(entry.key).load(std::memory_order_acquire);
  if (key == 0 || key == kClaiming) {
    clear_flags(entry, request.generation, kPending);
    return std::nullopt;
  }
  LeaseAsk ask;
  ask.key = key;
  ask.interval = interval_.load(std::memory_order_relaxed);
  ask.tolerance = tolerance_.load(std::memory_order_relaxed);
  ask.generation = request.generation;
  const auto block = static_cast<std::int64_t>(this->block());
  if (flags & kProvisional) {
    ask.amount = static_cast<std::uint64_t>(block);
  } else {
    // Up to a full block: the balance never exceeds B once the grant is added.
    const std::int64_t balance = field(entry.balance).load(std::memory_order_relaxed);
    ask.amount = static_cast<std::uint64_t>(std::clamp<std::int64_t>(block - balance, 1, block));
  }
  return ask;
}

void ClusterLimiter::lease_granted(const RefillRequest& request, const LeaseAsk& ask,
                                   const LeaseGrant& grant, std::int64_t now) {
  LeaseEntry& entry = table_.at(request.slot);
  const std::uint64_t flags = field(entry.flags).load(std::memory_order_acquire);
  // The slot went to another key meanwhile: the units are lost (under, never over).
  if (generation_of(flags) != request.generation) return;
  const auto granted = static_cast<std::int64_t>(grant.granted);
  // A provisional block was lent ahead of this lease of `amount`: the grant replaces it.
  const std::int64_t change =
      (flags & kProvisional) ? granted - static_cast<std::int64_t>(ask.amount) : granted;
  field(entry.balance).fetch_add(change, std::memory_order_acq_rel);
  field(entry.retry_at)
      .store(grant.wait_ns > 0 ? now + grant.wait_ns : 0, std::memory_order_relaxed);
  field(entry.full_at).store(now + grant.reset_ns, std::memory_order_relaxed);
  clear_flags(entry, request.generation, kPending | kProvisional);
}

void ClusterLimiter::lease_failed(const RefillRequest& request) {
  if (request.slot >= table_.capacity()) return;
  clear_flags(table_.at(request.slot), request.generation, kPending);
}

void ClusterLimiter::clear_flags(LeaseEntry& entry, std::uint32_t generation, std::uint64_t bits) {
  auto flags = field(entry.flags);
  std::uint64_t seen = flags.load(std::memory_order_relaxed);
  while (generation_of(seen) == generation) {
    if (flags.compare_exchange_weak(seen, seen & ~bits, std::memory_order_acq_rel)) return;
  }
}

}  // namespace veer::limits
