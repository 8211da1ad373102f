#include "runtime/worker_view.hpp"

#include <algorithm>
#include <chrono>
#include <initializer_list>

#include "core/log.hpp"
#include "core/routing_epoch.hpp"
#include "http/http_parser.hpp"

namespace veer::runtime {
namespace {

// The host part of an authority, without the port ("[::1]:80" -> "[::1]").
std::string_view host_of(std::string_view authority) {
  if (!authority.empty() && authority.front() == '[') {
    return authority.substr(0, authority.find(']') + 1);
  }
  return authority.substr(0, authority.find(':'));
}

void set_bit(std::vector<std::uint64_t>& bits, std::uint32_t index) {
  bits[index / 64] |= std::uint64_t{1} << (index % 64);
}

constexpr auto kReasonMask = [](std::initializer_list<core::Reason> reasons) {
  std::uint32_t mask = 0;
  for (core::Reason r : reasons)
    mask |= static_cast<std::uint32_t>(r);
  return mask;
};
// Reasons that keep a backend out even in panic: its checks fail, or it is leaving.
constexpr std::uint32_t kAlwaysOut =
    kReasonMask({core::Reason::down, core::Reason::draining, core::Reason::disabled});

// A cold backend gets at least this share of its traffic during slow start, so that
// its latency and error figures start to exist at once.
constexpr double kSlowStartFloor = 0.05;

}  // namespace

void WorkerView::init(std::uint64_t seed, std::uint32_t workers, const WorkerView* previous) {
  split_random_ = core::Random(seed ^ 0x5b117u);
  pools_.resize(snapshot_->pools.size());
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    PoolState& state = pools_[i];
    state.pool = &snapshot_->pools[i];
    state.views = backend_views(*state.pool);
    // The same pool before: its retry budget, and with the same strategy its
    // per-worker strategy state, carry over.
    const strategies::Strategy* before = nullptr;
    if (previous != nullptr) {
      for (const PoolState& old : previous->pools_) {
        if (old.pool->name != state.pool->name) continue;
        state.retry_budget = old.retry_budget;
        if (old.pool->strategy == state.pool->strategy) before = old.strategy.get();
      }
    }
    // Different seeds per pool too, so pools of one worker do not move in lockstep.
    const std::uint64_t pool_seed = seed + i * 7919;
    state.strategy = state.pool->strategy->make(
        strategies::StrategyInputs{state.views, pool_seed, before, state.pool->prepared});
    state.random = core::Random(pool_seed ^ 0x5107u);
    const conf::RetryConfig& retries = state.pool->config->retries;
    const std::uint64_t reserve =
        (std::uint64_t{retries.budget_min} * RetryBudget::kWindowSeconds + workers - 1) /
        std::max(1u, workers);
    state.retry_budget.configure(retries.budget_percent, reserve);
    state.filtered.reserve(state.pool->backends.size());
  }
}

const RouteRuntime* WorkerView::route(const ListenerRuntime& listener, std::string_view authority,
                                      std::string_view path) {
  const std::string_view host = host_of(authority);
  for (const RouteRuntime& route : listener.routes) {
    if (!route.host.empty() && !http::iequals(route.host, host)) continue;
    if (path.substr(0, route.path_prefix.size()) != route.path_prefix) continue;
    return &route;
  }
  return nullptr;
}

// Runs when the routing epoch moved (a state changed somewhere), not per request.
void WorkerView::refresh_candidates(PoolState& state, std::uint64_t epoch) {
  const PoolRuntime& pool = *state.pool;
  const std::size_t n = pool.backends.size();
  state.primaries.clear();
  state.backups.clear();
  state.primary_bits.assign((n + 63) / 64, 0);
  state.backup_bits.assign((n + 63) / 64, 0);
  state.filtered_bits.assign((n + 63) / 64, 0);
  std::uint32_t eligible_primaries = 0;  // not down, draining, disabled or weight 0
  for (std::uint32_t i = 0; i < n; ++i) {
    const BackendRuntime& backend = pool.backends[i];
    const std::uint32_t reasons = backend.stats->reasons.load(std::memory_order_relaxed);
    if (backend.weight == 0 || (reasons & kAlwaysOut) != 0) continue;
    if (!backend.backup) ++eligible_primaries;
    if (reasons != 0) continue;
    if (backend.backup) {
      state.backups.push_back(i);
      set_bit(state.backup_bits, i);
    } else {
      state.primaries.push_back(i);
      set_bit(state.primary_bits, i);
    }
  }
  // Panic (Envoy's panic threshold): when ejections leave too few primaries, spread
  // the load over the ejected ones too rather than crush the rest or fail everything.
  // Backups come first when no primary is routable; active checks stay authoritative.
  const std::uint32_t routable = static_cast<std::uint32_t>(state.primaries.size());
  const std::uint64_t threshold = pool.config->panic_threshold;
  const bool panic = routable * std::uint64_t{100} < threshold * eligible_primaries &&
                     (routable > 0 || state.backups.empty());
  if (panic) {
    for (std::uint32_t i = 0; i < n; ++i) {
      const BackendRuntime& backend = pool.backends[i];
      if (backend.backup || backend.weight == 0 || backend.stats->routable() ||
          (backend.stats->reasons.load(std::memory_order_relaxed) & kAlwaysOut) != 0) {
        continue;
      }
      state.primaries.push_back(i);
      set_bit(state.primary_bits, i);
    }
    std::sort(state.primaries.begin(), state.primaries.end());
  }
  // The pool-wide flag makes the log line appear once, not once per worker.
  if (pool.stats->panic.load(std::memory_order_relaxed) != panic &&
      pool.stats->panic.exchange(panic) != panic) {
    if (panic) {
      core::log::warn("pool ", pool.name, ": panic: only ", routable, " of ", eligible_primaries,
                      " backends routable (panic_threshold ", threshold,
                      "%); routing across ejected backends too");
    } else {
      core::log::info("pool ", pool.name, ": panic over, ", routable, " of ", eligible_primaries,
                      " backends routable");
    }
  }
  state.panic = panic;
  state.routable = routable;
  state.epoch = epoch;
}

strategies::Candidates WorkerView::filter(PoolState& state, const strategies::Candidates& from,
                                          std::uint64_t excluded) {
  state.filtered.clear();
  std::fill(state.filtered_bits.begin(), state.filtered_bits.end(), 0);
  for (const std::uint32_t index : from.indices()) {
    if ((excluded & exclusion_bit(index)) != 0) continue;
    state.filtered.push_back(index);
    set_bit(state.filtered_bits, index);
  }
  return strategies::Candidates(state.filtered, state.filtered_bits);
}

// Slow start: a backend routable again for less than slow_start takes a share of its
// traffic that grows linearly with the time since (Envoy's and HAProxy's slowstart).
bool WorkerView::admit_cold(PoolState& state, std::uint32_t backend) {
  const auto since =
      state.pool->backends[backend].stats->routable_since.load(std::memory_order_relaxed);
  if (since == 0) return true;  // routable since veer started
  using Clock = core::BackendStats::Clock;
  const auto ramp = std::chrono::duration_cast<Clock::duration>(state.pool->config->slow_start);
  const auto elapsed = Clock::now().time_since_epoch() - Clock::duration(since);
  if (elapsed >= ramp) return true;
  const double share = std::max(
      kSlowStartFloor, static_cast<double>(elapsed.count()) / static_cast<double>(ramp.count()));
  return static_cast<double>(state.random.next() >> 11) * 0x1.0p-53 < share;
}

std::optional<std::uint32_t> WorkerView::pick(std::uint32_t pool,
                                              const strategies::PickContext& context,
                                              std::uint64_t excluded, bool panic_ok) {
  PoolState& state = pools_[pool];
  const std::uint64_t epoch = core::routing_epoch.load(std::memory_order_acquire);
  if (state.epoch != epoch) refresh_candidates(state, epoch);
  if (!panic_ok && state.panic && state.routable == 0) return std::nullopt;
  strategies::Candidates candidates =
      !state.primaries.empty() ? strategies::Candidates(state.primaries, state.primary_bits)
                               : strategies::Candidates(state.backups, state.backup_bits);
  if (candidates.empty()) return std::nullopt;
  const strategies::Candidates all = candidates;
  if (excluded != 0) {
    candidates = filter(state, all, excluded);
    if (candidates.empty()) return std::nullopt;
  }
  const std::uint32_t choice = state.strategy->pick(context, candidates);
  if (state.pool->config->slow_start.count() == 0 || candidates.size() == 1 ||
      admit_cold(state, choice)) {
    return choice;
  }
  // Turned away while warming up: the request goes to one of the others.
  const strategies::Candidates others = filter(state, all, excluded | exclusion_bit(choice));
  return others.empty() ? choice : state.strategy->pick(context, others);
}

}  // namespace veer::runtime
