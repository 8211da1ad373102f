#pragma once

// The health thread: active checks of every pool that has them, and the return of
// ejected backends when their time is up. Its own thread and io_context, so checks
// never run on (or wait for) a worker. Thread-safe entry points post to it.

#include <array>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "health/heads.hpp"
#include "health/outlier.hpp"
#include "health/probe.hpp"
#include "runtime/snapshot.hpp"

namespace veer::health {

class HealthChecker final : public EjectionListener {
 public:
  HealthChecker();
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  void start();
  void stop();
  // Checks the backends of `snapshot` (a reload): new ones start, removed ones stop,
  // kept ones keep their counters.
  void update(std::shared_ptr<const runtime::Snapshot> snapshot);
  void backend_ejected() override;

 private:
  void apply(std::shared_ptr<const runtime::Snapshot> snapshot);
  void check_backend(const runtime::PoolRuntime& pool, std::size_t index,
                     std::map<const core::BackendStats*, std::shared_ptr<Probe>>& kept);
  bool on_report(Probe& probe, CheckResult result);
  void track_head(Probe& probe, CheckResult& result);
  void schedule_returns();
  void end_due_ejections();

  asio::io_context io_{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  asio::steady_timer returns_{io_};
  std::thread thread_;
  std::shared_ptr<const runtime::Snapshot> snapshot_;
  std::map<const core::BackendStats*, std::shared_ptr<Probe>> probes_;
  // jsonrpc checks of eth_blockNumber: each pool's heads and chains (health/heads.hpp).
  std::map<std::string, PoolHeads, std::less<>> heads_;
  std::uint64_t seed_ = 0x68656c7468ULL;
  // Ciphertext in transit for every TLS check (one TLS record, 16 KiB + overhead: one
  // read takes a whole record). The probes share it: all run on the health thread.
  std::array<char, 16896> tls_scratch_{};
};

}  // namespace veer::health
