#include "runtime/metrics.hpp"

#include <cstring>

#include <algorithm>

#include "runtime/snapshot.hpp"

namespace veer::runtime {

void ExchangeSeries::time_response(std::chrono::nanoseconds elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  const auto bucket =
      std::lower_bound(kResponseSecondsBounds.begin(), kResponseSecondsBounds.end(), seconds);
  response_time[static_cast<std::size_t>(bucket - kResponseSecondsBounds.begin())].add();
  response_time_sum_ns.add(static_cast<std::uint64_t>(std::max<std::int64_t>(0, elapsed.count())));
}

std::shared_ptr<ExchangeSeries> WorkerMetrics::series(const SeriesKey& key) {
  std::lock_guard lock(mutex_);
  std::shared_ptr<ExchangeSeries>& found = series_[key];
  if (!found) found = std::make_shared<ExchangeSeries>();
  return found;
}

void SplitTargetSeries::count_answer(bool error, std::chrono::nanoseconds elapsed) {
  answered.add();
  if (error) errors.add();
  latency[latency_bucket(elapsed)].add();
}

void SplitTargetSeries::add_to(TargetEvidence& evidence) const {
  // Errors first: the worker counts the answer before its error, so a reader between the
  // two never sees more errors than answers (a state file with that would be refused).
  const std::uint64_t errors_so_far = errors.value();
  evidence.requests += answered.value();
  evidence.errors += errors_so_far;
  for (std::size_t i = 0; i < kLatencyBuckets; ++i)
    evidence.latency[i] += latency[i].value();
}

std::shared_ptr<SplitTargetSeries> WorkerMetrics::split_target(const SplitTargetKey& key) {
  std::lock_guard lock(mutex_);
  std::shared_ptr<SplitTargetSeries>& found = splits_[key];
  if (!found) found = std::make_shared<SplitTargetSeries>();
  return found;
}

void WorkerMetrics::add_split_assignments(std::map<SplitTargetKey, std::uint64_t>& totals) const {
  std::lock_guard lock(mutex_);
  for (const auto& [key, series] : splits_)
    totals[key] += series->assigned.value();
}

void WorkerMetrics::add_split_evidence(std::map<SplitTargetKey, TargetEvidence>& totals) const {
  std::lock_guard lock(mutex_);
  for (const auto& [key, series] : splits_)
    series->add_to(totals[key]);
}

std::shared_ptr<PolicyCounters> WorkerMetrics::policy(const std::string& name) {
  std::lock_guard lock(mutex_);
  std::shared_ptr<PolicyCounters>& found = policies_[name];
  if (!found) found = std::make_shared<PolicyCounters>();
  return found;
}

void WorkerMetrics::add_policy_counters(std::map<std::string, PolicyCounters>& totals) const {
  std::lock_guard lock(mutex_);
  for (const auto& [name, c] : policies_) {
    PolicyCounters& total = totals[name];
    total.allowed.add(c->allowed.value());
    total.limited.add(c->limited.value());
    total.delayed.add(c->delayed.value());
    total.dry_run_limited.add(c->dry_run_limited.value());
  }
}

void WorkerMetrics::forget_unused() {
  std::lock_guard lock(mutex_);
  const auto unused = [](const auto& entry) { return entry.second.use_count() == 1; };
  std::erase_if(series_, unused);
  std::erase_if(splits_, unused);
  std::erase_if(policies_, unused);
  jsonrpc.forget_unused();
}

std::string route_label(const std::string& host, const std::string& path_prefix) {
  std::string label = host.empty() ? "*" : host;
  label += path_prefix.empty() ? "/" : path_prefix;
  return label;
}

MetricsView::MetricsView(const Snapshot& snapshot, WorkerMetrics& metrics) {
  auto hold = [this, &metrics](SeriesKey key) {
    held_.push_back(metrics.series(key));
    return held_.back().get();
  };
  for (const ListenerRuntime& listener : snapshot.listeners) {
    ListenerSeries& out = listeners_.emplace_back();
    out.unrouted = hold({listener.name, "", "", ""});
    for (const RouteRuntime& route : listener.routes) {
      RouteSeries& series = out.routes.emplace_back();
      series.pools.resize(snapshot.pools.size());
      std::vector<std::uint32_t> reachable{route.pool};
      if (route.split != kNoSplit) reachable = snapshot.splits[route.split].pools;
      const std::string label = route_label(route.host, route.path_prefix);
      for (const std::uint32_t index : reachable) {
        const PoolRuntime& pool = snapshot.pools[index];
        for (const BackendRuntime& backend : pool.backends)
          series.pools[index].push_back(hold({listener.name, label, pool.name, backend.address}));
        series.pools[index].push_back(hold({listener.name, label, pool.name, ""}));
      }
    }
  }
  for (const SplitRuntime& split : snapshot.splits) {
    std::vector<SplitTargetSeries*>& targets = splits_.emplace_back();
    for (const std::uint32_t pool : split.pools) {
      held_splits_.push_back(metrics.split_target({split.name, snapshot.pools[pool].name}));
      targets.push_back(held_splits_.back().get());
    }
  }
  for (const PolicyRuntime& policy : snapshot.policies)
    policies_.push_back(metrics.policy(policy.name));
  for (const ListenerRuntime& listener : snapshot.listeners) {
    auto& routes = jsonrpc_.emplace_back();
    for (const RouteRuntime& route : listener.routes)
      routes.push_back(route.jsonrpc
                           ? metrics.jsonrpc.series(route_label(route.host, route.path_prefix))
                           : nullptr);
  }
}

void TlsCounters::count_cipher(const char* name) {
  for (std::size_t i = 0; i + 1 < kCipherSlots; ++i) {
    const char* slot = cipher_names[i].load(std::memory_order_relaxed);
    if (slot == nullptr) {
      cipher_names[i].store(name, std::memory_order_release);
      ciphers[i].add();
      return;
    }
    if (slot == name || std::strcmp(slot, name) == 0) {
      ciphers[i].add();
      return;
    }
  }
  cipher_names[kCipherSlots - 1].store("other", std::memory_order_release);
  ciphers[kCipherSlots - 1].add();
}

}  // namespace veer::runtime
