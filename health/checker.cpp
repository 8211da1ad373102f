#include "health/checker.hpp"

#include <pthread.h>

#include <algorithm>

#include "core/log.hpp"
#include "health/rise_fall.hpp"

namespace veer::health {
namespace {

using Clock = core::BackendStats::Clock;

bool same_check(const ProbeTarget& a, const runtime::PoolRuntime& pool,
                const runtime::BackendRuntime& b) {
  return a.endpoint == b.endpoint && a.config == *pool.config->health;
}

}  // namespace

HealthChecker::HealthChecker() : guard_(asio::make_work_guard(io_)) {}

HealthChecker::~HealthChecker() {
  stop();
}

void HealthChecker::start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "veer-health");
    try {
      io_.run();
    } catch (const std::exception& e) {
      core::log::error("health checks stopped: ", e.what());
    }
  });
}

void HealthChecker::stop() {
  if (!thread_.joinable()) return;
  asio::post(io_, [this] {
    for (auto& [stats, probe] : probes_)
      probe->stop();
    probes_.clear();
    returns_.cancel();
    guard_.reset();  // run() returns once the stopped probes' last handlers ran
  });
  thread_.join();
}

void HealthChecker::update(std::shared_ptr<const runtime::Snapshot> snapshot) {
  asio::post(io_, [this, snapshot = std::move(snapshot)]() mutable { apply(std::move(snapshot)); });
}

void HealthChecker::backend_ejected() {
  asio::post(io_, [this] { schedule_returns(); });
}

void HealthChecker::apply(std::shared_ptr<const runtime::Snapshot> snapshot) {
  std::map<const core::BackendStats*, std::shared_ptr<Probe>> kept;
  for (const runtime::PoolRuntime& pool : snapshot->pools) {
    std::uint32_t ejected = 0;
    for (std::size_t i = 0; i < pool.backends.size(); ++i) {
      const runtime::BackendRuntime& backend = pool.backends[i];
      ejected += backend.stats->has(core::Reason::ejected) ? 1 : 0;
      if (!pool.config->health) {
        // Checks removed by this reload: what they said no longer holds.
        change_reason(*backend.stats, core::Reason::down, false, {pool.name, backend.address},
                      "health checks removed from the configuration");
        continue;
      }
      check_backend(pool, i, kept);
    }
    // Reloads add and remove backends: recount the pool's ejections from its members.
    pool.stats->ejected.store(ejected, std::memory_order_relaxed);
  }
  for (auto& [stats, probe] : probes_) {  // backends no longer checked
    probe->stop();
    for (auto& [pool, heads] : heads_)
      heads.forget(stats);
  }
  probes_ = std::move(kept);
  snapshot_ = std::move(snapshot);
  schedule_returns();
}

// Keeps the backend's probe when its check is unchanged (with the pool's TLS material
// of this snapshot: certificates may have been reloaded), else starts a new one.
void HealthChecker::check_backend(
    const runtime::PoolRuntime& pool, std::size_t index,
    std::map<const core::BackendStats*, std::shared_ptr<Probe>>& kept) {
  const runtime::BackendRuntime& backend = pool.backends[index];
  // Backends are in the configured order: the host names the backend for TLS (SNI and
  // verification), as for requests (proxy/session_upstream.cpp).
  std::string host = pool.tls ? pool.config->backends[index].host_port.host : std::string();
  const auto it = probes_.find(backend.stats.get());
  if (it != probes_.end() && same_check(it->second->target(), pool, backend)) {
    it->second->set_tls(pool.tls, std::move(host));
    kept.emplace(it->first, it->second);
    probes_.erase(it);
    return;
  }
  auto probe = std::make_shared<Probe>(
      io_,
      ProbeTarget{pool.name, backend.address, backend.endpoint, backend.stats, pool.stats,
                  *pool.config->health, pool.tls, std::move(host)},
      [this](Probe& p, CheckResult r) { return on_report(p, std::move(r)); }, ++seed_,
      tls_scratch_);
  probe->start();
  kept.emplace(backend.stats.get(), std::move(probe));
}

// Head tracking: the head is shown (GET /api/v1/pools, metrics) whenever the answer
// had one; the pool judges chain, lag and stall (health/heads.hpp).
void HealthChecker::track_head(Probe& probe, CheckResult& result) {
  const ProbeTarget& target = probe.target();
  if (target.config.type != conf::HealthConfig::Type::jsonrpc) return;
  PoolHeads& heads = heads_[target.pool];
  heads.judge(target.stats.get(), target.config, result, probe.head_watch, Clock::now());
  if (result.block) target.stats->head_block.store(*result.block, std::memory_order_relaxed);
  target.pool_stats->head_block.store(heads.highest(target.config), std::memory_order_relaxed);
  if (result.chain_id) probe.ask_chain_id = false;
  if (!result.ok) probe.ask_chain_id = true;  // a node that failed may come back changed
}

bool HealthChecker::on_report(Probe& probe, CheckResult result) {
  track_head(probe, result);
  const ProbeTarget& target = probe.target();
  if (!result.ok) {
    core::log::debug("health check of ", target.address, " (pool ", target.pool,
                     ") failed: ", result.cause);
  }
  return record_check(result, target.config, probe.streak, *target.stats, *target.pool_stats,
                      {target.pool, target.address}, Clock::now());
}

void HealthChecker::schedule_returns() {
  if (!snapshot_) return;
  Clock::rep earliest = std::numeric_limits<Clock::rep>::max();
  for (const runtime::PoolRuntime& pool : snapshot_->pools) {
    if (pool.config->health) continue;  // checks bring these back
    for (const runtime::BackendRuntime& backend : pool.backends) {
      if (backend.stats->has(core::Reason::ejected)) {
        earliest = std::min(earliest, backend.stats->ejected_until.load(std::memory_order_relaxed));
      }
    }
  }
  if (earliest == std::numeric_limits<Clock::rep>::max()) return;
  returns_.expires_at(Clock::time_point(Clock::duration(earliest)));
  returns_.async_wait([this](const error_code& ec) {
    if (!ec) end_due_ejections();
  });
}

void HealthChecker::end_due_ejections() {
  const Clock::rep now = Clock::now().time_since_epoch().count();
  for (const runtime::PoolRuntime& pool : snapshot_->pools) {
    if (pool.config->health) continue;
    for (const runtime::BackendRuntime& backend : pool.backends) {
      if (backend.stats->has(core::Reason::ejected) &&
          now >= backend.stats->ejected_until.load(std::memory_order_relaxed)) {
        end_ejection(*backend.stats, *pool.stats, {pool.name, backend.address}, "ejection over");
      }
    }
  }
  schedule_returns();
}

}  // namespace veer::health
