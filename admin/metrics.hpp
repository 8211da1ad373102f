#pragma once

// GET /metrics: a prometheus-cpp Collectable that reads veer's live numbers at scrape
// time (the workers' series, the shared backend stats, the server's counters) and
// nothing else. Workers never wait for it: it reads relaxed atomics and takes only
// each worker's series-map mutex, which the worker itself takes only when it adopts
// a snapshot.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include "admin/views.hpp"
#include "runtime/metrics.hpp"
#include "runtime/rollout.hpp"
#include "runtime/snapshot.hpp"

namespace veer::admin {

// Counted by the server on its control thread.
struct ConfigCounters {
  std::uint64_t reloads_succeeded = 0;  // SIGHUP and POST /api/v1/config/reload
  std::uint64_t reloads_failed = 0;
  bool last_reload_ok = true;
  std::uint64_t changes_succeeded = 0;  // admin API changes
  std::uint64_t changes_failed = 0;
};

struct MetricsSources {
  std::shared_ptr<const runtime::Snapshot> snapshot;
  std::vector<const runtime::WorkerMetrics*> workers;
  std::uint64_t client_connections = 0;
  ConfigCounters config;
  std::string version;  // veer's
  std::string engine;   // epoll or io_uring
  std::vector<runtime::RolloutRecord> rollouts;
};

class MetricsCollector final : public prometheus::Collectable {
 public:
  explicit MetricsCollector(MetricsSources sources) : sources_(std::move(sources)) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  MetricsSources sources_;
};

// veer_tls_certificate_expiry_seconds{listener,subject,file}: each certificate's notAfter
// as Unix time. The collector passes the snapshot's certificates; tests pass their own.
prometheus::MetricFamily certificate_expiry_family(const std::vector<ListenerCertificates>& all);

// veer_rollout_*: each rollout's step, weight, state, this step's evidence, the guards'
// bounds and the decisions in its history (admin/metrics_rollouts.cpp).
std::vector<prometheus::MetricFamily> rollout_families(
    const std::vector<runtime::RolloutRecord>& rollouts);

// The text exposition format (version 0.0.4) of whatever `collectable` collects.
std::string prometheus_text(const prometheus::Collectable& collectable);

}  // namespace veer::admin
