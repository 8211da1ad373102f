#include "proxy/worker_view.hpp"

#include "health/routing_epoch.hpp"
#include "proxy/http_parser.hpp"

namespace veer::proxy {
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

}  // namespace

void WorkerView::init(std::uint64_t seed, const WorkerView* previous) {
  pools_.resize(snapshot_->pools.size());
  for (std::size_t i = 0; i < pools_.size(); ++i) {
    PoolState& state = pools_[i];
    state.pool = &snapshot_->pools[i];
    state.views = backend_views(*state.pool);
    // The same pool with the same strategy before: its per-worker state carries over.
    const strategies::Strategy* before = nullptr;
    if (previous != nullptr) {
      for (const PoolState& old : previous->pools_) {
        if (old.pool->name == state.pool->name && old.pool->strategy == state.pool->strategy) {
          before = old.strategy.get();
        }
      }
    }
    // Different seeds per pool too, so pools of one worker do not move in lockstep.
    state.strategy = state.pool->strategy->make(strategies::StrategyInputs{
        state.views, seed + i * 7919, before, state.pool->prepared.get()});
  }
}

const RouteRuntime* WorkerView::route(const ListenerRuntime& listener, std::string_view authority,
                                      std::string_view path) {
  const std::string_view host = host_of(authority);
  for (const RouteRuntime& route : listener.routes) {
    if (!route.host.empty() && !iequals(route.host, host)) continue;
    if (path.substr(0, route.path_prefix.size()) != route.path_prefix) continue;
    return &route;
  }
  return nullptr;
}

void WorkerView::refresh_candidates(PoolState& state, std::uint64_t epoch) {
  const std::size_t n = state.pool->backends.size();
  state.primaries.clear();
  state.backups.clear();
  state.primary_bits.assign((n + 63) / 64, 0);
  state.backup_bits.assign((n + 63) / 64, 0);
  for (std::uint32_t i = 0; i < n; ++i) {
    const BackendRuntime& backend = state.pool->backends[i];
    if (backend.weight == 0 || !backend.stats->routable()) continue;
    if (backend.backup) {
      state.backups.push_back(i);
      set_bit(state.backup_bits, i);
    } else {
      state.primaries.push_back(i);
      set_bit(state.primary_bits, i);
    }
  }
  state.epoch = epoch;
}

std::optional<std::uint32_t> WorkerView::pick(std::uint32_t pool,
                                              const strategies::PickContext& context) {
  PoolState& state = pools_[pool];
  const std::uint64_t epoch = health::routing_epoch.load(std::memory_order_acquire);
  if (state.epoch != epoch) refresh_candidates(state, epoch);
  if (!state.primaries.empty()) {
    return state.strategy->pick(context,
                                strategies::Candidates(state.primaries, state.primary_bits));
  }
  if (!state.backups.empty()) {
    return state.strategy->pick(context, strategies::Candidates(state.backups, state.backup_bits));
  }
  return std::nullopt;
}

}  // namespace veer::proxy
